"""Generate audio from a trained SampleRNN checkpoint.

    python generate.py --output_path out.wav --checkpoint_path logdir/ID/RUN/model.ckpt-100

One sequence is written to --output_path; with --num_seqs N > 1, sequence i
(1-based) goes to <output_path stem>_<i>_t<temperature>.wav. See README.md.
"""

import argparse

from samplernn.cli import positive_float, positive_int, quiet_tensorflow, run, setup_logging


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output_path", required=True, help="Path of the generated .wav file")
    p.add_argument("--checkpoint_path", required=True,
                   help="A checkpoint (.../model.ckpt-N), a run directory or an id directory")
    p.add_argument("--config_file", default=None,
                   help="Model config; by default the one saved beside the checkpoint")
    p.add_argument("--dur", type=positive_float, default=3, help="Seconds to generate")
    p.add_argument("--num_seqs", type=positive_int, default=1,
                   help="Sequences to generate (in parallel, as one batch)")
    p.add_argument("--sample_rate", type=positive_int, default=None,
                   help="Rate written in the file (default: the rate the model was trained at)")
    p.add_argument("--temperature", type=positive_float, nargs="+", default=[0.75],
                   help="One per sequence; too few repeat the last, too many are dropped")
    p.add_argument("--seed", default=None, help="Audio file whose sound generation continues")
    p.add_argument("--seed_offset", type=int, default=0, help="Start of the seed, in samples")
    p.add_argument("--include_seed", action="store_true",
                   help="Start each output file with the seed audio")
    p.add_argument("--random_seed", type=int, default=0,
                   help="Same seed, same checkpoint, same flags: same audio")
    p.add_argument("--plot", action="store_true",
                   help="Also write <name>.png: waveform and spectrogram of each file")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    quiet_tensorflow()
    from samplernn import checkpoints, generation

    log = generation.log
    model, config, prefix = checkpoints.load_model(args.checkpoint_path, args.config_file)
    log.info("Loaded %s (%d-tier %s, dim %d, trained at %d Hz)", prefix, config.num_tiers,
             config.rnn_type.upper(), config.dim, config.sample_rate)
    sample_rate = args.sample_rate or config.sample_rate
    if sample_rate != config.sample_rate:
        log.info("warning: writing at %d Hz a model trained at %d Hz: pitch and speed change "
                 "by a factor of %.3g; omit --sample_rate to keep them", sample_rate,
                 config.sample_rate, sample_rate / config.sample_rate)
    seed = generation.load_seed(args.seed, config, args.seed_offset) if args.seed else None
    temperatures = generation.expand_temperatures(args.temperature, args.num_seqs)
    paths = generation.sequence_paths(args.output_path, temperatures)
    sampler = generation.Sampler(model)
    generation.write_generated(sampler, paths, args.dur, temperatures, sample_rate,
                               args.random_seed, seed, args.include_seed)
    for path, temperature in zip(paths, temperatures):
        log.info("Wrote %s (temperature %g)", path, temperature)
    if args.plot:
        for png in generation.plot_generated(paths, config.sample_rate):
            log.info("Wrote %s", png)
    return 0


if __name__ == "__main__":
    run(main)

"""Generate audio from a trained SampleRNN checkpoint.

    python generate.py --output_path out.wav --checkpoint_path logdir/ID/RUN/model.ckpt-100

One sequence is written to --output_path; with --num_seqs N > 1, sequence i
(1-based) goes to <output_path stem>_<i>_t<temperature>.wav. --output_path -
streams WAV to standard output (pipe it into ffplay, aplay, sox...), --play
plays it, and --dur 0 (or inf) generates until Ctrl-C. See README.md.
"""

import argparse
import os
import sys

from samplernn import cli, defaults, precision
from samplernn.cli import (add_truncation_flags, boolean, positive_float, positive_int,
                           quiet_tensorflow, run, setup_logging, silence_stdout)


def duration(text: str):
    """Seconds to generate; ``0`` or ``inf`` mean until stopped (returned as None)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds (0 or inf: until stopped), got {text!r}") from None
    if value == 0 or value == float("inf"):
        return None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, 0 or inf, got {text!r}")
    return value


def build_parser():
    p = cli.parser(__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output_path", default=None,
                   help="The .wav file to write, or - for a WAV stream on standard output "
                        "(required unless --play)")
    p.add_argument("--checkpoint_path", required=True,
                   help="A checkpoint (.../model.ckpt-N), a run directory or an id directory")
    p.add_argument("--config_file", default=None,
                   help="Model config; by default the one saved beside the checkpoint")
    p.add_argument("--dur", type=duration, default=3.0,
                   help="Seconds to generate; 0 or inf: until Ctrl-C")
    p.add_argument("--num_seqs", type=positive_int, default=1,
                   help="Sequences to generate (in parallel, as one batch)")
    p.add_argument("--sample_rate", type=positive_int, default=None,
                   help="Rate written in the file (default: the rate the model was trained at)")
    p.add_argument("--temperature", type=positive_float, nargs="+", default=None,
                   help="One per sequence; too few repeat the last, too many are dropped "
                        "(default: the temperature the checkpoint's run trained with, "
                        f"recorded in its temperature.json; else {defaults.TEMPERATURE})")
    add_truncation_flags(p, "the generated audio")
    p.add_argument("--prime", type=boolean, default=True,
                   help="Start each sequence from a 1-s excerpt of the run's training audio "
                        "(recorded beside its checkpoints; not written to the output); False: "
                        "start from silence. --seed replaces it")
    p.add_argument("--seed", default=None, help="Audio file whose sound generation continues")
    p.add_argument("--seed_offset", type=int, default=0, help="Start of the seed, in samples")
    p.add_argument("--include_seed", action="store_true",
                   help="Start each output file with the seed audio")
    p.add_argument("--random_seed", type=int, default=0,
                   help="Same seed, same checkpoint, same flags: same audio")
    p.add_argument("--precision", choices=precision.GENERATION_PRECISIONS,
                   default=precision.GENERATION_PRECISION,
                   help="Of the sampler's weights: bfloat16 halves the bytes read per step "
                        "and sums in float32 (see README)")
    p.add_argument("--plot", action="store_true",
                   help="Also write <name>.png: waveform and spectrogram of each file")
    p.add_argument("--play", action="store_true",
                   help="Play the audio as it is generated (needs the sounddevice package); "
                        "with several sequences, the first is played")
    return p


def parse_args(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if args.output_path is None and not args.play:
        p.error("give --output_path (a .wav file, or - for standard output), or --play")
    return args


def main(argv=None):
    args = parse_args(argv)
    streaming = args.output_path == "-"
    setup_logging(stream=sys.stderr if streaming else sys.stdout)  # stdout carries the audio
    from samplernn import generation_files, run_record, runs
    from samplernn.errors import UserError

    # Everything that needs no model is checked before TensorFlow loads.
    if args.output_path is not None:
        generation_files.check_output_path(args.output_path)
    if streaming and args.num_seqs > 1:
        raise UserError("--output_path - streams one sequence; use --num_seqs 1, or write "
                        "files with --output_path out.wav")
    if args.play:
        from samplernn.playback import import_sounddevice

        import_sounddevice()  # a missing package is an error before the model loads
    writes_files = args.output_path is not None and not streaming
    opened = runs.open_checkpoint(
        args.checkpoint_path, args.config_file,
        sweep_dir=os.path.dirname(os.path.abspath(args.output_path)) if writes_files else None)
    prefix, config = opened.prefix, opened.config
    seed = (generation_files.load_seed(args.seed, config, args.seed_offset)
            if args.seed else None)
    if seed is None and args.prime:
        from samplernn.run_record import recorded_prime

        seed = recorded_prime(prefix, config)
    temperatures = generation_files.expand_temperatures(
        args.temperature or run_record.recorded_temperatures(prefix), args.num_seqs)
    truncation = run_record.recorded_truncation(prefix)
    top_p = truncation["top_p"] if args.top_p is None else args.top_p
    min_p = truncation["min_p"] if args.min_p is None else args.min_p

    quiet_tensorflow()
    from samplernn import checkpoints, devices, generation
    from samplernn.interrupts import InterruptFlag
    from samplernn.progress import GenerationProgress
    from samplernn.sampler import Sampler

    log = generation.log
    log.info(devices.start_line(devices.find_devices(), devices.describe_strategy(),
                                args.precision))
    model = checkpoints.load_model(prefix, config)
    log.info("Loaded %s (%d-tier %s, dim %d, trained at %d Hz)", prefix, config.num_tiers,
             config.rnn_type.upper(), config.dim, config.sample_rate)
    sample_rate = args.sample_rate or config.sample_rate
    if sample_rate != config.sample_rate:
        log.info("warning: writing at %d Hz a model trained at %d Hz: pitch and speed change "
                 "by a factor of %.3g; omit --sample_rate to keep them", sample_rate,
                 config.sample_rate, sample_rate / config.sample_rate)

    sampler = Sampler(model, precision=args.precision)
    play = None
    # From here on Ctrl-C (or SIGTERM) finishes the files with what has been generated.
    with InterruptFlag("Interrupted: finishing the audio generated so far") as interrupt:
        # Where each sequence goes: files, standard output, the sound card.
        paths = []
        if streaming:
            from samplernn.audio import WavPipeWriter

            sinks = [WavPipeWriter(sys.stdout.buffer, sample_rate)]
        elif args.output_path is not None:
            paths = generation_files.sequence_paths(args.output_path, temperatures)
            sinks = generation.wav_file_sinks(paths, sample_rate)
        else:
            sinks = [None] * args.num_seqs
        if args.play:
            from samplernn.playback import PlaybackSink

            play = PlaybackSink(sample_rate)
            sinks[0] = generation.TeeSink(sinks[0], play) if sinks[0] is not None else play
        progress = GenerationProgress(args.dur, extra=play.status if play else None)
        result = generation.write_generated(sampler, sinks, args.dur, temperatures,
                                            args.random_seed, seed,
                                            args.include_seed and args.seed is not None,
                                            progress, interrupt, top_p=top_p, min_p=min_p)
    if not result.written:
        log.info("Interrupted before any audio was generated: no file written")
        paths = []
    for path, temperature in zip(paths, temperatures):
        log.info("Wrote %s (temperature %g, %.2f s)", path, temperature, result.seconds)
    if args.plot:
        for png in generation.plot_generated(paths, config.sample_rate):
            log.info("Wrote %s", png)
    if result.listener_gone:
        log.info("The reader of standard output closed it: stopped after %.2f s",
                 result.seconds)
        silence_stdout()
    return interrupt.exit_status if result.interrupted else 0


if __name__ == "__main__":
    run(main)

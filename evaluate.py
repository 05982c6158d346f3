"""Negative log-likelihood of a directory of audio under a trained model, in bits per sample.

    python evaluate.py --checkpoint_path logdir/ID --data_dir ./test_audio

Each file is scored as one sequence with the training's state handling (reset at
its start, carried across windows). See README.md.
"""

import argparse
import json
import sys

from samplernn import cli, precision
from samplernn.cli import positive_float, positive_int, quiet_tensorflow, run, setup_logging


def build_parser():
    p = cli.parser(__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint_path", required=True,
                   help="A checkpoint (.../model.ckpt-N), a run directory or an id directory")
    p.add_argument("--data_dir", required=True, help="Directory of audio files to score")
    p.add_argument("--config_file", default=None,
                   help="Model config; by default the one saved beside the checkpoint")
    p.add_argument("--batch_size", type=positive_int, default=8, help="Files scored at once")
    p.add_argument("--max_seconds", type=positive_float, default=None,
                   help="Score only the first N seconds of each file")
    p.add_argument("--precision", choices=precision.GENERATION_PRECISIONS, default=None,
                   help="Score with generate.py's sampler at this weight precision (teacher-"
                        "forced, slower) instead of the training computation")
    p.add_argument("--json", action="store_true", help="Print the result as JSON")
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    from samplernn import data, runs

    # Everything that needs no model is checked before TensorFlow loads.
    opened = runs.open_checkpoint(args.checkpoint_path, args.config_file)
    prefix, config = opened.prefix, opened.config
    paths = data.find_audio_files(args.data_dir)
    quiet_tensorflow()
    from samplernn import checkpoints, devices, evaluation

    checkpoints.check_readable(prefix)   # a damaged checkpoint: one line before decoding
    files = data.load_quantized_files(paths, config)

    cudnn = devices.use_cudnn() if args.precision is None else None   # the sampler: no RNN layers
    print(devices.start_line(devices.find_devices(), devices.describe_strategy(),
                             args.precision or "float32", cudnn),
          file=sys.stderr if args.json else sys.stdout)
    model = checkpoints.load_model(prefix, config, use_cudnn=bool(cudnn))
    max_samples = int(args.max_seconds * config.sample_rate) if args.max_seconds else None
    scorer = None
    if args.precision is not None:
        from samplernn.sampler import Sampler

        scorer = evaluation.SamplerScorer(Sampler(model, precision=args.precision))
    result = evaluation.evaluate_files(model, files, args.batch_size, max_samples, scorer)
    if not result.files:
        from samplernn.errors import UserError

        raise UserError(f"no file in {args.data_dir} is long enough to score")
    if args.json:
        print(json.dumps({"checkpoint": prefix, "precision": args.precision,
                          **result.to_dict()}, indent=2))
    else:
        print(f"NLL: {result.bits_per_sample:.4f} bits per sample over {result.samples:,} "
              f"samples in {len(result.files)} file(s) ({prefix})")
    return 0


if __name__ == "__main__":
    run(main)

"""Export a trained model's sampler as a TensorFlow SavedModel.

    python export.py --checkpoint_path logdir/ID --output_dir exported/ID

The SavedModel runs with TensorFlow alone (no need for this project): its
signatures reset(batch_size, seed), generate(num_samples, temperature) and
prime(audio) are described in README.md ("Exporting a model").
"""

import argparse
import os

from samplernn import cli
from samplernn.cli import quiet_tensorflow, run, setup_logging


def build_parser():
    p = cli.parser(__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint_path", required=True,
                   help="A checkpoint (.../model.ckpt-N), a run directory or an id directory")
    p.add_argument("--output_dir", required=True,
                   help="Where the SavedModel goes (a new or empty directory)")
    p.add_argument("--config_file", default=None,
                   help="Model config; by default the one saved beside the checkpoint")
    return p


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    from samplernn import runs
    from samplernn.fileio import check_new_directory

    # Everything that needs no model is checked before TensorFlow loads.
    check_new_directory(args.output_dir, "--output_dir")
    opened = runs.open_checkpoint(args.checkpoint_path, args.config_file,
                                  sweep_dir=os.path.dirname(os.path.abspath(args.output_dir)))
    prefix, config = opened.prefix, opened.config
    from samplernn.run_record import recorded_truncation

    truncation = recorded_truncation(prefix)   # the run's, as generate.py's defaults

    quiet_tensorflow()
    import samplernn
    from samplernn import checkpoints
    from samplernn.export import export
    from samplernn.sampler import Sampler

    log = checkpoints.log
    model = checkpoints.load_model(prefix, config)
    # SIGTERM or Ctrl-C while saving: the staging directory is removed on the way out.
    export(Sampler(model), args.output_dir, samplernn.__version__, **truncation)
    log.info("Exported %s (%d-tier %s, dim %d, %d Hz) to %s", prefix, config.num_tiers,
             config.rnn_type.upper(), config.dim, config.sample_rate, args.output_dir)
    return 0


if __name__ == "__main__":
    run(main)

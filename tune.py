"""Search model and optimizer hyperparameters with Keras Tuner.

    python tune.py --data_dir ./chunks --dim 256 512 --num_rnn_layers 1 2 --max_trials 10

Every tunable flag takes a list of choices (frame sizes as comma-separated
lists: --frame_sizes 16,64 4,16,64); keys not given keep the base config's
value. At the end the search summary is printed and the best configuration is
written as a *.config.json file that train.py takes as --config_file. See
README.md, also for running one search over several processes or machines.
"""

import argparse
import os

from samplernn import cli, defaults
from samplernn.cli import (boolean, optional_int, positive_int, quiet_tensorflow, run,
                           setup_logging)


def frame_size_list(text: str) -> list:
    try:
        return [int(size) for size in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 16,64, got {text!r}") from None


def build_parser():
    p = cli.parser(__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_dir", required=True, help="Directory of training audio")
    p.add_argument("--config_file", default="./default.config.json",
                   help="Base config; the choices below replace its values")
    p.add_argument("--output_file", default="./best.config.json",
                   help="Where the best config is written (*.config.json)")
    p.add_argument("--type", default="random_search",
                   help="random_search, bayesian or hyperband")
    p.add_argument("--objective", default="val_loss",
                   choices=["loss", "val_loss", "accuracy", "val_accuracy"])
    p.add_argument("--max_trials", type=positive_int, default=10)
    p.add_argument("--num_epochs", type=positive_int, default=10, help="Epochs per trial")
    p.add_argument("--early_stopping_patience", type=optional_int,
                   default=defaults.EARLY_STOPPING_PATIENCE)
    p.add_argument("--num_val_batches", type=int, default=defaults.NUM_VAL_BATCHES)
    p.add_argument("--sample_rate", type=positive_int, default=None)
    p.add_argument("--directory", default="./tuning", help="Where the tuner keeps its trials")
    p.add_argument("--project_name", default="samplernn")
    p.add_argument("--overwrite", type=boolean, default=False,
                   help="Start the search afresh instead of resuming it")
    p.add_argument("--random_seed", type=int, default=defaults.RANDOM_SEED)
    p.add_argument("--verbose", type=boolean, default=False,
                   help="Print Keras Tuner's traceback of every failed trial")
    choices = p.add_argument_group("choices (each flag takes one or more values)")
    choices.add_argument("--frame_sizes", type=frame_size_list, nargs="+")
    choices.add_argument("--dim", type=positive_int, nargs="+")
    choices.add_argument("--rnn_type", nargs="+")
    choices.add_argument("--num_rnn_layers", type=positive_int, nargs="+")
    choices.add_argument("--seq_len", type=positive_int, nargs="+")
    choices.add_argument("--q_type", nargs="+")
    choices.add_argument("--skip_conn", type=boolean, nargs="+")
    choices.add_argument("--learning_rate", type=float, nargs="+")
    choices.add_argument("--momentum", type=float, nargs="+")
    choices.add_argument("--batch_size", type=positive_int, nargs="+")
    return p


def parse_args(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if not args.output_file.endswith(".config.json"):
        p.error(f"--output_file must end in .config.json, got {args.output_file}")
    return args


def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    from samplernn import search_space
    from samplernn.config import load_config, save_config
    from samplernn.data import find_audio_files
    from samplernn.errors import UserError

    # Everything that needs no model is checked before TensorFlow loads.
    if args.type not in search_space.TUNER_TYPES:
        raise UserError(f"unknown --type {args.type!r}; choose one of "
                        f"{', '.join(search_space.TUNER_TYPES)}")
    base = load_config(args.config_file, sample_rate=args.sample_rate)
    keys = search_space.MODEL_KEYS + search_space.TRAINING_KEYS
    space = search_space.SearchSpace({k: getattr(args, k) for k in keys if getattr(args, k)})
    space.validate(base)
    find_audio_files(args.data_dir)
    project_dir = os.path.join(args.directory, args.project_name)
    search_arguments = {"type": args.type, "objective": args.objective,
                        "max_trials": args.max_trials, "num_epochs": args.num_epochs,
                        "base_config": base.to_dict(), "choices": space.choices}
    search_space.check_resumed_search(project_dir, search_arguments, args.overwrite)

    quiet_tensorflow()
    import keras

    from samplernn import tuning

    keras.utils.set_random_seed(args.random_seed)
    hypermodel = tuning.SampleRNNHyperModel(
        base, space, args.data_dir, defaults.optimizer_settings(), args.num_epochs,
        args.early_stopping_patience, args.num_val_batches, args.objective)
    tuner = tuning.make_tuner(args.type, hypermodel, args.objective, args.max_trials,
                              args.num_epochs, args.directory, args.project_name,
                              args.random_seed, args.overwrite)
    search_space.record_search(project_dir, search_arguments)
    tuning.search(tuner, verbose=args.verbose)   # a UserError if every trial failed
    worker = os.environ.get("KERASTUNER_TUNER_ID", "chief") != "chief"
    if worker:  # the chief reports and writes the result
        return 0
    tuner.results_summary(num_trials=min(args.max_trials, 5))
    best = tuner.get_best_hyperparameters(1)[0]
    config, values = hypermodel.trial_values(best)
    save_config(config, args.output_file)
    flags = " ".join(f"--{k} {values[k]}" for k in search_space.TRAINING_KEYS)
    print(f"Best config written to {args.output_file}; train it with:\n"
          f"  python train.py --data_dir {args.data_dir} --config_file {args.output_file} {flags}")
    return 0


if __name__ == "__main__":
    run(main)

"""Train a SampleRNN model on a directory of audio: ``python train.py --id ID --data_dir DIR``.

See README.md for every option. Checkpoints go to <logdir_root>/<id>/<run>/,
audio generated during training to <output_dir>/<id>/.
"""

import logging
import os

from samplernn import cli, defaults, precision, schedule
from samplernn.cli import (add_truncation_flags, boolean, non_negative_float, optional_float,
                           optional_int, positive_float, positive_int, quiet_tensorflow, run,
                           setup_logging)
from samplernn.schedule import SECONDS_PER_MINUTE

log = logging.getLogger("samplernn")
CHECKPOINT_POLICIES = {"always": "always", "all": "always", "best": "best"}
CHECKPOINT_EVERY_MINUTES = 10.0   # a crash or a kill loses at most this much training


class _PatienceDefault:
    """--early_stopping_patience's default, which depends on --max_minutes (parse_args)."""

    def __repr__(self):
        return f"{defaults.EARLY_STOPPING_PATIENCE}, or None with --max_minutes"


PATIENCE_DEFAULT = _PatienceDefault()


def build_parser():
    p = cli.parser(__doc__)
    p.add_argument("--id", default="default", help="Id of the training session")
    p.add_argument("--data_dir", required=True, help="Directory of training audio")
    p.add_argument("--verbose", type=boolean, default=True,
                   help="True: a new line per step; False: one overwritten line per epoch")
    p.add_argument("--logdir_root", default="./logdir", help="Where checkpoints and logs go")
    p.add_argument("--output_dir", default="./generated", help="Where generated audio goes")
    p.add_argument("--config_file", default="./default.config.json", help="Model config JSON")
    p.add_argument("--num_epochs", type=positive_int, default=100)
    p.add_argument("--batch_size", type=positive_int, default=defaults.BATCH_SIZE)
    p.add_argument("--optimizer", default=defaults.OPTIMIZER, help="adam, sgd or rmsprop")
    p.add_argument("--learning_rate", type=positive_float, default=defaults.LEARNING_RATE)
    p.add_argument("--reduce_learning_rate_after", type=optional_int, default=None,
                   help="Decay the learning rate exponentially after this many epochs")
    p.add_argument("--learning_rate_decay", type=positive_float,
                   default=schedule.DEFAULT_DECAY_PER_EPOCH,
                   help="Factor per epoch once --reduce_learning_rate_after is reached "
                        "(default: e^-0.1)")
    p.add_argument("--learning_rate_warmup_steps", type=int, default=0,
                   help="Raise the learning rate linearly over this many first steps")
    p.add_argument("--learning_rate_schedule", choices=schedule.SHAPES,
                   default=schedule.DEFAULT_SHAPE,
                   help="exponential: PRiSM's per-epoch decay (constant unless "
                        "--reduce_learning_rate_after); constant; linear or cosine: decay "
                        "to --learning_rate_floor at the end of the run (--max_minutes of "
                        "training time, else --num_epochs)")
    p.add_argument("--learning_rate_floor", type=float, default=0.0,
                   help="linear, cosine: the final learning rate, a fraction of "
                        "--learning_rate (0: the rate ends at zero)")
    p.add_argument("--momentum", type=float, default=defaults.MOMENTUM,
                   help="For sgd and rmsprop")
    p.add_argument("--checkpoint_every", type=positive_int, default=1, help="In epochs")
    p.add_argument("--checkpoint_every_minutes", type=optional_float,
                   default=CHECKPOINT_EVERY_MINUTES,
                   help="Also save a checkpoint mid-epoch after this many minutes without "
                        "one, so that a crash or a kill loses at most that; None: only at "
                        "epoch ends and on Ctrl-C")
    p.add_argument("--checkpoint_policy", default="Always", type=str.lower,
                   choices=sorted(CHECKPOINT_POLICIES), help="Always (alias All) or Best")
    p.add_argument("--max_checkpoints", type=optional_int, default=5,
                   help="Checkpoints kept on disk; None keeps all")
    p.add_argument("--resume", type=boolean, default=True)
    p.add_argument("--resume_from", default=None, help="Checkpoint to resume from")
    p.add_argument("--init_from", default=None,
                   help="Start a new run from the weights of this checkpoint, run or id "
                        "directory (or a shipped model's name), with a fresh optimizer and "
                        "schedule and the source's model config; a run of this --id that "
                        "has a checkpoint resumes instead")
    p.add_argument("--allow_schedule_change", type=boolean, default=False,
                   help="Resume with learning-rate flags other than the checkpoint's "
                        "(warm-up and decay still count from its step and epoch)")
    p.add_argument("--max_minutes", type=positive_float, default=None,
                   help="Budget of training time, counted over resumes: training stops "
                        "when it is spent, mid-epoch if need be, and saves a checkpoint; "
                        "default: no limit")
    p.add_argument("--early_stopping_patience", type=optional_int, default=PATIENCE_DEFAULT,
                   help="Epochs without improvement before stopping; None never stops "
                        "(a budget run spends its whole budget unless this is given)")
    p.add_argument("--generate", type=boolean, default=True,
                   help="Generate audio whenever a checkpoint is saved")
    p.add_argument("--max_generate_per_epoch", type=optional_int, default=1)
    p.add_argument("--sample_rate", type=positive_int, default=None,
                   help="Sample rate to train and generate at (default: the config's, 22050)")
    p.add_argument("--output_file_dur", type=positive_float, default=3, help="Seconds")
    p.add_argument("--temperature", type=positive_float, nargs="+", default=None,
                   help="Of the audio generated at each checkpoint; recorded in the run, "
                        "generate.py's default for its checkpoints (default: what the run "
                        f"it resumes or starts from recorded, else {defaults.TEMPERATURE})")
    p.add_argument("--input_noise", type=non_negative_float, default=0.0,
                   help="Standard deviation, in quantization levels, of noise added to the "
                        "model's inputs (not its targets) while training; 0: none")
    p.add_argument("--choose_temperature", type=boolean, default=True,
                   help="When training ends, unless --temperature is given: generate a few "
                        "seconds at several temperatures, judge them against the corpus and "
                        "record the best as the run's (2-3 minutes on a CPU core)")
    add_truncation_flags(p, "the audio generated at each checkpoint (recorded in the run "
                              "as generate.py's default)")
    p.add_argument("--seed", default=None, help="Audio file to seed generation with")
    p.add_argument("--generation_precision", choices=precision.GENERATION_PRECISIONS,
                   default=precision.GENERATION_PRECISION,
                   help="Precision of the sampler's weights when generating at checkpoints "
                        "(as generate.py --precision)")
    p.add_argument("--seed_offset", type=int, default=0, help="In samples")
    p.add_argument("--num_val_batches", type=optional_int, default=defaults.NUM_VAL_BATCHES)
    p.add_argument("--random_seed", type=int, default=defaults.RANDOM_SEED,
                   help="Seed for weight initialization and data shuffling")
    p.add_argument("--mixed_precision", type=precision.parse_mixed_precision, default=False,
                   help="True: compute in bfloat16 (GPUs of compute capability 8.0+, TPUs, "
                        "CPUs with bfloat16 instructions) or float16 with loss scaling "
                        "(older GPUs), float32 elsewhere; bfloat16 or float16: that policy "
                        "on any device. Weights stay float32")
    p.add_argument("--jit_compile", type=boolean, default=False,
                   help="Compile the training step with XLA (see README for when it helps)")
    p.add_argument("--strategy", default="auto",
                   help="auto, mirrored, multi_worker (from TF_CONFIG) or tpu")
    return p


def parse_args(argv=None):
    args = build_parser().parse_args(argv)
    args.given = cli.given_options(build_parser, argv)   # what the command line set
    args.checkpoint_policy = CHECKPOINT_POLICIES[args.checkpoint_policy]
    if args.early_stopping_patience is PATIENCE_DEFAULT:
        # A budget run is meant to spend its budget: a linear schedule's last minutes,
        # or the rate rising again when a budget is raised, rarely improve every epoch.
        args.early_stopping_patience = (None if args.max_minutes
                                        else defaults.EARLY_STOPPING_PATIENCE)
    return args


def schedule_of(args) -> schedule.LearningRateSchedule:
    """The learning-rate schedule that the flags describe."""
    return schedule.LearningRateSchedule(
        args.learning_rate, args.learning_rate_warmup_steps, args.reduce_learning_rate_after,
        args.learning_rate_decay, args.learning_rate_schedule, args.learning_rate_floor,
        args.max_minutes, args.num_epochs)


def check_flags(args) -> None:
    """Flag combinations that argparse cannot check on its own."""
    from samplernn.errors import UserError

    if args.max_checkpoints is not None and args.max_checkpoints <= 0:
        raise UserError(f"--max_checkpoints must be positive or None, got {args.max_checkpoints}")
    if args.early_stopping_patience is not None and args.early_stopping_patience <= 0:
        raise UserError("--early_stopping_patience must be positive or None")
    if args.max_minutes and args.strategy == "multi_worker":
        # Workers would decide at different moments and wait for each other forever.
        raise UserError("--max_minutes does not work with --strategy multi_worker; use "
                        "--num_epochs")


def main(argv=None):
    args = parse_args(argv)
    setup_logging()
    from samplernn.fileio import check_writable_directory
    from samplernn.locks import IdLock, writes_runs

    # Everything that needs no model is checked before TensorFlow loads.
    check_flags(args)
    learning_rate_schedule = schedule_of(args)
    if not writes_runs(args.strategy):   # a multi-worker run's other workers
        return train(args, learning_rate_schedule, writer=False)
    if args.generate:   # a read-only --output_dir: one line now, not after an epoch
        check_writable_directory(os.path.join(args.output_dir, args.id), "--output_dir")
    # One process per id: a second train.py of this id is refused while this one runs.
    with IdLock(os.path.join(args.logdir_root, args.id), args.id):
        return train(args, learning_rate_schedule)


def train(args, learning_rate_schedule, writer: bool = True) -> int:
    """The story of a run, after the flags; the ``writer`` of the id's runs holds its
    lock. It finds where the run starts, loads the corpus, builds the model and puts
    the start's weights in, writes the run's record, trains, and says what to do next."""
    from samplernn.data import load_corpus
    from samplernn.resuming import find_start

    id_dir = os.path.join(args.logdir_root, args.id)
    tidy_up(args, id_dir, writer)
    start = find_start(id_dir, args.id, learning_rate_schedule, args.config_file,
                       config_given="config_file" in args.given, sample_rate=args.sample_rate,
                       resume=args.resume, resume_from=args.resume_from,
                       init_from=args.init_from,
                       allow_schedule_change=args.allow_schedule_change)
    if start.resume_prefix and finished(args, start.resume_prefix):
        return 0
    check_start_readable(args, start)
    corpus = load_corpus(args.data_dir, start.config, args.batch_size, args.num_val_batches or 0)
    session = set_up(args, start, corpus)
    restore_start(args, start, session)
    record = record_of(args, start, session, learning_rate_schedule)
    if not session.chief:
        return train_as_worker(args, session, learning_rate_schedule)
    run_dir, result = train_run(args, session, record, learning_rate_schedule)
    return finish(args, session, record, run_dir, result, learning_rate_schedule)


def tidy_up(args, id_dir: str, writer: bool) -> None:
    """Remove what killed processes of this id left: unfinished saves, temporaries,
    and (the writer only) run directories without a checkpoint."""
    from samplernn import runs
    from samplernn.fileio import remove_stale_temporaries

    for path in (runs.remove_unfinished_saves(id_dir)
                 + remove_stale_temporaries(os.path.join(args.output_dir, args.id))):
        log.info("Removed %s, left by a save that did not finish", path)
    for path in runs.remove_runs_without_checkpoint(id_dir) if writer else []:
        log.info("Removed %s, a run stopped before its first checkpoint", path)


def check_start_readable(args, start) -> None:
    """A damaged checkpoint to resume or start from is one line now, before the corpus
    is decoded and the model built."""
    if start.resume_prefix or start.init_prefix:
        quiet_tensorflow()
        from samplernn import checkpoints

        where = ("--init_from" if start.init_prefix else "--resume_from" if args.resume_from
                 else f"the newest state of --id {args.id}")
        checkpoints.check_readable(start.resume_prefix or start.init_prefix, where)


def set_up(args, start, corpus):
    """The strategy, data, model, optimizer, trainer, checkpoint, stop flag and
    improvement tracker of the run, as a namespace; the start line says on what and
    how it trains."""
    import types

    quiet_tensorflow()
    import keras

    from samplernn import checkpoints, devices, distribute, optimizers, training
    from samplernn.callbacks import ImprovementTracker
    from samplernn.data import TrainingData
    from samplernn.interrupts import InterruptFlag
    from samplernn.model import build_model
    from samplernn.resuming import precision_change

    # First of all: multi-worker collectives must be set up before TensorFlow runs anything.
    strategy = distribute.make_strategy(args.strategy)
    chief = distribute.is_chief(strategy)
    distribute.per_replica_batch_size(strategy, args.batch_size)
    data = TrainingData.from_corpus(corpus, start.config, args.batch_size,
                                    seed=args.random_seed)
    keras.utils.set_random_seed(args.random_seed)
    found = devices.find_devices(strategy)
    policy, note = precision.choose_policy(found, args.mixed_precision)
    precision.set_policy(policy)
    cudnn = devices.use_cudnn(args.jit_compile)
    changed = precision_change(start.resume_prefix, policy) if start.resume_prefix else None
    log.info(devices.start_line(found, devices.describe_strategy(strategy), policy, cudnn,
                                "; ".join(text for text in (note, changed) if text) or None))
    with strategy.scope():
        model = build_model(start.config, use_cudnn=cudnn)
        optimizer = precision.with_loss_scaling(
            optimizers.make_optimizer(args.optimizer, args.learning_rate, args.momentum))
    trainer = training.Trainer(model, optimizer, jit_compile=args.jit_compile, strategy=strategy,
                               input_noise=args.input_noise)
    progress = checkpoints.Progress()
    return types.SimpleNamespace(
        strategy=strategy, chief=chief, data=data, policy=policy, model=model,
        optimizer=optimizer, trainer=trainer, progress=progress,
        checkpoint=checkpoints.make_checkpoint(model, optimizer, progress),
        interrupt=InterruptFlag("Interrupted: saving a checkpoint at the end of this step "
                                "(further signals are ignored until it is written)"),
        tracker=ImprovementTracker(progress, args.early_stopping_patience))


def restore_start(args, start, session) -> None:
    """Put the start's state in: all of a resumed run's (weights, optimizer, progress),
    or only the weights of an --init_from source (its optimizer, steps, training time
    and schedule are its own run's, not this one's)."""
    from samplernn import checkpoints

    if start.resume_prefix:
        checkpoints.restore(session.checkpoint, start.resume_prefix)
        progress = session.progress
        log.info("Resuming from %s: %d epoch(s) done%s%s", start.resume_prefix,
                 int(progress.epoch),
                 f", {int(progress.step)} step(s) into the next" if int(progress.step) else "",
                 " (--init_from applies to a new run only)" if args.init_from else "")
    elif start.init_prefix:
        checkpoints.restore(checkpoints.make_checkpoint(session.model), start.init_prefix)
        log.info("Starting from the weights of %s (fresh optimizer and schedule)",
                 start.init_prefix)


def record_of(args, start, session, learning_rate_schedule):
    """The run record this part of the run writes: carried forward from the run it
    resumes (or the source it starts from), with what the flags change."""
    from samplernn import run_record
    from samplernn.priming import PRIME_EXCERPTS, PRIME_SECONDS

    return run_record.carried_forward(
        start.config, learning_rate_schedule, session.policy, start.resume_prefix,
        start.init_prefix, args.temperature, args.top_p, args.min_p,
        session.data.prime_excerpts(PRIME_SECONDS, PRIME_EXCERPTS))


def fit(args, session, learning_rate_schedule, callbacks):
    """Train with ``callbacks`` until the epochs, the budget, patience or a signal end it."""
    from samplernn import training

    # Not across workers: saves are collective there, and each would decide on its own clock.
    save_every = (SECONDS_PER_MINUTE * args.checkpoint_every_minutes
                  if args.checkpoint_every_minutes and args.strategy != "multi_worker"
                  else None)
    return training.fit(session.trainer, session.data, args.num_epochs, session.progress,
                        callbacks, learning_rate_schedule, interrupt=session.interrupt,
                        max_seconds=budget_seconds(args), save_every_seconds=save_every)


def budget_seconds(args):
    """--max_minutes in seconds (None: no budget)."""
    return SECONDS_PER_MINUTE * args.max_minutes if args.max_minutes else None


def train_as_worker(args, session, learning_rate_schedule) -> int:
    """A multi-worker run's other workers: they save as every worker must, but into
    temporary directories."""
    from samplernn import checkpoints, distribute
    from samplernn.callbacks import CheckpointSaver

    result = fit(args, session, learning_rate_schedule, [
        session.tracker,
        CheckpointSaver(distribute.ThrowawayCheckpoints(session.checkpoint),
                        args.checkpoint_every, args.checkpoint_policy, session.tracker)])
    log.info("Worker finished; weights fingerprint %s", checkpoints.fingerprint(session.model))
    return session.interrupt.exit_status if result.interrupted else 0


def train_run(args, session, record, learning_rate_schedule):
    """Write the record into a new run directory, then train with every callback of
    the chief; ``(run_dir, result)``."""
    from samplernn import checkpoints, runs
    from samplernn.callbacks import (CheckpointSaver, CsvLogger, StatisticsPrinter,
                                     TensorBoardLogger)

    with runs.new_run(args.logdir_root, args.id) as run_dir:
        record.write(run_dir)
        manager = checkpoints.manager(session.checkpoint, run_dir, args.max_checkpoints)
        tensorboard = TensorBoardLogger(run_dir, session.optimizer)
        if record.init_source:
            tensorboard.note("init_from", f"Started from the weights of {record.init_source}")
        on_save = [audio_writer(args, session, record, tensorboard)] if args.generate else []
        log.info("Training run directory: %s", run_dir)
        result = fit(args, session, learning_rate_schedule, [
            StatisticsPrinter(args.num_epochs, session.data.train_steps_per_epoch, args.verbose,
                              max_seconds=budget_seconds(args)),
            tensorboard,
            CsvLogger(os.path.join(run_dir, "metrics.csv")),
            session.tracker,  # before the saver: "Best" needs to know whether this improved
            CheckpointSaver(manager, args.checkpoint_every, args.checkpoint_policy,
                            session.tracker, on_save),
        ])
    return run_dir, result


def audio_writer(args, session, record, tensorboard):
    """What writes (and judges) the audio of each checkpoint."""
    from samplernn import windows
    from samplernn.generation import TrainingAudioWriter

    data, config = session.data, record.config
    return TrainingAudioWriter(
        session.model, config, os.path.join(args.output_dir, args.id), args.id,
        args.max_generate_per_epoch, args.output_file_dur, record.temperatures,
        seed_file=args.seed, seed_offset=args.seed_offset, random_seed=args.random_seed,
        prime=record.prime, truncation=record.truncation,
        window_bounds=windows.corpus_bounds(data.spread_sequences(windows.CORPUS_SEQUENCES),
                                            config.sample_rate),
        summary_writer=tensorboard.train_writer,
        reference_audio=data.excerpt(args.output_file_dur), interrupt=session.interrupt,
        precision=args.generation_precision)


def finish(args, session, record, run_dir, result, learning_rate_schedule) -> int:
    """After training: choose the run's temperature, and say how it ended and what next."""
    from samplernn import checkpoints

    if result.interrupted:
        log.info("To resume, run the same command again")
        return session.interrupt.exit_status
    if args.choose_temperature and not args.temperature:
        from samplernn.calibration import calibrate_run

        calibrate_run(session.model, session.data, run_dir, record.prime, record.truncation,
                      args.generation_precision, args.random_seed, log)
    epochs, steps = int(session.progress.epoch), int(session.progress.step)
    if result.out_of_time:
        partial = f" and {steps} step(s) of epoch {epochs + 1}" if steps else ""
        log.info("Stopped: --max_minutes %g of training time spent, after %d epoch(s)%s; "
                 "checkpoints are in %s", args.max_minutes, epochs, partial, run_dir)
        log.info("To train %g minutes more: %s", args.max_minutes,
                 continue_command(args, learning_rate_schedule,
                                  float(session.progress.train_seconds)))
        return 0
    if result.stopped_early:
        log.info("Stopped early: no improvement in %d epoch(s)", args.early_stopping_patience)
    log.info("Training finished after %d epoch(s); checkpoints are in %s", epochs, run_dir)
    if session.strategy.num_replicas_in_sync > 1:
        log.info("Weights fingerprint %s", checkpoints.fingerprint(session.model))
    return 0


# Flags a continuing command leaves out: it resumes the newest state of its --id, with
# that run's own config and record, whatever started the run.
NOT_CONTINUED = ("resume", "resume_from", "init_from", "config_file", "sample_rate")


def continue_command(args, learning_rate_schedule, trained_seconds: float) -> str:
    """The train.py command that trains this budget run ``args.max_minutes`` further,
    built from the parsed flags: those given, less NOT_CONTINUED, with --max_minutes
    raised to the minutes already trained (which the last step may have taken past
    the budget) plus that much again, and --allow_schedule_change True where the
    schedule spans the budget (its length is then a changed flag)."""
    import math
    import shlex

    trained_minutes = trained_seconds / SECONDS_PER_MINUTE
    budget = math.ceil((trained_minutes + args.max_minutes) * 100) / 100  # to 0.01 min
    values = {dest: getattr(args, dest) for dest in args.given if dest not in NOT_CONTINUED}
    values["max_minutes"] = budget
    if learning_rate_schedule.spans_the_run():
        values["allow_schedule_change"] = True
    return shlex.join(["python", "train.py", *cli.option_words(build_parser(), values)])


def finished(args, resume_prefix: str) -> bool:
    """Whether the run of ``resume_prefix`` has nothing left to do (every epoch done,
    or its training-time budget spent); says so. Reads the checkpoint before the
    corpus is decoded (the data directory may even be gone)."""
    quiet_tensorflow()
    from samplernn import checkpoints

    done = checkpoints.completed_epochs(resume_prefix)
    if done >= args.num_epochs:
        log.info("Nothing to do: %s has completed %d epoch(s) and --num_epochs is %d. "
                 "Pass a larger --num_epochs to train further, or --resume False (or "
                 "a new --id) to start afresh", resume_prefix, done, args.num_epochs)
        return True
    spent = checkpoints.training_seconds(resume_prefix)
    if args.max_minutes and spent >= SECONDS_PER_MINUTE * args.max_minutes:
        log.info("Nothing to do: %s has trained for %.1f minutes and --max_minutes is %g. "
                 "To train further: %s", resume_prefix, spent / SECONDS_PER_MINUTE,
                 args.max_minutes, continue_command(args, schedule_of(args), spent))
        return True
    return False


if __name__ == "__main__":
    run(main)

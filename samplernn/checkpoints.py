"""Run directories and checkpoints.

Layout on disk::

    <logdir_root>/<id>/<DD.MM.YYYY_HH.MM.SS>/     one directory per training run
        model.config.json                          the model config of this run
        model.ckpt-<epoch>.index / .data-*         TensorFlow checkpoints
        checkpoint                                 TensorFlow's index of them
        train/, validation/                        TensorBoard logs

A checkpoint holds the model weights (by variable path), the optimizer state
and the training progress (completed epochs, steps done in an interrupted
epoch, the best monitored loss so far and the epochs since it improved).

Anything that loads a model accepts a checkpoint prefix
(``.../model.ckpt-100``), a run directory or an id directory (the latest
checkpoint of its newest run that has one).
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import logging
import os
import re
import shutil

import tensorflow as tf

from samplernn.config import CHECKPOINT_CONFIG_NAME, ModelConfig, load_config, save_config
from samplernn.errors import UserError

log = logging.getLogger("samplernn")

RUN_DIR_FORMAT = "%d.%m.%Y_%H.%M.%S"
CHECKPOINT_NAME = "model.ckpt"
_CHECKPOINT_EPOCH = re.compile(r"model\.ckpt-(\d+)$")


# ------------------------------------------------------------ run directories
def new_run_dir(logdir_root: str, run_id: str) -> str:
    """Create ``<logdir_root>/<id>/<timestamp>`` and return its path."""
    now = datetime.datetime.now()
    while True:
        path = os.path.join(logdir_root, run_id, now.strftime(RUN_DIR_FORMAT))
        try:
            os.makedirs(path)
            return path
        except FileExistsError:  # two runs started within the same second
            now += datetime.timedelta(seconds=1)


@contextlib.contextmanager
def new_run(logdir_root: str, run_id: str):
    """A new run directory (see :func:`new_run_dir`) for the ``with`` block.

    If the block fails before any checkpoint is written there, the directory
    is removed again: a failed start leaves no empty run behind.
    """
    path = new_run_dir(logdir_root, run_id)
    try:
        yield path
    except BaseException:
        if not glob.glob(os.path.join(path, f"{CHECKPOINT_NAME}-*.index")):
            shutil.rmtree(path, ignore_errors=True)
        raise


def manager(checkpoint: tf.train.Checkpoint, run_dir: str, max_to_keep=None):
    """TensorFlow's CheckpointManager for ``model.ckpt-<epoch>`` files in ``run_dir``."""
    return tf.train.CheckpointManager(checkpoint, run_dir, max_to_keep=max_to_keep,
                                      checkpoint_name=CHECKPOINT_NAME)


def run_dirs(id_dir: str) -> list:
    """The run directories under an id directory, oldest first."""
    runs = []
    for path in glob.glob(os.path.join(id_dir, "*")):
        try:
            runs.append((datetime.datetime.strptime(os.path.basename(path), RUN_DIR_FORMAT),
                         path))
        except ValueError:
            continue
    return [path for _, path in sorted(runs)]


def remove_unfinished_saves(id_dir: str) -> list:
    """Remove ``model.ckpt-<N>_temp/`` directories that a killed save left behind
    in any run of ``id_dir``; return their paths. (TensorFlow writes a
    checkpoint there first and renames its files into place when complete.)"""
    removed = []
    for run_dir in run_dirs(id_dir):
        for path in glob.glob(os.path.join(run_dir, f"{CHECKPOINT_NAME}-*_temp*")):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def latest_checkpoint(path: str):
    """The newest checkpoint prefix at ``path`` (prefix, run dir or id dir), or None."""
    if tf.io.gfile.exists(path + ".index"):
        return path
    if not os.path.isdir(path):
        return None
    for directory in [path, *reversed(run_dirs(path))]:
        found = _latest_in_directory(directory)
        if found:
            return found
    return None


def _latest_in_directory(directory: str):
    """TensorFlow's record of the newest checkpoint, else the highest-numbered one."""
    found = tf.train.latest_checkpoint(directory)
    if found:
        return found
    prefixes = [index[:-len(".index")] for index in
                glob.glob(os.path.join(directory, f"{CHECKPOINT_NAME}-*.index"))]
    return max(prefixes, key=checkpoint_epoch) if prefixes else None


def resolve_checkpoint(path: str, flag: str = "--checkpoint_path") -> str:
    """Like :func:`latest_checkpoint`, but a clear error when there is none."""
    found = latest_checkpoint(path) if path else None
    if found is None:
        raise UserError(f"no checkpoint found at {path} ({flag}); pass a checkpoint such as "
                        f"logdir/<id>/<run>/{CHECKPOINT_NAME}-<epoch>, a run directory or "
                        f"an id directory")
    return found


def checkpoint_epoch(prefix: str) -> int:
    """The epoch number in a ``model.ckpt-<epoch>`` prefix."""
    match = _CHECKPOINT_EPOCH.search(prefix)
    return int(match.group(1)) if match else 0


def config_path_for(prefix: str) -> str:
    return os.path.join(os.path.dirname(prefix), CHECKPOINT_CONFIG_NAME)


def config_for_checkpoint(prefix: str, config_file: str = None) -> ModelConfig:
    """The config saved beside ``prefix``; ``config_file``, if given, must agree with it.

    Only ``sample_rate`` may differ: training may have overridden it with
    ``--sample_rate``, so the checkpoint's rate is the one that holds.
    """
    saved_path = config_path_for(prefix)
    saved = load_config(saved_path) if os.path.isfile(saved_path) else None
    if config_file is None:
        if saved is None:
            raise UserError(f"checkpoint {prefix} has no {CHECKPOINT_CONFIG_NAME} beside it; "
                            f"pass the config it was trained with as --config_file")
        return saved
    given = load_config(config_file)
    if saved is None:
        return given
    differences = given.replace(sample_rate=saved.sample_rate).differences(saved)
    if differences:
        raise UserError(f"config file {config_file} does not match checkpoint {prefix} "
                        f"({'; '.join(differences)}); omit --config_file to "
                        f"use the checkpoint's own config")
    return saved


def save_run_config(run_dir: str, config: ModelConfig) -> None:
    save_config(config, os.path.join(run_dir, CHECKPOINT_CONFIG_NAME))


# ----------------------------------------------------------------- checkpoints
def completed_epochs(prefix: str) -> int:
    """The epochs completed in checkpoint ``prefix``, read without building a model."""
    try:
        return int(tf.train.load_checkpoint(prefix).get_tensor(
            "progress/epoch/.ATTRIBUTES/VARIABLE_VALUE"))
    except (tf.errors.OpError, ValueError):
        return checkpoint_epoch(prefix)


class Progress(tf.Module):
    """Training progress stored in every checkpoint.

    ``step`` counts the steps done in the epoch after the ``epoch`` completed
    ones (non-zero only in a checkpoint saved on Ctrl-C); ``loss_sum`` and
    ``accuracy_sum`` are those steps' sums, so that a resumed epoch reports
    the mean over all its steps.
    """

    # Added after the first release: a checkpoint without them reads as zeros.
    OPTIONAL = ("loss_sum", "accuracy_sum")

    def __init__(self):
        super().__init__(name="progress")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)   # completed epochs
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)    # steps into the next
        self.best_loss = tf.Variable(float("inf"), dtype=tf.float64, trainable=False)
        self.epochs_without_improvement = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.accuracy_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)

    def record_step(self, step: int, loss_sum: float, accuracy_sum: float) -> None:
        """``step`` steps of the current epoch are done, with these sums."""
        self.step.assign(step)
        self.loss_sum.assign(loss_sum)
        self.accuracy_sum.assign(accuracy_sum)

    def complete_epoch(self, epochs_done: int) -> None:
        self.epoch.assign(epochs_done)
        self.record_step(0, 0.0, 0.0)


def make_checkpoint(model, optimizer=None, progress: Progress = None) -> tf.train.Checkpoint:
    """A ``tf.train.Checkpoint`` of the model weights (and optimizer, progress)."""
    parts = {"model": tf.train.Checkpoint(**model.variables_by_path())}
    if optimizer is not None:
        parts["optimizer"] = optimizer
    if progress is not None:
        parts["progress"] = progress
    return tf.train.Checkpoint(**parts)


def restore(checkpoint: tf.train.Checkpoint, prefix: str) -> None:
    """Load ``prefix`` into ``checkpoint``; everything ``checkpoint`` holds must be found
    (values in the file that it does not hold, like the optimizer's for generation, are
    fine; so are missing :attr:`Progress.OPTIONAL` values, left at zero)."""
    try:
        status = checkpoint.read(prefix)
    except (tf.errors.OpError, ValueError) as e:
        raise UserError(f"cannot read checkpoint {prefix}: {str(e).splitlines()[0]}") from None
    status.expect_partial()  # unused values in the file are fine (see above)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        if not _only_optional_missing(prefix, checkpoint):
            raise UserError(f"checkpoint {prefix} does not fit this model (was it trained "
                            f"with another config?): {str(e).splitlines()[0][:200]}") from None


def _only_optional_missing(prefix: str, checkpoint: tf.train.Checkpoint) -> bool:
    """Whether the one thing ``prefix`` lacks is the optional part of ``Progress``."""
    progress = getattr(checkpoint, "progress", None)
    if progress is None:
        return False
    stored = {name for name, _ in tf.train.list_variables(prefix)}
    missing = [name for name in Progress.OPTIONAL
               if f"progress/{name}/.ATTRIBUTES/VARIABLE_VALUE" not in stored]
    if not missing:
        return False
    # Everything else must match: check it without the optional variables.
    required = {name: getattr(checkpoint, name) for name in ("model", "optimizer")
                if hasattr(checkpoint, name)}
    kept = tf.Module()
    for name in ("epoch", "step", "best_loss", "epochs_without_improvement"):
        setattr(kept, name, getattr(progress, name))
    try:
        tf.train.Checkpoint(progress=kept, **required).read(prefix) \
            .expect_partial().assert_existing_objects_matched()
    except AssertionError:
        return False
    return True


def fingerprint(model) -> str:
    """A short hash of every weight's bytes: equal fingerprints, equal weights."""
    import hashlib

    digest = hashlib.sha256()
    for name, variable in sorted(model.variables_by_path().items()):
        digest.update(name.encode())
        digest.update(variable.numpy().tobytes())
    return digest.hexdigest()[:16]


def load_model(checkpoint_path: str, config_file: str = None, use_cudnn: bool = False):
    """Build a model from a checkpoint for inference: ``(model, config, prefix)``.
    (``use_cudnn`` chooses how the RNNs run; any checkpoint loads either way.)"""
    from samplernn.model import build_model

    prefix = resolve_checkpoint(checkpoint_path)
    config = config_for_checkpoint(prefix, config_file)
    model = build_model(config, use_cudnn=use_cudnn)
    restore(make_checkpoint(model), prefix)
    return model, config, prefix

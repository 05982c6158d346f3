"""What is inside a checkpoint: saving, restoring and reading TensorFlow checkpoints.

A checkpoint holds the model weights (by variable path), the optimizer state
and the training progress (completed epochs, steps done in an interrupted
epoch, their loss sums, the best monitored loss so far and the epochs since it
improved). Where checkpoints live and how one is found is in
:mod:`samplernn.runs`, which needs no TensorFlow.
"""

from __future__ import annotations

import logging

import tensorflow as tf

from samplernn import runs
from samplernn.errors import UserError

log = logging.getLogger("samplernn")


def manager(checkpoint: tf.train.Checkpoint, run_dir: str, max_to_keep=None):
    """TensorFlow's CheckpointManager for ``model.ckpt-<epoch>`` files in ``run_dir``."""
    return tf.train.CheckpointManager(checkpoint, run_dir, max_to_keep=max_to_keep,
                                      checkpoint_name=runs.CHECKPOINT_NAME)


# ----------------------------------------------------------------- checkpoints
def completed_epochs(prefix: str) -> int:
    """The epochs completed in checkpoint ``prefix``, read without building a model."""
    try:
        return int(tf.train.load_checkpoint(prefix).get_tensor(
            "progress/epoch/.ATTRIBUTES/VARIABLE_VALUE"))
    except (tf.errors.OpError, ValueError):
        return runs.checkpoint_epoch(prefix)


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


def load_model(prefix: str, config, use_cudnn: bool = False):
    """Build a model of ``config`` for inference and load checkpoint ``prefix`` into it
    (find both with :func:`samplernn.runs.resolve_checkpoint` and
    :func:`samplernn.runs.config_for_checkpoint`). ``use_cudnn`` chooses how the RNNs
    run; any checkpoint loads either way."""
    from samplernn.model import build_model

    model = build_model(config, use_cudnn=use_cudnn)
    restore(make_checkpoint(model), prefix)
    return model

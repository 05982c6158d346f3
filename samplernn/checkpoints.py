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
def _stored(prefix: str, name: str, default):
    """Progress value ``name`` of checkpoint ``prefix``, read without building a model
    (nor starting TensorFlow's runtime), or ``default``."""
    try:
        return tf.train.load_checkpoint(prefix).get_tensor(
            f"progress/{name}/.ATTRIBUTES/VARIABLE_VALUE")
    except (tf.errors.OpError, ValueError):
        return default


def completed_epochs(prefix: str) -> int:
    """The epochs completed in checkpoint ``prefix``."""
    return int(_stored(prefix, "epoch", runs.checkpoint_epoch(prefix)))


def training_seconds(prefix: str) -> float:
    """The training time recorded in checkpoint ``prefix`` (0 if it has none)."""
    return float(_stored(prefix, "train_seconds", 0.0))


def training_steps(prefix: str) -> int:
    """The training steps run over all epochs in checkpoint ``prefix`` (-1 if unknown:
    a checkpoint from before they were counted)."""
    return int(_stored(prefix, "global_step", Progress.UNKNOWN_STEP))


class Progress(tf.Module):
    """Training progress stored in every checkpoint.

    ``step`` counts the steps done in the epoch after the ``epoch`` completed
    ones (non-zero only in a checkpoint saved on Ctrl-C); ``loss_sum`` and
    ``accuracy_sum`` are those steps' sums, so that a resumed epoch reports
    the mean over all its steps. ``global_step`` counts every training step
    run since the start, including the steps that float16 loss scaling skipped
    (which the optimizer's own ``iterations`` do not count), so the learning
    rate schedule is at the same place whether or not a run was interrupted
    and under any precision; ``train_seconds`` is the time spent training
    (steps and validation, not start-up or audio), which a time-budgeted
    schedule counts in.
    """

    # Added after the first release: a checkpoint without them reads as zeros, but
    # global_step, which then reads as "unknown" (-1) and is taken from the optimizer.
    OPTIONAL = ("loss_sum", "accuracy_sum", "global_step", "train_seconds")
    REQUIRED = ("epoch", "step", "best_loss", "epochs_without_improvement")
    UNKNOWN_STEP = -1

    def __init__(self):
        super().__init__(name="progress")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)   # completed epochs
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False)    # steps into the next
        self.best_loss = tf.Variable(float("inf"), dtype=tf.float64, trainable=False)
        self.epochs_without_improvement = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.accuracy_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
        self.global_step = tf.Variable(self.UNKNOWN_STEP, dtype=tf.int64, trainable=False)
        self.train_seconds = tf.Variable(0.0, dtype=tf.float64, trainable=False)

    def record_step(self, step: int, loss_sum: float, accuracy_sum: float) -> None:
        """``step`` steps of the current epoch are done, with these sums."""
        self.step.assign(step)
        self.loss_sum.assign(loss_sum)
        self.accuracy_sum.assign(accuracy_sum)

    def complete_epoch(self, epochs_done: int) -> None:
        self.epoch.assign(epochs_done)
        self.record_step(0, 0.0, 0.0)

    def parts(self, names) -> tf.Module:
        """A module holding the variables ``names`` under their own names (so a
        checkpoint of it reads and writes the same keys as one of ``self``)."""
        part = tf.Module()
        for name in names:
            setattr(part, name, getattr(self, name))
        return part


class LossScale(tf.Module):
    """The state of float16 loss scaling (Keras's ``LossScaleOptimizer``): the
    current scale and the finite steps since it last changed. Checkpointed
    beside the optimizer, not around it, so that the optimizer's own state has
    the same layout under every precision."""

    def __init__(self, loss_scale_optimizer):
        super().__init__(name="loss_scale")
        self.dynamic_scale = loss_scale_optimizer.dynamic_scale
        self.step_counter = loss_scale_optimizer.step_counter


def inner_optimizer(optimizer):
    """The optimizer that holds the training state: the one wrapped by float16's
    ``LossScaleOptimizer``, or ``optimizer`` itself."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def make_checkpoint(model, optimizer=None, progress: Progress = None) -> tf.train.Checkpoint:
    """A ``tf.train.Checkpoint`` of the model weights (and optimizer, progress).

    Its layout is the same under every precision policy: ``model/<path>``,
    ``optimizer/...`` (the optimizer's own slots and step count, never
    float16's wrapper), ``progress/...``, and under float16 also
    ``loss_scale/...``. So a checkpoint written under any precision resumes
    under any other (a missing loss scale starts at Keras's initial one)."""
    parts = {"model": tf.train.Checkpoint(**model.variables_by_path())}
    if optimizer is not None:
        parts["optimizer"] = inner_optimizer(optimizer)
        if parts["optimizer"] is not optimizer:
            if not optimizer.built:   # its build creates the loss scale's variables
                optimizer.build(model.trainable_variables)
            parts["loss_scale"] = LossScale(optimizer)
    if progress is not None:
        parts["progress"] = progress
    return tf.train.Checkpoint(**parts)


_LEGACY_FLOAT16_KEY = "optimizer/inner_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"


def _required_and_optional(checkpoint: tf.train.Checkpoint, stored: set):
    """Two checkpoints over the variables of ``checkpoint``: what ``prefix`` must
    hold (the model, the optimizer, the core of the progress), and what it may
    lack (the later parts of the progress, the loss scale)."""
    required, optional = {}, {}
    if hasattr(checkpoint, "model"):
        required["model"] = checkpoint.model
    optimizer = getattr(checkpoint, "optimizer", None)
    loss_scale = getattr(checkpoint, "loss_scale", None)
    if optimizer is not None and _LEGACY_FLOAT16_KEY in stored:
        # Written by a release that checkpointed float16's wrapper itself.
        legacy = tf.Module()
        legacy.inner_optimizer = optimizer
        if loss_scale is not None:
            legacy.dynamic_scale, legacy.step_counter = (loss_scale.dynamic_scale,
                                                         loss_scale.step_counter)
        required["optimizer"] = legacy
    elif optimizer is not None:
        required["optimizer"] = optimizer
        if loss_scale is not None:
            optional["loss_scale"] = loss_scale
    progress = getattr(checkpoint, "progress", None)
    if progress is not None:
        required["progress"] = progress.parts(Progress.REQUIRED)
        optional["progress"] = progress.parts(Progress.OPTIONAL)
    return tf.train.Checkpoint(**required), tf.train.Checkpoint(**optional)


# What TensorFlow raises for a damaged checkpoint: its own errors, and from its reader a
# bare IndexError ("Read less bytes than requested") for a truncated data file.
_UNREADABLE = (tf.errors.OpError, ValueError, IndexError, RuntimeError, OSError)


def check_readable(prefix: str, flag: str = "--checkpoint_path") -> None:
    """Read every value of checkpoint ``prefix`` once (no model needed), so that a
    truncated or damaged file is one line naming it and ``flag`` before a corpus is
    decoded (:func:`restore` says the same, but only once the model is built)."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except _UNREADABLE as e:
        raise unreadable(prefix, e, flag) from None


def unreadable(prefix: str, error: Exception, flag: str) -> UserError:
    """The one-line error for checkpoint ``prefix`` that TensorFlow could not read."""
    return UserError(f"cannot read checkpoint {prefix} ({flag}): "
                     f"{str(error).splitlines()[0][:200]}; its files may be truncated or "
                     f"damaged (an unfinished copy or download?): copy them again, or pass "
                     f"an earlier checkpoint of its run")


def restore(checkpoint: tf.train.Checkpoint, prefix: str, flag: str = "--checkpoint_path"):
    """Load ``prefix`` into ``checkpoint`` (one of :func:`make_checkpoint`); a file that
    cannot be read is a one-line error naming it and ``flag``.

    The model's weights, the optimizer's state and the core of the progress
    must all be found; values in the file that ``checkpoint`` does not hold
    (the optimizer's, for generation; a loss scale, under another precision)
    are fine, and so are missing later parts of the progress and a missing
    loss scale, which keep their initial values.
    """
    try:
        stored = {name for name, _ in tf.train.list_variables(prefix)}
        required, optional = _required_and_optional(checkpoint, stored)
        status = required.read(prefix)
        status.expect_partial()  # unused values in the file are fine (see above)
        try:
            status.assert_existing_objects_matched()
        except AssertionError as e:
            raise UserError(f"checkpoint {prefix} does not fit this model (was it trained "
                            f"with another config?): {str(e).splitlines()[0][:200]}") from None
        optional.read(prefix).expect_partial()
    except _UNREADABLE as e:
        raise unreadable(prefix, e, flag) from None


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

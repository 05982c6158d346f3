"""Training: the compiled step, the epoch loop and what happens between epochs.

``fit`` tells the story of a run: for each epoch, set the learning rate,
stream the epoch's windows through the compiled training step (carrying the
RNN state from window to window and resetting it where the data says so),
evaluate on the validation windows the same way, then let the callbacks
save checkpoints, write logs, generate audio and decide whether to stop.
Ctrl-C saves what has been reached (see :class:`Interrupted`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time

import keras
import tensorflow as tf

from samplernn.cli import clock
from samplernn.errors import UserError
from samplernn.model import accuracy, cross_entropy, nats_to_bits

log = logging.getLogger("samplernn")

GRADIENT_CLIP_VALUE = 1.0          # element-wise clipping, as PRiSM and the paper's code do
LEARNING_RATE_DECAY = math.exp(-0.1)  # per epoch, after --reduce_learning_rate_after
OPTIMIZERS = ("adam", "sgd", "rmsprop")


def make_optimizer(name: str, learning_rate: float, momentum: float = 0.9):
    """A Keras optimizer with gradient clipping."""
    name = name.lower()
    if learning_rate <= 0:
        raise UserError(f"--learning_rate must be positive, got {learning_rate}")
    if name == "adam":
        return keras.optimizers.Adam(learning_rate, clipvalue=GRADIENT_CLIP_VALUE)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=momentum,
                                    clipvalue=GRADIENT_CLIP_VALUE)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, momentum=momentum,
                                        clipvalue=GRADIENT_CLIP_VALUE)
    raise UserError(f"unknown --optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def set_mixed_precision(enabled: bool) -> str:
    """Choose the compute precision of models built afterwards; return the policy name.

    Mixed precision computes in float16 on GPUs and bfloat16 on CPUs and TPUs,
    keeping float32 weights, RNN states between windows, softmax and loss.
    """
    if not enabled:
        policy = "float32"
    elif tf.config.list_physical_devices("GPU"):
        policy = "mixed_float16"
    else:
        policy = "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def with_loss_scaling(optimizer):
    """Wrap ``optimizer`` for float16 training (bfloat16 has float32's range: no need)."""
    if keras.mixed_precision.global_policy().compute_dtype == "float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def learning_rate_for_epoch(base: float, epoch: int, reduce_after) -> float:
    """Constant, then exponential decay by LEARNING_RATE_DECAY per epoch after
    ``reduce_after`` epochs (``epoch`` is 0-based)."""
    if reduce_after is None or epoch < reduce_after:
        return base
    return base * LEARNING_RATE_DECAY ** (epoch - reduce_after + 1)


class Trainer:
    """The compiled training and evaluation steps of one model and optimizer.

    Both steps take ``(inputs [B, top+S], targets [B, S], reset [], states)``
    and return ``(loss, accuracy, new_states)``; when ``reset`` is true the
    states are replaced by the model's (learned) initial states first, inside
    the gradient tape so that the initial states learn too.

    Under a ``tf.distribute`` strategy (build the model and optimizer in its
    scope) the inputs and states are per-replica values, each replica
    carrying its own rows; loss and accuracy come back averaged over replicas.
    Without one, the default strategy makes this plain single-device training.
    """

    def __init__(self, model, optimizer, jit_compile: bool = False, strategy=None):
        self.model, self.optimizer = model, optimizer
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope():
            self.optimizer.build(model.trainable_variables)
        self.train_step = tf.function(self._distributed(self._train_step),
                                      jit_compile=jit_compile, reduce_retracing=True)
        self.eval_step = tf.function(self._distributed(self._eval_step),
                                     jit_compile=jit_compile, reduce_retracing=True)

    def _distributed(self, replica_step):
        def step(inputs, targets, reset, states):
            loss, acc, states = self.strategy.run(replica_step, (inputs, targets, reset, states))
            mean = tf.distribute.ReduceOp.MEAN
            return (self.strategy.reduce(mean, loss, axis=None),
                    self.strategy.reduce(mean, acc, axis=None), states)
        return step

    def initial_states(self, batch_size: int):
        """Reset states for a global batch, split over the replicas."""
        from samplernn.distribute import per_replica_batch_size

        rows = per_replica_batch_size(self.strategy, batch_size)
        return self.strategy.run(lambda: self.model.initial_states(rows))

    def _reset(self, reset, states, batch_size):
        initial = self.model.initial_states(batch_size)
        return tf.nest.map_structure(lambda s0, s: tf.where(reset, s0, s), initial, states)

    def _train_step(self, inputs, targets, reset, states):
        states = tf.nest.map_structure(tf.stop_gradient, states)  # truncated BPTT
        with tf.GradientTape() as tape:
            states = self._reset(reset, states, tf.shape(inputs)[0])
            logits, new_states = self.model(inputs, states)
            loss = cross_entropy(logits, targets)
            # Gradients are summed over replicas: each contributes its share of the mean.
            replica_loss = loss / self.strategy.num_replicas_in_sync
            scaled_loss = self.optimizer.scale_loss(replica_loss)  # unchanged unless float16
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))
        return loss, accuracy(logits, targets), new_states

    def _eval_step(self, inputs, targets, reset, states):
        states = self._reset(reset, states, tf.shape(inputs)[0])
        logits, new_states = self.model(inputs, states)
        return cross_entropy(logits, targets), accuracy(logits, targets), new_states

    def evaluate(self, data) -> dict:
        """Mean loss (nats), accuracy and bits per sample over the validation windows."""
        if not data.validation_steps:
            return {}
        states = self.initial_states(data.batch_size)
        total_loss = total_accuracy = 0.0
        dataset = data.distributed(self.strategy, data.validation_dataset)
        for inputs, targets, reset in dataset:
            loss, acc, states = self.eval_step(inputs, targets, reset, states)
            total_loss, total_accuracy = total_loss + float(loss), total_accuracy + float(acc)
        loss = total_loss / data.validation_steps
        return {"loss": loss, "accuracy": total_accuracy / data.validation_steps,
                "bits_per_sample": nats_to_bits(loss)}


# ------------------------------------------------------------------ callbacks
class Callback:
    """Hooks called by :func:`fit`. ``epoch`` is 1-based and counts completed epochs."""

    def on_step_end(self, epoch: int, step: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_interrupt(self, epoch: int, step: int) -> None:
        pass

    def should_stop(self) -> bool:
        return False


class StatisticsPrinter(Callback):
    """Per-step line ``Epoch: 1/2, Step: 125/1500, Loss: 4.182, Accuracy: 13.418,
    (0.0357 sec/step)`` (accuracy in percent); ``verbose=False`` overwrites one
    line per epoch. Then one summary line per epoch."""

    def __init__(self, num_epochs: int, steps_per_epoch: int, verbose: bool = True,
                 stream=None):
        self.num_epochs, self.steps_per_epoch, self.verbose = num_epochs, steps_per_epoch, verbose
        self.stream = stream or sys.stdout
        self._epoch_start = None

    def on_step_end(self, epoch, step, logs):
        if self._epoch_start is None:
            self._epoch_start = time.perf_counter()
        line = format_step_line(epoch, self.num_epochs, step, self.steps_per_epoch,
                                logs["loss"], logs["accuracy"], logs["sec_per_step"])
        if self.verbose:
            print(line, file=self.stream, flush=True)
        else:
            print("\r" + line, end="", file=self.stream, flush=True)

    def on_epoch_end(self, epoch, logs):
        if not self.verbose:
            print(file=self.stream)
        elapsed = time.perf_counter() - (self._epoch_start or time.perf_counter())
        self._epoch_start = None
        parts = [f"Epoch: {epoch}/{self.num_epochs} done", f"Loss: {logs['loss']:.3f}",
                 f"Accuracy: {100 * logs['accuracy']:.3f}",
                 f"Bits/sample: {logs['bits_per_sample']:.3f}"]
        if "val_loss" in logs:
            parts += [f"Val Loss: {logs['val_loss']:.3f}",
                      f"Val Accuracy: {100 * logs['val_accuracy']:.3f}",
                      f"Val Bits/sample: {logs['val_bits_per_sample']:.3f}"]
        remaining = (self.num_epochs - epoch) * elapsed
        print(", ".join(parts) + f", ({elapsed:.1f} sec, ETA {clock(remaining)})",
              file=self.stream, flush=True)


def format_step_line(epoch, num_epochs, step, steps_per_epoch, loss, accuracy_fraction,
                     sec_per_step) -> str:
    return (f"Epoch: {epoch}/{num_epochs}, Step: {step}/{steps_per_epoch}, "
            f"Loss: {loss:.3f}, Accuracy: {100 * accuracy_fraction:.3f}, "
            f"({sec_per_step:.4f} sec/step)")


class TensorBoardLogger(Callback):
    """Scalars for TensorBoard under ``<run_dir>/train`` and ``<run_dir>/validation``."""

    def __init__(self, run_dir: str, optimizer):
        self.optimizer = optimizer
        self.train_writer = tf.summary.create_file_writer(f"{run_dir}/train")
        self.val_writer = tf.summary.create_file_writer(f"{run_dir}/validation")

    def on_step_end(self, epoch, step, logs):
        with self.train_writer.as_default(step=int(self.optimizer.iterations.numpy())):
            tf.summary.scalar("step_loss", logs["step_loss"])
            tf.summary.scalar("sec_per_step", logs["sec_per_step"])

    def on_epoch_end(self, epoch, logs):
        for writer, prefix in ((self.train_writer, ""), (self.val_writer, "val_")):
            if prefix + "loss" not in logs:
                continue
            with writer.as_default(step=epoch):
                for name in ("loss", "accuracy", "bits_per_sample"):
                    tf.summary.scalar(name, logs[prefix + name])
                tf.summary.scalar("learning_rate", logs["learning_rate"])
                tf.summary.scalar("epoch_sec_per_step", logs["sec_per_step"])
            writer.flush()


class CsvLogger(Callback):
    """One row per epoch in ``<run_dir>/metrics.csv``: the figures TensorBoard shows."""

    COLUMNS = ("epoch", "loss", "accuracy", "bits_per_sample", "val_loss", "val_accuracy",
               "val_bits_per_sample", "learning_rate", "sec_per_step")

    def __init__(self, path: str):
        self.path = path

    def on_epoch_end(self, epoch, logs):
        import csv
        import os

        new_file = not os.path.exists(self.path)
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, self.COLUMNS, extrasaction="ignore", restval="")
            if new_file:
                writer.writeheader()
            writer.writerow({"epoch": epoch, **logs})


class ImprovementTracker(Callback):
    """Tracks whether the monitored loss improved; stops training after
    ``patience`` epochs without improvement (None: never).

    Its state lives in the checkpoint's :class:`Progress`, so a resumed run
    keeps counting where it stopped. The monitored loss is ``val_loss`` when
    there is validation data, else the training loss.
    """

    def __init__(self, progress, patience):
        self.progress, self.patience = progress, patience
        self.improved = False

    def on_epoch_end(self, epoch, logs):
        monitored = logs.get("val_loss", logs["loss"])
        self.improved = monitored < float(self.progress.best_loss.numpy())
        if self.improved:
            self.progress.best_loss.assign(monitored)
            self.progress.epochs_without_improvement.assign(0)
        else:
            self.progress.epochs_without_improvement.assign_add(1)

    def should_stop(self):
        return (self.patience is not None
                and int(self.progress.epochs_without_improvement) >= self.patience)


class CheckpointSaver(Callback):
    """Saves ``model.ckpt-<epoch>`` every ``every`` epochs (policy ``always``) or
    only when the monitored loss improved (policy ``best``), and always on
    Ctrl-C. ``on_save`` functions are then called with ``(epoch, prefix)``.

    An interrupted epoch ``e`` is saved as ``model.ckpt-<e>`` with progress
    "``e - 1`` epochs completed, ``s`` steps into epoch ``e``"; resuming
    continues epoch ``e`` at step ``s + 1`` (same data order, RNN state reset),
    and the checkpoint written when epoch ``e`` completes replaces it.
    """

    def __init__(self, manager: tf.train.CheckpointManager, every: int, policy: str,
                 tracker: ImprovementTracker, on_save=()):
        self.manager, self.every, self.policy, self.tracker = manager, every, policy, tracker
        self.on_save = list(on_save)

    def on_epoch_end(self, epoch, logs):
        if epoch % self.every:
            return
        if self.policy == "best" and not self.tracker.improved:
            log.info("No improvement in epoch %d: checkpoint not saved (--checkpoint_policy "
                     "Best)", epoch)
            return
        prefix = self.manager.save(checkpoint_number=epoch)
        log.info("Saved checkpoint %s", prefix)
        for function in self.on_save:
            function(epoch, prefix)

    def on_interrupt(self, epoch, step):
        prefix = self.manager.save(checkpoint_number=epoch)
        log.info("Interrupted at epoch %d, step %d: saved %s; run the same command again "
                 "to resume from it", epoch, step, prefix)


# ------------------------------------------------------------------------ fit
@dataclasses.dataclass
class FitResult:
    history: list            # one logs dict per completed epoch
    interrupted: bool = False
    stopped_early: bool = False


def fit(trainer: Trainer, data, num_epochs: int, progress, callbacks=(),
        base_learning_rate: float = None, reduce_learning_rate_after=None) -> FitResult:
    """Train from ``progress`` (completed epochs, steps into the next) to ``num_epochs``.

    Ctrl-C is caught: the callbacks' ``on_interrupt`` run (the checkpoint one
    saves the weights reached), and the result says ``interrupted``.
    """
    batch = data.batch_size
    base_learning_rate = base_learning_rate or float(trainer.optimizer.learning_rate)
    result = FitResult(history=[])
    epoch, step = int(progress.epoch), int(progress.step)
    try:
        while epoch < num_epochs:
            learning_rate = learning_rate_for_epoch(base_learning_rate, epoch,
                                                    reduce_learning_rate_after)
            trainer.optimizer.learning_rate.assign(learning_rate)
            states = trainer.initial_states(batch)
            total_loss = total_accuracy = 0.0
            logs = {"loss": float("nan"), "accuracy": float("nan")}
            steps_run = 0            # steps of this epoch run in this process
            dataset = data.distributed(trainer.strategy, lambda shard, epoch=epoch, skip=step:
                                       data.train_dataset(epoch, shard, skip))
            force_reset = step > 0   # resuming inside an epoch: the carried state is gone
            tick = epoch_start = time.perf_counter()
            for inputs, targets, reset in dataset:
                if force_reset:
                    reset, force_reset = tf.constant(True), False
                loss, acc, states = trainer.train_step(inputs, targets, reset, states)
                loss, acc = float(loss), float(acc)
                step, steps_run = step + 1, steps_run + 1
                total_loss, total_accuracy = total_loss + loss, total_accuracy + acc
                now = time.perf_counter()
                logs = {"loss": total_loss / steps_run, "accuracy": total_accuracy / steps_run,
                        "step_loss": loss, "sec_per_step": now - tick}
                tick = now
                for callback in callbacks:
                    callback.on_step_end(epoch + 1, step, logs)
            logs = {"loss": logs["loss"], "accuracy": logs["accuracy"],
                    "bits_per_sample": nats_to_bits(logs["loss"]),
                    "learning_rate": learning_rate,
                    "sec_per_step": (time.perf_counter() - epoch_start) / max(steps_run, 1)}
            logs.update({f"val_{k}": v for k, v in trainer.evaluate(data).items()})
            epoch, step = epoch + 1, 0
            progress.epoch.assign(epoch)
            progress.step.assign(0)
            result.history.append(logs)
            for callback in callbacks:
                callback.on_epoch_end(epoch, logs)
            if any(callback.should_stop() for callback in callbacks):
                result.stopped_early = epoch < num_epochs
                break
    except KeyboardInterrupt:
        result.interrupted = True
        progress.step.assign(step)  # steps done in the interrupted epoch, for the checkpoint
        for callback in callbacks:
            callback.on_interrupt(epoch + 1, step)
    return result

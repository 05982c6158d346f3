"""What happens around the training loop: statistics, logs, checkpoints, stopping.

:func:`samplernn.training.fit` calls these hooks; each callback does one job.

Why not Keras's own callbacks? They were checked one by one against the
documented behaviour:

- ``keras.callbacks.CallbackList`` / ``Callback``: they have no hook for an
  interruption, which must save a checkpoint recording the steps done.
- ``keras.callbacks.EarlyStopping``: its counters live in the Python object,
  but ours must live in the checkpoint so that a resumed run keeps counting
  (:class:`ImprovementTracker` keeps them in ``Progress``).
- ``keras.callbacks.CSVLogger``: writes whatever keys the logs hold, sorted;
  ``metrics.csv`` has documented, fixed columns, accuracy in percent.
- ``keras.utils.Progbar``: its line is not the documented
  ``Epoch: …, Step: …, Loss: …`` statistics line.
- ``keras.callbacks.TensorBoard``: needs ``model.fit``. We do use TensorFlow's
  own summary writers (``tf.summary``), which is what it uses inside.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import sys
import time

import tensorflow as tf

from samplernn import fileio, runs
from samplernn.progress import RateMeter, clock, is_terminal

log = logging.getLogger("samplernn")

PERCENT = 100.0


class Callback:
    """Hooks called by :func:`samplernn.training.fit`. ``epoch`` is 1-based."""

    def on_step_end(self, epoch: int, step: int, logs: dict) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        pass

    def on_interrupt(self, epoch: int, step: int) -> None:
        """Ctrl-C, SIGTERM or the time budget: ``step`` steps of epoch ``epoch`` are done
        (0: the epoch is complete)."""

    def on_timed_save(self, epoch: int, step: int) -> None:
        """A checkpoint is due by time, ``step`` steps into epoch ``epoch``; training goes on."""

    def should_stop(self) -> bool:
        return False


# ---------------------------------------------------------------- statistics
def format_step_line(epoch, num_epochs, step, steps_per_epoch, loss, accuracy_fraction,
                     sec_per_step, eta_seconds=None) -> str:
    """``Epoch: 1/2, Step: 125/1500, Loss: 4.182, Accuracy: 13.418, (0.0357 sec/step)``
    (accuracy in percent), then ``, ETA 0:01:10`` for the rest of the epoch if known."""
    line = (f"Epoch: {epoch}/{num_epochs}, Step: {step}/{steps_per_epoch}, "
            f"Loss: {loss:.3f}, Accuracy: {PERCENT * accuracy_fraction:.3f}, "
            f"({sec_per_step:.4f} sec/step)")
    return line if eta_seconds is None else f"{line}, ETA {clock(eta_seconds)}"


class StatisticsPrinter(Callback):
    """The statistics line of every step, then a summary line per epoch.

    ``verbose=True`` prints a line per step. ``verbose=False`` rewrites one
    line in place on a terminal; when the output is not a terminal (a log
    file, a pipe) it prints only the epoch summaries, so that a log holds no
    carriage-return flood.
    """

    def __init__(self, num_epochs: int, steps_per_epoch: int, verbose: bool = True,
                 stream=None, max_seconds: float = None):
        self.num_epochs, self.steps_per_epoch, self.verbose = num_epochs, steps_per_epoch, verbose
        self.max_seconds = max_seconds   # a training-time budget: no ETA goes past its end
        self.stream = stream or sys.stdout
        self.in_place = not verbose and is_terminal(self.stream)
        self._epoch_start = None
        self._meter = RateMeter()

    def on_step_end(self, epoch, step, logs):
        if self._epoch_start is None:
            self._epoch_start, self._meter = time.perf_counter(), RateMeter()
        rate = self._meter.update(step)
        eta = self._meter.eta(self.steps_per_epoch - step) if rate > 0 else None
        eta = self._within_budget(eta, logs)
        line = format_step_line(epoch, self.num_epochs, step, self.steps_per_epoch,
                                logs["loss"], logs["accuracy"], logs["sec_per_step"], eta)
        if self.verbose:
            print(line, file=self.stream, flush=True)
        elif self.in_place:
            print("\r" + line, end="", file=self.stream, flush=True)

    def on_epoch_end(self, epoch, logs):
        if self.in_place:
            print(file=self.stream)
        self._epoch_start = None
        elapsed = logs["epoch_seconds"]     # this process's part of the epoch
        steps_run = logs["steps_run"]
        # A whole epoch's time, from the steps run here (a resumed epoch ran fewer).
        epoch_seconds = (elapsed * self.steps_per_epoch / steps_run if steps_run
                         else float("nan"))
        remaining = self._within_budget((self.num_epochs - epoch) * epoch_seconds, logs)
        parts = [f"Epoch: {epoch}/{self.num_epochs} done", f"Loss: {logs['loss']:.3f}",
                 f"Accuracy: {PERCENT * logs['accuracy']:.3f}",
                 f"Bits/sample: {logs['bits_per_sample']:.3f}"]
        if "val_loss" in logs:
            parts += [f"Val Loss: {logs['val_loss']:.3f}",
                      f"Val Accuracy: {PERCENT * logs['val_accuracy']:.3f}",
                      f"Val Bits/sample: {logs['val_bits_per_sample']:.3f}"]
        print(", ".join(parts) + f", ({elapsed:.1f} sec, ETA {clock(remaining)})",
              file=self.stream, flush=True)

    def _within_budget(self, eta, logs):
        """``eta`` (seconds or None), but no later than the end of the budget."""
        if self.max_seconds is None:
            return eta
        left = max(0.0, self.max_seconds - logs["train_seconds"])
        return left if eta is None or not math.isfinite(eta) else min(eta, left)

    def on_interrupt(self, epoch, step):
        if self.in_place:
            print(file=self.stream, flush=True)


class TensorBoardLogger(Callback):
    """Scalars for TensorBoard under ``<run_dir>/train`` and ``<run_dir>/validation``
    (accuracy in percent, as on the console)."""

    def __init__(self, run_dir: str, optimizer):
        self.optimizer = optimizer
        self.train_writer = tf.summary.create_file_writer(f"{run_dir}/train")
        self.val_writer = tf.summary.create_file_writer(f"{run_dir}/validation")

    def note(self, tag: str, text: str) -> None:
        """A line of text under TensorBoard's *Text* tab (what a run started from)."""
        with self.train_writer.as_default(step=0):
            tf.summary.text(tag, text)
        self.train_writer.flush()

    def on_step_end(self, epoch, step, logs):
        with self.train_writer.as_default(step=logs["global_step"]):
            tf.summary.scalar("step_loss", logs["step_loss"])
            tf.summary.scalar("sec_per_step", logs["sec_per_step"])

    def on_epoch_end(self, epoch, logs):
        for writer, prefix in ((self.train_writer, ""), (self.val_writer, "val_")):
            if prefix + "loss" not in logs:
                continue
            with writer.as_default(step=epoch):
                tf.summary.scalar("loss", logs[prefix + "loss"])
                tf.summary.scalar("accuracy", PERCENT * logs[prefix + "accuracy"])
                tf.summary.scalar("bits_per_sample", logs[prefix + "bits_per_sample"])
                tf.summary.scalar("learning_rate", logs["learning_rate"])
                tf.summary.scalar("epoch_sec_per_step", logs["sec_per_step"])
            writer.flush()


class CsvLogger(Callback):
    """One row per epoch in ``<run_dir>/metrics.csv``: the figures TensorBoard
    shows, accuracy in percent as on the console."""

    COLUMNS = ("epoch", "loss", "accuracy", "bits_per_sample", "val_loss", "val_accuracy",
               "val_bits_per_sample", "learning_rate", "sec_per_step", "elapsed_seconds")
    IN_PERCENT = ("accuracy", "val_accuracy")

    def __init__(self, path: str):
        self.path = path

    def on_epoch_end(self, epoch, logs):
        row = {"epoch": epoch, **logs}
        for key in self.IN_PERCENT:
            if key in row:
                row[key] = PERCENT * row[key]
        new_file = not os.path.exists(self.path)
        try:
            with open(self.path, "a", newline="") as f:
                writer = csv.DictWriter(f, self.COLUMNS, extrasaction="ignore", restval="")
                if new_file:
                    writer.writeheader()
                writer.writerow(row)
        except OSError as e:
            raise fileio.write_error(self.path, e) from None


# ------------------------------------------------------- improvement, saving
class ImprovementTracker(Callback):
    """Tracks whether the monitored loss improved; stops training after
    ``patience`` epochs without improvement (None: never).

    Its state lives in the checkpoint's ``Progress``, so a resumed run keeps
    counting where it stopped. The monitored loss is ``val_loss`` when there
    is validation data, else the training loss; a loss that is not a number
    never counts as an improvement.
    """

    def __init__(self, progress, patience):
        self.progress, self.patience = progress, patience
        self.improved = False

    def on_epoch_end(self, epoch, logs):
        monitored = logs.get("val_loss", logs["loss"])
        self.improved = (math.isfinite(monitored)
                         and monitored < float(self.progress.best_loss.numpy()))
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
    Ctrl-C or SIGTERM. ``on_save`` functions are then called with ``(epoch, prefix)``.

    An interrupted epoch ``e`` is saved as ``model.ckpt-<e>`` with progress
    "``e - 1`` epochs completed, ``s`` steps into epoch ``e``"; resuming
    continues epoch ``e`` at step ``s + 1`` (same data order, RNN state reset),
    and the checkpoint written when epoch ``e`` completes replaces it. Under
    ``best`` a state that is not a best model (a stop, a timed save, the end of
    an epoch that did not improve) is saved as ``state.ckpt-<e>`` instead, and
    the one before it is deleted; a new best ``model.ckpt`` deletes it too. So
    resuming always finds the newest state, and generation from a run or id
    directory keeps taking the best ``model.ckpt`` (see :mod:`samplernn.runs`).
    A full disk is a one-line error; the previous checkpoint stays as it was.
    """

    def __init__(self, manager: tf.train.CheckpointManager, every: int, policy: str,
                 tracker: ImprovementTracker, on_save=()):
        self.manager, self.every, self.policy, self.tracker = manager, every, policy, tracker
        self.on_save = list(on_save)
        self.saved_epoch = None   # the completed epoch whose state was saved last

    def _save(self, epoch: int, state: bool = False) -> str:
        """Write a checkpoint of epoch ``epoch``: a ``state.ckpt`` under ``best`` when
        ``state`` (not a best model), else the manager's ``model.ckpt``. Then the
        states it supersedes are deleted (never before it is complete)."""
        on_disk = isinstance(self.manager, tf.train.CheckpointManager)
        try:
            if state and self.policy == "best" and on_disk:
                prefix = self.manager.checkpoint.write(
                    os.path.join(self.manager.directory, f"{runs.STATE_NAME}-{epoch}"))
            else:
                prefix = self.manager.save(checkpoint_number=epoch)
        except (tf.errors.OpError, OSError) as e:
            raise fileio.write_error(self.manager.directory, e, "checkpoint") from None
        if on_disk:
            runs.remove_states(self.manager.directory, keep=prefix)
        return prefix

    def on_epoch_end(self, epoch, logs):
        if epoch % self.every:
            return
        if self.policy == "best" and not self.tracker.improved:
            prefix = self._save(epoch, state=True)
            self.saved_epoch = epoch
            log.info("No improvement in epoch %d: not a best model (--checkpoint_policy "
                     "Best); its state is kept for resuming in %s", epoch, prefix)
            return
        prefix = self._save(epoch)
        self.saved_epoch = epoch
        log.info("Saved checkpoint %s", prefix)
        for function in self.on_save:
            function(epoch, prefix)

    def on_interrupt(self, epoch, step):
        """Stopped by a signal or the time budget: save what was reached (train.py then
        says how to continue)."""
        if step == 0 and self.saved_epoch == epoch:
            log.info("Stopped after epoch %d; its checkpoint is saved", epoch)
            return
        prefix = self._save(epoch, state=True)
        where = f"after epoch {epoch}" if step == 0 else f"at epoch {epoch}, step {step}"
        log.info("Stopped %s: saved %s", where, prefix)

    def on_timed_save(self, epoch, step):
        """Mid-epoch, so that a crash or a kill loses at most the time since."""
        prefix = self._save(epoch, state=True)
        log.info("Saved %s (epoch %d, step %d; --checkpoint_every_minutes)", prefix, epoch,
                 step)

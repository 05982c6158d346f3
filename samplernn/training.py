"""Training: the compiled step, the epoch loop and what happens between epochs.

``fit`` tells the story of a run: for each epoch, set the learning rate,
stream the epoch's windows through the compiled training step (carrying the
RNN state from window to window and resetting it where the data says so),
evaluate on the validation windows the same way, then let the callbacks
save checkpoints, write logs, generate audio and decide whether to stop.
Ctrl-C stops at the next step boundary and saves what has been reached
(see :mod:`samplernn.interrupts`); callbacks live in :mod:`samplernn.callbacks`.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import tensorflow as tf

from samplernn.compiling import compiled
from samplernn.interrupts import NEVER, InterruptFlag
from samplernn.model import accuracy, cross_entropy, nats_to_bits
from samplernn.schedule import LearningRateSchedule

log = logging.getLogger("samplernn")

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

    def __init__(self, model, optimizer, jit_compile: bool = False, strategy=None,
                 input_noise: float = 0.0):
        self.model, self.optimizer = model, optimizer
        self.input_noise = input_noise   # std of the noise added to inputs, in levels
        self.strategy = strategy or tf.distribute.get_strategy()
        with self.strategy.scope():
            self.optimizer.build(model.trainable_variables)
        # The loss and accuracy as XLA-compiled pieces of a plain step (2.5x faster there);
        # nested inside a step that XLA compiles whole, they made it recompile every call.
        self.cross_entropy, self.accuracy = ((cross_entropy, accuracy) if jit_compile
                                             else (compiled(cross_entropy), compiled(accuracy)))
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

    def _noisy(self, inputs):
        """``inputs [B, top+S]`` (classes) with Gaussian noise of ``input_noise`` levels
        added and rounded, inside the class range: the model learns to predict the
        clean targets from inputs as imperfect as its own samples (LPCNet's remedy)."""
        if not self.input_noise:
            return inputs
        q_levels = self.model.config.q_levels
        noise = tf.random.normal(tf.shape(inputs), stddev=self.input_noise)
        noisy = tf.round(tf.cast(inputs, tf.float32) + noise)
        return tf.cast(tf.clip_by_value(noisy, 0, q_levels - 1), inputs.dtype)

    def _train_step(self, inputs, targets, reset, states):
        states = tf.nest.map_structure(tf.stop_gradient, states)  # truncated BPTT
        with tf.GradientTape() as tape:
            states = self._reset(reset, states, tf.shape(inputs)[0])
            logits, new_states = self.model(self._noisy(inputs), states)
            loss = self.cross_entropy(logits, targets)
            # Gradients are summed over replicas: each contributes its share of the mean.
            replica_loss = loss / self.strategy.num_replicas_in_sync
            scaled_loss = self.optimizer.scale_loss(replica_loss)  # unchanged unless float16
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))
        return loss, self.accuracy(logits, targets), new_states

    def _eval_step(self, inputs, targets, reset, states):
        states = self._reset(reset, states, tf.shape(inputs)[0])
        logits, new_states = self.model(inputs, states)
        return self.cross_entropy(logits, targets), self.accuracy(logits, targets), new_states

    def evaluate(self, data, interrupt=NEVER):
        """Mean loss (nats), accuracy and bits per sample over the validation windows:
        ``{}`` without validation data, None when ``interrupt`` was requested first."""
        if not data.validation_steps:
            return {}
        states = self.initial_states(data.batch_size)
        total_loss = total_accuracy = 0.0
        dataset = data.distributed(self.strategy, data.validation_dataset)
        for inputs, targets, reset in dataset:
            if interrupt.requested:
                return None
            loss, acc, states = self.eval_step(inputs, targets, reset, states)
            total_loss, total_accuracy = total_loss + float(loss), total_accuracy + float(acc)
        loss = total_loss / data.validation_steps
        return {"loss": loss, "accuracy": total_accuracy / data.validation_steps,
                "bits_per_sample": nats_to_bits(loss)}


# ------------------------------------------------------------------- readback
READBACK_STEPS = 50         # read loss and accuracy back at least this often...
READBACK_SECONDS = 1.0      # ... and at least once a second


class Readback:
    """Reads the training step's loss and accuracy back from the device in batches.

    Reading a value back makes the host wait until the device has finished
    every step queued before it; doing that at every step would leave a GPU
    idle while the host prepares the next one. Steps' results are kept as
    device tensors and read back after the first step, then every
    READBACK_STEPS steps or READBACK_SECONDS, whichever comes first; the
    callbacks' ``on_step_end`` runs at each readback (its ``step`` the last
    step read), with the running means of loss and accuracy over the steps
    read so far, the epoch's earlier steps included (``prior_*_sum``: an
    interrupted run's), and in ``sec_per_step`` the mean time per step since
    the previous readback.
    """

    def __init__(self, epoch: int, callbacks, optimizer, prior_loss_sum: float = 0.0,
                 prior_accuracy_sum: float = 0.0, train_seconds=lambda: 0.0):
        self.epoch, self.callbacks, self.optimizer = epoch, callbacks, optimizer
        self.train_seconds = train_seconds         # () -> training time of the run so far
        self.loss_sum = self.accuracy_sum = 0.0    # over the steps read back
        self.prior_loss_sum, self.prior_accuracy_sum = prior_loss_sum, prior_accuracy_sum
        self.pending = []                          # (loss, accuracy) device scalars
        self.step, self.steps_read = 0, 0
        self.tick = time.perf_counter()

    def add(self, step: int, loss, accuracy) -> None:
        """Keep step ``step``'s results; read back if it is time."""
        self.pending.append((loss, accuracy))
        self.step = step
        if (self.steps_read == 0 or len(self.pending) >= READBACK_STEPS
                or time.perf_counter() - self.tick >= READBACK_SECONDS):
            self.flush()

    def flush(self) -> None:
        """Read every pending step back (one wait) and tell the callbacks."""
        if not self.pending:
            return
        values = tf.stack([tf.stack([tf.cast(loss, tf.float32), tf.cast(acc, tf.float32)])
                           for loss, acc in self.pending]).numpy()   # [steps, 2]
        count = len(self.pending)
        self.pending = []
        for loss, acc in values.tolist():                           # the order of a per-step sum
            self.loss_sum, self.accuracy_sum = self.loss_sum + loss, self.accuracy_sum + acc
        self.steps_read += count
        now = time.perf_counter()
        logs = {"loss": (self.prior_loss_sum + self.loss_sum) / self.step,
                "accuracy": (self.prior_accuracy_sum + self.accuracy_sum) / self.step,
                "step_loss": values[-1, 0], "sec_per_step": (now - self.tick) / count,
                "global_step": int(self.optimizer.iterations.numpy()),
                "train_seconds": self.train_seconds()}
        self.tick = now
        for callback in self.callbacks:
            callback.on_step_end(self.epoch, self.step, logs)


# ------------------------------------------------------------------------ fit
@dataclasses.dataclass
class FitResult:
    history: list            # one logs dict per completed epoch
    interrupted: bool = False
    stopped_early: bool = False
    out_of_time: bool = False  # the training-time budget (max_seconds) ran out


def fit(trainer: Trainer, data, num_epochs: int, progress, callbacks=(),
        schedule: LearningRateSchedule = None, interrupt: InterruptFlag = None,
        max_seconds: float = None, save_every_seconds: float = None) -> FitResult:
    """Train from ``progress`` (completed epochs, steps into the next) to ``num_epochs``.

    ``schedule`` sets the learning rate at every step (see
    :mod:`samplernn.schedule`); without one the optimizer's rate stays as it is.

    Ctrl-C (SIGINT) is a request, checked between steps (see
    :mod:`samplernn.interrupts`): training stops at the next step boundary,
    the callbacks' ``on_interrupt`` run (the checkpoint one saves what was
    reached) and the result says ``interrupted``. ``interrupt`` is the flag
    to use (installed here for the duration); pass the one that other work
    in the loop, like audio generation in a callback, also watches.

    ``max_seconds`` is a budget of training time (``progress.train_seconds``,
    counted over resumes): training stops at the first step boundary past
    it, mid-epoch if need be, and saves as on Ctrl-C; the result says
    ``out_of_time``.

    ``save_every_seconds`` bounds what a crash or a SIGKILL loses: when that
    much wall time has passed since the last save (or the start), the
    progress records the steps done so far and the callbacks'
    ``on_timed_save`` run (the checkpoint one saves a mid-epoch checkpoint,
    as on Ctrl-C). The count runs across epoch ends, which may not save
    (``--checkpoint_every``, ``--checkpoint_policy Best``).
    """
    interrupt = interrupt or InterruptFlag()
    started = time.perf_counter()
    schedule = schedule or LearningRateSchedule(float(trainer.optimizer.learning_rate))
    if int(progress.global_step) < 0:   # a checkpoint from before global_step was saved
        progress.global_step.assign(int(trainer.optimizer.iterations.numpy()))
    budget = _Budget(progress, max_seconds)
    timed_saves = _Countdown(save_every_seconds)
    result = FitResult(history=[])
    with interrupt:
        while (int(progress.epoch) < num_epochs and not interrupt.requested
               and not budget.spent()):
            logs = _train_epoch(trainer, data, progress, callbacks, interrupt, schedule,
                                budget, timed_saves)
            if logs is None:          # stopped before the epoch was complete
                break
            logs["elapsed_seconds"] = time.perf_counter() - started   # wall time in this call
            result.history.append(logs)
            for callback in callbacks:
                callback.on_epoch_end(int(progress.epoch), logs)
            if any(callback.should_stop() for callback in callbacks):
                result.stopped_early = int(progress.epoch) < num_epochs
                break
        result.out_of_time = (budget.spent() and not result.stopped_early
                              and int(progress.epoch) < num_epochs)
        result.interrupted = interrupt.requested
        if result.interrupted or result.out_of_time:
            epoch, step = int(progress.epoch), int(progress.step)
            # Mid-epoch: epoch + 1 is in progress; at a boundary, epoch is complete.
            for callback in callbacks:
                callback.on_interrupt(epoch + 1 if step else epoch, step)
    return result


class _Budget:
    """The training-time budget of :func:`fit`: ``progress.train_seconds`` so far
    plus the time of the epoch in progress (from :meth:`start_epoch`)."""

    def __init__(self, progress, max_seconds):
        self.progress, self.max_seconds = progress, max_seconds
        self.epoch_start = None

    def start_epoch(self) -> None:
        self.epoch_start = time.perf_counter()

    def seconds(self) -> float:
        running = 0.0 if self.epoch_start is None else time.perf_counter() - self.epoch_start
        return float(self.progress.train_seconds) + running

    def end_epoch(self) -> None:
        """Add the epoch's time (so far) to ``progress.train_seconds``."""
        self.progress.train_seconds.assign(self.seconds())
        self.epoch_start = None

    def record(self) -> None:
        """Bring ``progress.train_seconds`` up to now, mid-epoch (for a checkpoint)."""
        self.end_epoch()
        self.start_epoch()

    def spent(self) -> bool:
        return self.max_seconds is not None and self.seconds() >= self.max_seconds


class _Countdown:
    """Wall time since the last timed checkpoint (or the start); ``due`` once it is
    ``seconds`` (None: never)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.restart()

    def restart(self) -> None:
        self.since = time.perf_counter()

    def due(self) -> bool:
        return self.seconds is not None and time.perf_counter() - self.since >= self.seconds


def _train_epoch(trainer, data, progress, callbacks, interrupt, schedule, budget,
                 timed_saves):
    """Train (the rest of) one epoch and validate it: the epoch's logs, or None if
    interrupted or out of time. Then ``progress`` records the steps done and their
    loss sums (for the checkpoint); at the end it records the completed epoch."""
    epoch, step = int(progress.epoch), int(progress.step)
    budget.start_epoch()
    # Steps run over all epochs (0-based), as the checkpoint stores them: the warm-up
    # counts them. Read once; each step below adds one.
    global_step = int(progress.global_step)
    steps_per_epoch = data.train_steps_per_epoch

    def learning_rate_now():
        # The share of the run done counts epochs (and this one's steps), so that a
        # resume with another batch size or corpus stays on the schedule's curve.
        fraction = schedule.fraction(epoch, step, steps_per_epoch, budget.seconds())
        return schedule.rate(epoch, global_step, fraction)

    learning_rate = learning_rate_now()
    trainer.optimizer.learning_rate.assign(learning_rate)
    per_step = schedule.spans_the_run()
    states = trainer.initial_states(data.batch_size)
    # Sums over the epoch's steps before this process (an interrupted run's).
    total_loss, total_accuracy = float(progress.loss_sum), float(progress.accuracy_sum)
    steps_run = 0            # steps of this epoch run in this process
    dataset = data.distributed(trainer.strategy, lambda shard, skip=step:
                               data.train_dataset(epoch, shard, skip))
    force_reset = step > 0   # resuming inside an epoch: the carried state is gone
    # Loss and accuracy stay on the device until read back (no per-step wait).
    readback = Readback(epoch + 1, callbacks, trainer.optimizer, total_loss, total_accuracy,
                        budget.seconds)
    epoch_start = time.perf_counter()
    stopped = False
    for inputs, targets, reset in dataset:
        if interrupt.requested or budget.spent():
            stopped = True
            break
        if force_reset:
            reset, force_reset = tf.constant(True), False
        if per_step or global_step < schedule.warmup_steps:
            learning_rate = learning_rate_now()
            trainer.optimizer.learning_rate.assign(learning_rate)
        loss, acc, states = trainer.train_step(inputs, targets, reset, states)
        step, steps_run, global_step = step + 1, steps_run + 1, global_step + 1
        readback.add(step, loss, acc)
        if timed_saves.due() and step < steps_per_epoch:   # else the epoch's end is next
            readback.flush()
            progress.global_step.assign(global_step)
            progress.record_step(step, total_loss + readback.loss_sum,
                                 total_accuracy + readback.accuracy_sum)
            budget.record()
            for callback in callbacks:
                callback.on_timed_save(epoch + 1, step)
            timed_saves.restart()
    readback.flush()
    progress.global_step.assign(global_step)
    total_loss += readback.loss_sum
    total_accuracy += readback.accuracy_sum
    validation = None if stopped else trainer.evaluate(data, interrupt)
    budget.end_epoch()
    if validation is None:   # stopped: the checkpoint needs the steps done so far
        progress.record_step(step, total_loss, total_accuracy)
        return None
    logs = {"loss": total_loss / step, "accuracy": total_accuracy / step,
            "bits_per_sample": nats_to_bits(total_loss / step),
            "learning_rate": learning_rate,
            "sec_per_step": (time.perf_counter() - epoch_start) / max(steps_run, 1),
            "epoch_seconds": time.perf_counter() - epoch_start,   # in this process
            "steps_run": steps_run, "train_seconds": float(progress.train_seconds)}
    logs.update({f"val_{k}": v for k, v in validation.items()})
    progress.complete_epoch(epoch + 1)
    return logs

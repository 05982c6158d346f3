"""The learning rate over training: a linear warm-up, then one of four shapes.

    rate = base * warmup(step) * shape(epoch, fraction)

- ``warmup(step) = min(1, (step + 1) / warmup_steps)``: ``step`` counts every
  training step from the start of the run (0-based, over all epochs and
  resumes; :attr:`samplernn.checkpoints.Progress.global_step`);
  ``warmup_steps = 0`` starts at the full rate.
- ``constant``: 1.
- ``exponential`` (PRiSM's, the default): ``decay_per_epoch ** max(0, epoch -
  decay_after_epochs + 1)`` for 0-based ``epoch``; ``decay_after_epochs = None``
  never decays, so by default the rate is constant, as in PRiSM's train.py.
- ``linear``: from 1 down to ``floor`` at the end of the run:
  ``floor + (1 - floor) * (1 - fraction)``.
- ``cosine``: the same ends, along half a cosine:
  ``floor + (1 - floor) * (1 + cos(pi * fraction)) / 2``.

``fraction`` is how much of the run's planned length is done, in [0, 1]: the
training time so far over ``planned_minutes`` (``train.py --max_minutes``),
or else the epochs so far over ``planned_epochs`` (``--num_epochs``), where
the epoch in progress counts its share of steps done (``completed + step /
steps_per_epoch``). Counted in epochs, not in steps, the run stays on its
curve when it is resumed with another ``--batch_size`` or with files added
to the corpus, which change the steps in an epoch but not the epochs done.
The floor is 0 unless ``--learning_rate_floor`` says otherwise.

A schedule counted in epochs is tuned to one machine's speed and one
corpus's size; one counted over the run's budget ends its decay when the
budget ends, on any machine (budget-aware linear decay was found robust
across tasks by Li, Yumer and Ramanan, "Budgeted Training", ICLR 2020).

Each run saves its schedule as JSON beside its checkpoints, keyed by the
train.py flags (``learning_rate.json``); resuming with other values of the
flags that the shape uses is an error naming them unless train.py is told
``--allow_schedule_change True``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

from samplernn.errors import UserError
from samplernn.fileio import atomic_write_text

# PRiSM's decay once --reduce_learning_rate_after is reached: e^-0.1 per epoch.
DEFAULT_DECAY_PER_EPOCH = math.exp(-0.1)
SHAPES = ("exponential", "constant", "linear", "cosine")
DEFAULT_SHAPE = "exponential"
SECONDS_PER_MINUTE = 60.0

# The train.py flag of each field.
FLAGS = {"base": "learning_rate", "warmup_steps": "learning_rate_warmup_steps",
         "decay_after_epochs": "reduce_learning_rate_after",
         "decay_per_epoch": "learning_rate_decay", "shape": "learning_rate_schedule",
         "floor": "learning_rate_floor", "planned_minutes": "max_minutes",
         "planned_epochs": "num_epochs"}
# The fields each shape reads (the others may change on resume without effect).
USED_FIELDS = {"constant": ("base", "warmup_steps"),
               "exponential": ("base", "warmup_steps", "decay_after_epochs",
                               "decay_per_epoch"),
               "linear": ("base", "warmup_steps", "floor", "planned_minutes",
                          "planned_epochs"),
               "cosine": ("base", "warmup_steps", "floor", "planned_minutes",
                          "planned_epochs")}
SPANNING = ("linear", "cosine")   # the shapes that span the run's planned length


@dataclasses.dataclass(frozen=True)
class LearningRateSchedule:
    base: float                          # the rate after warm-up, before decay
    warmup_steps: int = 0                # steps of linear warm-up from base / warmup_steps
    decay_after_epochs: int | None = None
    decay_per_epoch: float = DEFAULT_DECAY_PER_EPOCH
    shape: str = DEFAULT_SHAPE
    floor: float = 0.0                   # linear, cosine: the final rate, a fraction of base
    planned_minutes: float | None = None  # the run's length as a training-time budget...
    planned_epochs: int | None = None     # ... or else in epochs

    def __post_init__(self):
        if not self.base > 0:
            raise UserError(f"--learning_rate must be positive, got {self.base}")
        if self.warmup_steps < 0:
            raise UserError(f"--learning_rate_warmup_steps must be 0 or more, "
                            f"got {self.warmup_steps}")
        if not 0 < self.decay_per_epoch <= 1:
            raise UserError(f"--learning_rate_decay must be in (0, 1], got "
                            f"{self.decay_per_epoch}")
        if self.shape not in SHAPES:
            raise UserError(f"--learning_rate_schedule must be one of {', '.join(SHAPES)}, "
                            f"got {self.shape!r}")
        if not 0 <= self.floor <= 1:
            raise UserError(f"--learning_rate_floor must be in [0, 1], got {self.floor}")
        if self.shape in SPANNING and self.decay_after_epochs is not None:
            raise UserError(f"--reduce_learning_rate_after belongs to the exponential "
                            f"schedule; --learning_rate_schedule {self.shape} decays over "
                            f"the whole run by itself: drop one of the two")
        if self.shape in SPANNING and not (self.planned_minutes or self.planned_epochs):
            raise UserError(f"--learning_rate_schedule {self.shape} needs the run's length: "
                            f"--max_minutes or --num_epochs")

    # ------------------------------------------------------------- the rate
    def spans_the_run(self) -> bool:
        """Whether the rate depends on how much of the planned run is done."""
        return self.shape in SPANNING

    def fraction(self, epoch: int, step: int, steps_per_epoch: int,
                 train_seconds: float) -> float:
        """How much of the planned run is done, in [0, 1] (see module docs): ``epoch``
        epochs completed, ``step`` of the next one's ``steps_per_epoch`` steps done,
        ``train_seconds`` of training time spent."""
        if self.planned_minutes:
            done = train_seconds / (SECONDS_PER_MINUTE * self.planned_minutes)
        elif self.planned_epochs:
            epoch_share = min(1.0, step / max(1, steps_per_epoch))
            done = (epoch + epoch_share) / self.planned_epochs
        else:
            done = 0.0
        return min(1.0, max(0.0, done))

    def decay_factor(self, epoch: int, fraction: float = 0.0) -> float:
        """The shape's factor for 0-based ``epoch`` at ``fraction`` of the run."""
        if self.shape == "linear":
            return self.floor + (1.0 - self.floor) * (1.0 - fraction)
        if self.shape == "cosine":
            return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * fraction))
        if (self.shape == "constant" or self.decay_after_epochs is None
                or epoch < self.decay_after_epochs):
            return 1.0
        return self.decay_per_epoch ** (epoch - self.decay_after_epochs + 1)

    def warmup_factor(self, step: int) -> float:
        """The warm-up's factor for 0-based global training ``step``."""
        if step >= self.warmup_steps:
            return 1.0
        return (step + 1) / self.warmup_steps

    def rate(self, epoch: int, step: int, fraction: float = 0.0) -> float:
        """The learning rate of global training ``step``, in 0-based ``epoch``, with
        ``fraction`` of the planned run done."""
        return self.base * self.decay_factor(epoch, fraction) * self.warmup_factor(step)

    # ------------------------------------------------------------- stored
    def to_flags(self) -> dict:
        """``{flag name: value}``, as saved beside a run's checkpoints."""
        return {flag: getattr(self, field) for field, flag in FLAGS.items()}

    def save(self, path: str) -> None:
        atomic_write_text(path, json.dumps(self.to_flags(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str):
        """The schedule saved at ``path``, or None where there is none (a run from
        before schedules were saved, or a file that cannot be read). Flags that
        an older release did not save take their defaults."""
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                flags = json.load(f)
            return cls(**{field: flags[flag] for field, flag in FLAGS.items() if flag in flags})
        except (OSError, ValueError, KeyError, TypeError, UserError):
            return None

    def differences(self, saved: "LearningRateSchedule") -> list:
        """``["--learning_rate_warmup_steps: 200 in the checkpoint, 100 given now", ...]``,
        over the flags that either schedule's shape uses."""
        used = set(USED_FIELDS[self.shape]) | set(USED_FIELDS[saved.shape]) | {"shape"}
        if self.spans_the_run() and self.planned_minutes:
            used.discard("planned_epochs")   # the budget, not --num_epochs, sets the length
        given, theirs = self.to_flags(), saved.to_flags()
        return [f"--{FLAGS[field]}: {theirs[FLAGS[field]]} in the checkpoint, "
                f"{given[FLAGS[field]]} given now"
                for field in FLAGS if field in used
                and given[FLAGS[field]] != theirs[FLAGS[field]]]

"""The learning rate over training: a linear warm-up, a constant stretch, then
an exponential decay per epoch.

    rate(epoch, step) = base * min(1, (step + 1) / warmup_steps)
                             * decay_per_epoch ** max(0, epoch - decay_after_epochs + 1)

``step`` counts training steps from the start of training (over all epochs,
0-based: the optimizer's ``iterations``, saved in every checkpoint); ``epoch``
is 0-based. ``decay_after_epochs = None`` never decays;
``warmup_steps = 0`` starts at the full rate. train.py's
``--reduce_learning_rate_after``, ``--learning_rate_decay`` and
``--learning_rate_warmup_steps`` fill it in; the defaults reproduce a constant
rate, as PRiSM's train.py uses unless told otherwise.

Each run saves its schedule as JSON beside its checkpoints, keyed by the flags
(``learning_rate.json``); resuming with other values is an error naming them
unless train.py is told ``--allow_schedule_change True``.
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


# The train.py flag of each field.
FLAGS = {"base": "learning_rate", "warmup_steps": "learning_rate_warmup_steps",
         "decay_after_epochs": "reduce_learning_rate_after",
         "decay_per_epoch": "learning_rate_decay"}


@dataclasses.dataclass(frozen=True)
class LearningRateSchedule:
    base: float                          # the rate after warm-up, before decay
    warmup_steps: int = 0                # steps of linear warm-up from base / warmup_steps
    decay_after_epochs: int | None = None
    decay_per_epoch: float = DEFAULT_DECAY_PER_EPOCH

    def __post_init__(self):
        if not self.base > 0:
            raise UserError(f"--learning_rate must be positive, got {self.base}")
        if self.warmup_steps < 0:
            raise UserError(f"--learning_rate_warmup_steps must be 0 or more, "
                            f"got {self.warmup_steps}")
        if not 0 < self.decay_per_epoch <= 1:
            raise UserError(f"--learning_rate_decay must be in (0, 1], got "
                            f"{self.decay_per_epoch}")

    def decay_factor(self, epoch: int) -> float:
        """The decay's factor for 0-based ``epoch`` (1 before ``decay_after_epochs``)."""
        if self.decay_after_epochs is None or epoch < self.decay_after_epochs:
            return 1.0
        return self.decay_per_epoch ** (epoch - self.decay_after_epochs + 1)

    def warmup_factor(self, step: int) -> float:
        """The warm-up's factor for 0-based global training ``step``."""
        if step >= self.warmup_steps:
            return 1.0
        return (step + 1) / self.warmup_steps

    def rate(self, epoch: int, step: int) -> float:
        """The learning rate of global training ``step``, in 0-based ``epoch``."""
        return self.base * self.decay_factor(epoch) * self.warmup_factor(step)

    # ------------------------------------------------------------- stored
    def to_flags(self) -> dict:
        """``{flag name: value}``, as saved beside a run's checkpoints."""
        return {flag: getattr(self, field) for field, flag in FLAGS.items()}

    def save(self, path: str) -> None:
        atomic_write_text(path, json.dumps(self.to_flags(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str):
        """The schedule saved at ``path``, or None where there is none (a run from
        before schedules were saved, or a file that cannot be read)."""
        if not os.path.isfile(path):
            return None
        try:
            with open(path, encoding="utf-8") as f:
                flags = json.load(f)
            return cls(**{field: flags[flag] for field, flag in FLAGS.items()})
        except (OSError, ValueError, KeyError, TypeError, UserError):
            return None

    def differences(self, saved: "LearningRateSchedule") -> list:
        """``["--learning_rate_warmup_steps: 200 in the checkpoint, 100 given now", ...]``."""
        given, theirs = self.to_flags(), saved.to_flags()
        return [f"--{flag}: {theirs[flag]} in the checkpoint, {given[flag]} given now"
                for flag in given if given[flag] != theirs[flag]]

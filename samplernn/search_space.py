"""What a hyperparameter search is, before Keras Tuner runs it: the choices, their
check against the base config, and the record that makes a resumed search the
same search. No TensorFlow or Keras Tuner here, so tune.py rejects a bad
choice in a second (the search itself is in :mod:`samplernn.tuning`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
from typing import TYPE_CHECKING

from samplernn.config import ConfigError, ModelConfig
from samplernn.errors import UserError
from samplernn.fileio import atomic_write_text

if TYPE_CHECKING:   # imported by the tuner only: no TensorFlow before the checks
    import keras_tuner

MODEL_KEYS = ("frame_sizes", "dim", "rnn_type", "num_rnn_layers", "seq_len", "q_type",
              "skip_conn")
TRAINING_KEYS = ("learning_rate", "momentum", "batch_size")
TUNER_TYPES = ("random_search", "bayesian", "hyperband")
OBJECTIVES = {"loss": "min", "val_loss": "min", "accuracy": "max", "val_accuracy": "max"}



@dataclasses.dataclass
class SearchSpace:
    """Lists of choices; a key with one choice is fixed."""
    choices: dict       # key -> list of values (frame_sizes as lists of ints)

    def validate(self, base: ModelConfig) -> None:
        """Reject any choice, or pair of choices, that makes an invalid model or run."""
        for frame_sizes, seq_len in itertools.product(
                self.choices.get("frame_sizes", [list(base.frame_sizes)]),
                self.choices.get("seq_len", [base.seq_len])):
            _check(base, f"--frame_sizes {choice_text(frame_sizes)} with --seq_len {seq_len}",
                   frame_sizes=frame_sizes, seq_len=seq_len)
        for key in MODEL_KEYS:
            if key not in ("frame_sizes", "seq_len"):
                for value in self.choices.get(key, []):
                    _check(base, f"--{key} {choice_text(value)}", **{key: value})
        for key in ("learning_rate", "batch_size"):
            for value in self.choices.get(key, []):
                if not value > 0:
                    raise UserError(f"--{key} choices must be positive, got {value}")

    def define(self, hp: keras_tuner.HyperParameters) -> dict:
        """Register the choices with Keras Tuner; return this trial's values."""
        values = {}
        for key, options in self.choices.items():
            if key == "frame_sizes":
                chosen = hp.Choice(key, [choice_text(o) for o in options])
                values[key] = [int(size) for size in chosen.split(",")]
            else:
                values[key] = hp.Choice(key, options)
        return values


def _check(base: ModelConfig, what: str, **values) -> None:
    try:
        base.replace(source=what, **values)
    except ConfigError as e:
        raise UserError(str(e)) from None


def choice_text(value) -> str:
    """A choice as written on the command line (``16,64`` for a list)."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def best_epoch(history: list, objective: str) -> dict:
    """The metrics of the epoch that is best for ``objective`` (accuracy in percent)."""
    if not history or objective not in history[0]:
        raise UserError(f"the objective {objective} was not measured; use --num_val_batches "
                        f"1 or more for val_loss and val_accuracy")
    pick = min if OBJECTIVES[objective] == "min" else max
    best = pick(history, key=lambda logs: logs[objective])
    return {k: float(v) for k, v in best.items() if isinstance(v, float) and math.isfinite(v)}


SEARCH_RECORD = "samplernn_search.json"   # the arguments a search was started with


def check_resumed_search(project_dir: str, arguments: dict, overwrite: bool) -> None:
    """Resuming a search with other arguments than it was started with is an
    error (Keras Tuner would mix the two searches' trials)."""
    path = os.path.join(project_dir, SEARCH_RECORD)
    if overwrite or not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        stored = json.load(f)
    arguments = json.loads(json.dumps(arguments))   # tuples as lists, as stored
    changed = [f"{key}: {stored.get(key)} != {arguments.get(key)}"
               for key in sorted(set(stored) | set(arguments))
               if stored.get(key) != arguments.get(key)]
    if changed:
        raise UserError(f"the search in {project_dir} was started with other arguments "
                        f"({'; '.join(changed)}); give the same arguments to resume it, "
                        f"or --overwrite True to start afresh")


def record_search(project_dir: str, arguments: dict) -> None:
    """Store the arguments that define the search, for :func:`check_resumed_search`."""
    atomic_write_text(os.path.join(project_dir, SEARCH_RECORD),
                      json.dumps(arguments, indent=2) + "\n")

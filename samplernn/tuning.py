"""Hyperparameter search with Keras Tuner over the model config and optimizer.

Each trial builds a model from the chosen values and trains it with the same
data pipeline, state-reset logic and training loop as train.py
(:func:`samplernn.training.fit`); the tuner only chooses values and compares
the objective. The corpus is decoded and quantized once per quantization type
for the whole search.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
import os

import keras_tuner

from samplernn import checkpoints, devices, training
from samplernn.callbacks import ImprovementTracker
from samplernn.config import ConfigError, ModelConfig
from samplernn.data import (TrainingData, cut_sequences, find_audio_files, load_quantized_files,
                            split_sequences)
from samplernn.errors import UserError
from samplernn.model import build_model

log = logging.getLogger("samplernn")

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
            _check(base, f"--frame_sizes {_text(frame_sizes)} with --seq_len {seq_len}",
                   frame_sizes=frame_sizes, seq_len=seq_len)
        for key in MODEL_KEYS:
            if key not in ("frame_sizes", "seq_len"):
                for value in self.choices.get(key, []):
                    _check(base, f"--{key} {_text(value)}", **{key: value})
        for key in ("learning_rate", "batch_size"):
            for value in self.choices.get(key, []):
                if not value > 0:
                    raise UserError(f"--{key} choices must be positive, got {value}")

    def define(self, hp: keras_tuner.HyperParameters) -> dict:
        """Register the choices with Keras Tuner; return this trial's values."""
        values = {}
        for key, options in self.choices.items():
            if key == "frame_sizes":
                chosen = hp.Choice(key, [_text(o) for o in options])
                values[key] = [int(size) for size in chosen.split(",")]
            else:
                values[key] = hp.Choice(key, options)
        return values


def _check(base: ModelConfig, what: str, **values) -> None:
    try:
        base.replace(source=what, **values)
    except ConfigError as e:
        raise UserError(str(e)) from None


def _text(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


class SampleRNNHyperModel(keras_tuner.HyperModel):
    """Builds a model per trial and trains it with :func:`samplernn.training.fit`."""

    def __init__(self, base: ModelConfig, space: SearchSpace, data_dir: str,
                 defaults: dict, num_epochs: int, patience, num_val_batches: int,
                 objective: str):
        super().__init__()
        self.base, self.space, self.data_dir, self.defaults = base, space, data_dir, defaults
        self.num_epochs, self.patience = num_epochs, patience
        self.num_val_batches, self.objective = num_val_batches, objective
        self._files = {}  # q_type -> quantized corpus

    def trial_values(self, hp):
        values = {**self.defaults, **self.space.define(hp)}
        model_values = {k: v for k, v in values.items() if k in MODEL_KEYS}
        return self.base.replace(source="trial", **model_values), values

    def build(self, hp):
        config, _ = self.trial_values(hp)
        return build_model(config, use_cudnn=devices.use_cudnn())

    def fit(self, hp, model, *args, **kwargs):
        config, values = self.trial_values(hp)
        data = self._data(config, values["batch_size"])
        optimizer = training.make_optimizer(values.get("optimizer", "adam"),
                                            values["learning_rate"], values["momentum"])
        trainer = training.Trainer(model, optimizer)
        progress = checkpoints.Progress()
        tracker = ImprovementTracker(progress, self.patience)
        epochs = kwargs.get("epochs", self.num_epochs)  # Hyperband passes its own
        result = training.fit(trainer, data, epochs, progress, [tracker])
        if result.interrupted:
            raise KeyboardInterrupt
        return best_epoch(result.history, self.objective)

    def _data(self, config: ModelConfig, batch_size: int) -> TrainingData:
        if config.q_type not in self._files:
            self._files[config.q_type] = load_quantized_files(
                find_audio_files(self.data_dir), config)
        sequences, windows = cut_sequences(self._files[config.q_type], config)
        split = split_sequences(sequences, batch_size, self.num_val_batches)
        return TrainingData(split, windows, config, batch_size)


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
    from samplernn.fileio import atomic_write_text

    atomic_write_text(os.path.join(project_dir, SEARCH_RECORD),
                      json.dumps(arguments, indent=2) + "\n")


def search(tuner) -> None:
    """Run the search; if every trial failed, a one-line error with their reason."""
    try:
        tuner.search()
    except RuntimeError as e:      # Keras Tuner stops after consecutive failures
        if "consecutive failures" not in str(e):
            raise
    if not hasattr(tuner.oracle, "end_order"):   # a worker's client: the chief judges
        return
    trials = tuner.oracle.trials.values()
    if trials and not any(t.status == "COMPLETED" for t in trials):
        reasons = sorted({_last_line(t.message) for t in trials if t.message})
        raise UserError(f"every trial of the search failed ({len(trials)} trial(s)): "
                        f"{' | '.join(reasons) or 'no reason recorded'}")


def _last_line(message: str) -> str:
    """The exception line at the end of a traceback."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def make_tuner(kind: str, hypermodel, objective: str, max_trials: int, num_epochs: int,
               directory: str, project_name: str, seed: int = 0, overwrite: bool = False):
    if kind not in TUNER_TYPES:
        raise UserError(f"unknown --type {kind!r}; choose one of {', '.join(TUNER_TYPES)}")
    target = keras_tuner.Objective(objective, direction=OBJECTIVES[objective])
    common = dict(objective=target, directory=directory, project_name=project_name,
                  seed=seed, overwrite=overwrite)
    if kind == "random_search":
        return keras_tuner.RandomSearch(hypermodel, max_trials=max_trials, **common)
    if kind == "bayesian":
        return keras_tuner.BayesianOptimization(hypermodel, max_trials=max_trials, **common)
    return keras_tuner.Hyperband(hypermodel, max_epochs=num_epochs, **common)

"""Hyperparameter search with Keras Tuner over the model config and optimizer.

Each trial builds a model from the chosen values and trains it with the same
data pipeline, state-reset logic and training loop as train.py
(:func:`samplernn.training.fit`); the tuner only chooses values and compares
the objective. The corpus is decoded and quantized once per quantization type
for the whole search.
"""

from __future__ import annotations

import importlib
import logging
import re
import traceback

import keras_tuner

from samplernn import checkpoints, devices, optimizers, training
from samplernn.callbacks import ImprovementTracker
from samplernn.config import ModelConfig
from samplernn.data import TrainingData, load_corpus
from samplernn.errors import UserError
from samplernn.model import build_model
from samplernn.search_space import MODEL_KEYS, OBJECTIVES, SearchSpace, best_epoch, choice_text

log = logging.getLogger("samplernn")

class SampleRNNHyperModel(keras_tuner.HyperModel):
    """Builds a model per trial and trains it with :func:`samplernn.training.fit`."""

    def __init__(self, base: ModelConfig, space: SearchSpace, data_dir: str,
                 defaults: dict, num_epochs: int, patience, num_val_batches: int,
                 objective: str):
        super().__init__()
        self.base, self.space, self.data_dir, self.defaults = base, space, data_dir, defaults
        self.num_epochs, self.patience = num_epochs, patience
        self.num_val_batches, self.objective = num_val_batches, objective
        self._decoded = {}  # the corpus decoded once per quantization (see load_corpus)

    def trial_values(self, hp):
        values = {**self.defaults, **self.space.define(hp)}
        model_values = {k: v for k, v in values.items() if k in MODEL_KEYS}
        return self.base.replace(source="trial", **model_values), values

    def build(self, hp):
        config, _ = self.trial_values(hp)
        return build_model(config, use_cudnn=devices.use_cudnn())

    def fit(self, hp, model, *args, **kwargs):
        """Train one trial. A problem of ours (a :class:`UserError`) fails the trial
        with one line naming its values; any other error prints its traceback."""
        values = self.space.define(hp)
        chosen = ", ".join(f"{key}={choice_text(value)}" for key, value in values.items())
        try:
            metrics = self._fit(hp, model, **kwargs)
        except UserError as e:
            log.warning("Trial failed (%s): %s", chosen or "base config", e)
            raise keras_tuner.errors.FailedTrialError(str(e)) from None
        except Exception:
            traceback.print_exc()
            raise
        log.info("Trial done (%s): %s %.4f", chosen or "base config", self.objective,
                 metrics[self.objective])
        return metrics

    def _fit(self, hp, model, **kwargs):
        config, values = self.trial_values(hp)
        data = self._data(config, values["batch_size"])
        optimizer = optimizers.make_optimizer(values.get("optimizer", "adam"),
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
        corpus = load_corpus(self.data_dir, config, batch_size, self.num_val_batches,
                             decoded=self._decoded)
        return TrainingData(corpus.sequences, corpus.windows_per_sequence, config, batch_size)


def search(tuner, verbose: bool = False) -> None:
    """Run the search; if every trial failed, a one-line error with their reason.
    Keras Tuner's own traceback of each failed trial is printed only if ``verbose``."""
    # Keras Tuner prints every failed trial's traceback while its (private) DEBUG
    # switch is on, as it is by default; our trials log one line instead.
    try:
        importlib.import_module("keras_tuner.src.config").DEBUG = verbose
    except ImportError:   # another Keras Tuner layout: its tracebacks stay
        pass
    try:
        # Keras Tuner's own report of each trial (tables, "Best ... So Far") only if
        # verbose: the trials log one line each in our words (see fit).
        tuner.search(verbose=1 if verbose else 0)
    except RuntimeError as e:      # Keras Tuner stops after consecutive failures
        if "consecutive failures" not in str(e):
            raise
    if not hasattr(tuner.oracle, "end_order"):   # a worker's client: the chief judges
        return
    trials = tuner.oracle.trials.values()
    if trials and not any(t.status == "COMPLETED" for t in trials):
        reasons = sorted({_reason(t.message) for t in trials if t.message})
        raise UserError(f"every trial of the search failed ({len(trials)} trial(s)): "
                        f"{' | '.join(reasons) or 'no reason recorded'}")


_EXCEPTION_NAME = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt)\w*:\s*")


def _reason(message: str) -> str:
    """What failed, from the traceback Keras Tuner recorded: its last line without the
    exception's class name (``keras_tuner.src.errors.FailedTrialError: ...``)."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return _EXCEPTION_NAME.sub("", lines[-1]) if lines else ""


def make_tuner(kind: str, hypermodel, objective: str, max_trials: int, num_epochs: int,
               directory: str, project_name: str, seed: int = 0, overwrite: bool = False):
    """A Keras Tuner of ``kind`` (one of :data:`TUNER_TYPES`, checked by tune.py)."""
    target = keras_tuner.Objective(objective, direction=OBJECTIVES[objective])
    common = dict(objective=target, directory=directory, project_name=project_name,
                  seed=seed, overwrite=overwrite)
    if kind == "random_search":
        return keras_tuner.RandomSearch(hypermodel, max_trials=max_trials, **common)
    if kind == "bayesian":
        return keras_tuner.BayesianOptimization(hypermodel, max_trials=max_trials, **common)
    return keras_tuner.Hyperband(hypermodel, max_epochs=num_epochs, **common)

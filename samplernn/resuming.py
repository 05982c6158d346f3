"""Where a training run continues from, or starts from, checked before TensorFlow loads.

:func:`find_resume_point` picks the checkpoint to resume (the newest of the
id, or the one given) and refuses one trained with another model config or
learning-rate schedule; :func:`find_init_source` finds the checkpoint whose
weights a new run starts from (``train.py --init_from``), with its config;
:func:`save_precision` and :func:`precision_change` record the precision each
run trained in, so that a run moved to another machine (another GPU, a CPU)
says when its precision changed. Checkpoints
themselves are precision-independent (:mod:`samplernn.checkpoints`).
"""

from __future__ import annotations

import json
import logging
import os

from samplernn import precision, runs
from samplernn.config import ModelConfig, load_config
from samplernn.errors import UserError
from samplernn.fileio import atomic_write_text
from samplernn.schedule import LearningRateSchedule

log = logging.getLogger("samplernn")
PRECISION_FILE = "precision.json"    # {"policy": "mixed_float16"}, beside the checkpoints
INIT_FILE = "init_from.json"         # {"checkpoint": prefix}: what a run's weights started as


def find_init_source(init_from: str, config_file: str = None, sample_rate: int = None):
    """``(prefix, config)`` for ``--init_from``: a checkpoint prefix, a run or id
    directory, or the name of a shipped model; the config is the source's (at
    ``sample_rate`` if given). A ``config_file`` given as well must not change the
    architecture: that is an error naming the differing keys."""
    if not os.path.exists(init_from) and not os.path.exists(init_from + ".index") \
            and init_from not in runs.shipped_models():
        names = ", ".join(runs.shipped_models()) or "none yet"
        raise UserError(f"--init_from {init_from}: no such checkpoint, run or id directory, "
                        f"nor a shipped model (shipped: {names})")
    prefix = runs.resolve_checkpoint(init_from, "--init_from")
    source = runs.config_for_checkpoint(prefix)
    if config_file is not None:
        given = load_config(config_file)
        differences = given.replace(sample_rate=source.sample_rate).differences(source)
        if differences:
            raise UserError(f"--config_file {config_file} would change the architecture of "
                            f"--init_from {prefix} ({'; '.join(differences)}); omit "
                            f"--config_file to train the source's model")
    return prefix, (source.replace(sample_rate=sample_rate) if sample_rate else source)


def save_init_source(run_dir: str, prefix: str) -> None:
    """Record in ``run_dir`` that its weights started as those of checkpoint ``prefix``."""
    atomic_write_text(os.path.join(run_dir, INIT_FILE),
                      json.dumps({"checkpoint": os.path.abspath(prefix)}) + "\n")


def find_resume_point(id_dir: str, run_id: str, config: ModelConfig,
                      schedule: LearningRateSchedule, resume: bool = True,
                      resume_from: str = None, allow_schedule_change: bool = False):
    """The checkpoint to resume from (or None), after checking that it was trained
    with ``config`` and ``schedule`` (unless ``allow_schedule_change``)."""
    if not resume:
        return None
    if resume_from:
        prefix = runs.resolve_checkpoint(resume_from, "--resume_from", for_resuming=True)
    else:
        prefix = runs.latest_checkpoint(id_dir, for_resuming=True)
        if prefix is None:
            log.info("No checkpoint found for id '%s': training from scratch", run_id)
            return None
    differences = config.differences(runs.config_for_checkpoint(prefix))
    if differences:
        raise UserError(
            f"checkpoint {prefix} was trained with another config ({'; '.join(differences)}); "
            f"pass --config_file {runs.config_path_for(prefix)} to resume it, or --resume "
            f"False (or a new --id) to start afresh")
    saved = LearningRateSchedule.load(runs.schedule_path_for(prefix))
    changed = schedule.differences(saved) if saved else []
    if changed and not allow_schedule_change:
        raise UserError(
            f"checkpoint {prefix} was trained with another learning-rate schedule "
            f"({'; '.join(changed)}); pass the checkpoint's values, or --allow_schedule_change "
            f"True to continue with the new ones")
    return prefix


def save_precision(run_dir: str, policy: str) -> None:
    """Record that the run in ``run_dir`` trains under Keras policy ``policy``."""
    atomic_write_text(os.path.join(run_dir, PRECISION_FILE),
                      json.dumps({"policy": policy}) + "\n")


def saved_precision(prefix: str):
    """The policy the run of checkpoint ``prefix`` trained under, or None if unknown."""
    try:
        with open(os.path.join(os.path.dirname(prefix), PRECISION_FILE), encoding="utf-8") as f:
            policy = json.load(f)["policy"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return policy if policy in precision.TRAINING_POLICIES else None


def precision_change(prefix: str, policy: str):
    """A note for the start line when ``prefix`` was trained under a policy other than
    ``policy``, else None."""
    saved = saved_precision(prefix)
    if saved is None or saved == policy:
        return None
    return (f"precision changed: {os.path.basename(prefix)} was trained in "
            f"{precision.DESCRIPTIONS[saved]}; its weights and optimizer state carry over")

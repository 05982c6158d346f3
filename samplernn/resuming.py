"""Where a training run continues from, or starts from, checked before TensorFlow loads.

:func:`find_start` decides: :func:`find_resume_point` picks the checkpoint to
resume (the newest state of the id, or the one given) and refuses one trained with
another learning-rate schedule (or a config given that is not its own);
:func:`find_init_source` finds the checkpoint whose weights a new run starts from
(``train.py --init_from``), with its config;
:func:`precision_change` says when a run moved to another machine (another GPU,
a CPU) trains in another precision than the one its record names. Checkpoints
themselves are precision-independent (:mod:`samplernn.checkpoints`).
"""

from __future__ import annotations

import dataclasses
import logging
import os

from samplernn import precision, runs
from samplernn.config import ModelConfig, load_config
from samplernn.errors import UserError
from samplernn.run_record import CONFIG_FILE, SCHEDULE_FILE, beside, recorded_precision
from samplernn.schedule import LearningRateSchedule

log = logging.getLogger("samplernn")


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


@dataclasses.dataclass(frozen=True)
class Start:
    """Where a training run begins, found before TensorFlow loads: the model config it
    trains, and either ``resume_prefix`` (the newest state of the run it continues),
    ``init_prefix`` (the checkpoint whose weights it starts from) or neither."""
    config: ModelConfig
    resume_prefix: str | None = None
    init_prefix: str | None = None


def find_start(id_dir: str, run_id: str, schedule: LearningRateSchedule, config_file: str,
               config_given: bool = True, sample_rate: int = None, resume: bool = True,
               resume_from: str = None, init_from: str = None,
               allow_schedule_change: bool = False) -> Start:
    """A run of the id (or ``resume_from``) to resume comes first: it trains its own
    config (``config_file``, if ``config_given``, and ``sample_rate``, if given, must
    agree with it), and ``init_from`` is not even looked at, so a resume never needs
    the source. Else ``init_from``'s weights and config, else ``config_file``'s."""
    given_file = config_file if config_given else None
    prefix = find_resume_point(id_dir, schedule, resume, resume_from, allow_schedule_change)
    if prefix:
        return Start(_resumed_config(prefix, given_file, sample_rate), resume_prefix=prefix)
    if init_from:
        init_prefix, config = find_init_source(init_from, given_file, sample_rate)
        return Start(config, init_prefix=init_prefix)
    if resume and not resume_from:
        log.info("No checkpoint found for id '%s': training from scratch", run_id)
    return Start(load_config(config_file, sample_rate=sample_rate))


def _resumed_config(prefix: str, config_file: str = None, sample_rate: int = None):
    """The config of checkpoint ``prefix``, after checking that ``config_file`` and
    ``sample_rate`` (each if given) describe it."""
    saved = runs.config_for_checkpoint(prefix)
    given = load_config(config_file, sample_rate=sample_rate) if config_file else saved
    if sample_rate:
        given = given.replace(sample_rate=sample_rate)
    differences = given.differences(saved)
    if differences:
        raise UserError(
            f"checkpoint {prefix} was trained with another config ({'; '.join(differences)}); "
            f"omit --config_file and --sample_rate to resume it with its own "
            f"({beside(prefix, CONFIG_FILE)}), or pass --resume False (or a new --id) to "
            f"start afresh")
    return saved


def find_resume_point(id_dir: str, schedule: LearningRateSchedule, resume: bool = True,
                      resume_from: str = None, allow_schedule_change: bool = False):
    """The checkpoint to resume from (the newest state of the id, or ``resume_from``), or
    None; refused when it was trained with another ``schedule`` (unless
    ``allow_schedule_change``)."""
    if not resume:
        return None
    if resume_from:
        prefix = runs.resolve_checkpoint(resume_from, "--resume_from", for_resuming=True)
    else:
        prefix = runs.latest_checkpoint(id_dir, for_resuming=True)
        if prefix is None:
            return None
    saved = LearningRateSchedule.load(beside(prefix, SCHEDULE_FILE))
    changed = schedule.differences(saved) if saved else []
    if changed and not allow_schedule_change:
        raise UserError(
            f"checkpoint {prefix} was trained with another learning-rate schedule "
            f"({'; '.join(changed)}); pass the checkpoint's values, or --allow_schedule_change "
            f"True to continue with the new ones")
    return prefix


def precision_change(prefix: str, policy: str):
    """A note for the start line when ``prefix`` was trained under a policy other than
    ``policy``, else None."""
    saved = recorded_precision(prefix, precision.TRAINING_POLICIES)
    if saved is None or saved == policy:
        return None
    return (f"precision changed: {os.path.basename(prefix)} was trained in "
            f"{precision.DESCRIPTIONS[saved]}; its weights and optimizer state carry over")

"""The run record: everything a run directory records beside its checkpoints, written
in one place and carried forward on every resume (no TensorFlow).

A run directory (``<logdir_root>/<id>/<timestamp>/``, :mod:`samplernn.runs`) holds::

    model.config.json   the model config (:mod:`samplernn.config`)
    learning_rate.json  the learning-rate schedule's flags (:mod:`samplernn.schedule`)
    precision.json      {"policy": "float32"}: the Keras policy it trained under
    init_from.json      {"checkpoint": "/abs/prefix"}: the checkpoint whose weights the
                        run's first part started from (train.py --init_from); every
                        resume copies it, and none needs the source again
    temperature.json    {"temperature": [0.95], "top_p": 1.0, "min_p": 0.0}: how its
                        audio is sampled (generate.py's defaults for its checkpoints)
    prime.wav           short excerpts of its training audio that generation starts
                        from (:mod:`samplernn.priming`), one per channel

Each resume of a run writes a new run directory; :func:`carried_forward` builds its
record from the one it resumes and the flags given, and :meth:`RunRecord.write`
writes all of it before the first checkpoint. Every script reads a checkpoint's
record through the ``recorded_*`` functions here, so a shipped model (which has the
same files beside its checkpoint) reads as a run.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from samplernn import defaults, quantization
from samplernn.config import CHECKPOINT_CONFIG_NAME, ModelConfig, save_config
from samplernn.fileio import atomic_write_text
from samplernn.schedule import LearningRateSchedule

CONFIG_FILE = CHECKPOINT_CONFIG_NAME
SCHEDULE_FILE = "learning_rate.json"
PRECISION_FILE = "precision.json"
INIT_FILE = "init_from.json"
TEMPERATURE_FILE = "temperature.json"
PRIME_FILE = "prime.wav"


def beside(prefix: str, name: str) -> str:
    """The path of record file ``name`` in the run directory of checkpoint ``prefix``."""
    return os.path.join(os.path.dirname(prefix), name)


@dataclasses.dataclass
class RunRecord:
    """What one run directory records (see the module docs for the files).

    ``prime`` is a list of equal-length float excerpts at ``config.sample_rate``
    (empty: no prime.wav); ``init_source`` is None for a run started from scratch."""
    config: ModelConfig
    schedule: LearningRateSchedule
    policy: str
    temperatures: list
    top_p: float = defaults.TOP_P
    min_p: float = defaults.MIN_P
    init_source: str | None = None
    prime: list = dataclasses.field(default_factory=list)

    @property
    def truncation(self) -> dict:
        """``{"top_p", "min_p"}``, as the sampler takes them."""
        return {"top_p": self.top_p, "min_p": self.min_p}

    def write(self, run_dir: str) -> None:
        """Write every record file into ``run_dir`` (each atomically)."""
        save_run_config(run_dir, self.config)
        self.schedule.save(os.path.join(run_dir, SCHEDULE_FILE))
        _write_json(os.path.join(run_dir, PRECISION_FILE), {"policy": self.policy})
        if self.init_source:
            _write_json(os.path.join(run_dir, INIT_FILE),
                        {"checkpoint": os.path.abspath(self.init_source)})
        save_sampling(run_dir, self.temperatures, **self.truncation)
        if self.prime:
            from samplernn.audio import write_wav

            write_wav(os.path.join(run_dir, PRIME_FILE), np.stack(self.prime, axis=1),
                      self.config.sample_rate)


def carried_forward(config: ModelConfig, schedule: LearningRateSchedule, policy: str,
                    resume_prefix: str | None, init_prefix: str | None, temperature_flag,
                    top_p_flag, min_p_flag, prime: list) -> RunRecord:
    """The record of a run that resumes ``resume_prefix`` or starts from the weights of
    ``init_prefix`` (or neither): what the flags give (None: not given), else what the
    run it continues (or the source it starts from) recorded, else the defaults. The
    start source is the resumed run's own, whatever flags this part was given."""
    source = resume_prefix or init_prefix
    if temperature_flag:
        temperatures = list(temperature_flag)
    else:
        temperatures = recorded_temperatures(source) if source else [defaults.TEMPERATURE]
    truncation = recorded_truncation(source) if source else {
        "top_p": defaults.TOP_P, "min_p": defaults.MIN_P}
    return RunRecord(
        config=config, schedule=schedule, policy=policy, temperatures=temperatures,
        top_p=truncation["top_p"] if top_p_flag is None else top_p_flag,
        min_p=truncation["min_p"] if min_p_flag is None else min_p_flag,
        init_source=recorded_init_source(resume_prefix) if resume_prefix else init_prefix,
        prime=list(prime))


def save_run_config(run_dir: str, config: ModelConfig) -> None:
    """Record ``config`` as the model config of ``run_dir``'s checkpoints."""
    save_config(config, os.path.join(run_dir, CONFIG_FILE))


def _write_json(path: str, value: dict) -> None:
    atomic_write_text(path, json.dumps(value) + "\n")


def _read_json(path: str) -> dict:
    """The JSON object in ``path``, or {} when it is absent, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------ sampling
def save_sampling(run_dir: str, temperatures: list, top_p: float = defaults.TOP_P,
                  min_p: float = defaults.MIN_P) -> None:
    """Record how a run samples its audio: ``generate.py`` without --temperature,
    --top_p or --min_p uses these for the run's checkpoints (train.py's end-of-run
    choice of temperature rewrites it)."""
    _write_json(os.path.join(run_dir, TEMPERATURE_FILE),
                {"temperature": [float(t) for t in temperatures], "top_p": float(top_p),
                 "min_p": float(min_p)})


def recorded_temperatures(prefix: str) -> list:
    """The temperatures recorded beside checkpoint ``prefix`` (its run's, or a shipped
    model's), else ``[defaults.TEMPERATURE]``."""
    try:
        temperatures = [float(t) for t in _read_json(beside(prefix, TEMPERATURE_FILE))
                        ["temperature"]]
    except (ValueError, KeyError, TypeError):
        return [defaults.TEMPERATURE]
    return [t for t in temperatures if t > 0] or [defaults.TEMPERATURE]


def recorded_truncation(prefix: str) -> dict:
    """``{"top_p", "min_p"}`` recorded beside checkpoint ``prefix``, else the defaults
    (no truncation)."""
    found = {"top_p": defaults.TOP_P, "min_p": defaults.MIN_P}
    for name, value in _read_json(beside(prefix, TEMPERATURE_FILE)).items():
        try:
            if name in found and 0.0 <= float(value) <= 1.0:
                found[name] = float(value)
        except (ValueError, TypeError):
            pass
    return found


# --------------------------------------------------------- precision, source
def recorded_precision(prefix: str, known=None):
    """The Keras policy the run of checkpoint ``prefix`` trained under (one of
    ``known`` if given), or None if unknown."""
    policy = _read_json(beside(prefix, PRECISION_FILE)).get("policy")
    if not isinstance(policy, str) or (known is not None and policy not in known):
        return None
    return policy


def recorded_init_source(prefix: str):
    """The checkpoint whose weights the run of ``prefix`` started from (as recorded: it
    may have moved since), or None for a run started from scratch."""
    source = _read_json(beside(prefix, INIT_FILE)).get("checkpoint")
    return source if isinstance(source, str) and source else None


# --------------------------------------------------------------------- prime
def recorded_prime(prefix: str, config) -> np.ndarray | None:
    """The excerpts recorded beside checkpoint ``prefix`` as classes
    ``[excerpts, samples]`` at the model's rate, or None when its run recorded none
    (or they are shorter than a top frame, or unreadable)."""
    import soundfile

    path = beside(prefix, PRIME_FILE)
    if not os.path.isfile(path):
        return None
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (OSError, RuntimeError):   # unreadable: generate as a run without one
        return None
    if rate != config.sample_rate:
        import librosa

        audio = librosa.resample(audio.T, orig_sr=rate, target_sr=config.sample_rate).T
    if len(audio) < config.top_frame_size:
        return None
    return quantization.quantize(np.ascontiguousarray(audio.T), config.q_type, config.q_levels)

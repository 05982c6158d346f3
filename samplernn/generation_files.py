"""Generation's files, checked before any model loads: output paths, the
file-naming rules, seed audio and the sampling temperature a run records. No
TensorFlow here, so a wrong path is an error in a second.
"""

from __future__ import annotations

import json
import os

import numpy as np

from samplernn import defaults, quantization
from samplernn.audio import load_audio
from samplernn.errors import UserError
from samplernn.fileio import atomic_write_text, check_writable_directory

STDOUT_PATH = "-"             # --output_path - streams WAV to standard output
OUTPUT_EXTENSION = ".wav"
TEMPERATURE_FILE = "temperature.json"  # {"temperature": [1.0]}: beside a run's checkpoints


# -------------------------------------------------------------------- naming
def check_output_path(output_path: str) -> None:
    """Reject an output path that cannot be written, before anything is generated."""
    if output_path == STDOUT_PATH:
        return
    if os.path.isdir(output_path):
        raise UserError(f"--output_path {output_path} is a directory; give a file name "
                        f"such as {os.path.join(output_path, 'generated.wav')}")
    extension = os.path.splitext(output_path)[1]
    if extension.lower() != OUTPUT_EXTENSION:
        raise UserError(f"--output_path {output_path} must end in {OUTPUT_EXTENSION} "
                        f"(generated audio is written as 16-bit WAV); convert it afterwards "
                        f"for other formats, e.g. ffmpeg -i out.wav out.mp3")
    check_writable_directory(os.path.dirname(os.path.abspath(output_path)), "--output_path")


def sequence_paths(output_path: str, temperatures: list, numbered: bool = None) -> list:
    """File names for a batch: ``out.wav`` for one sequence, else ``out_<i>_t<temp>.wav``."""
    numbered = len(temperatures) > 1 if numbered is None else numbered
    if not numbered:
        return [output_path]
    stem, ext = os.path.splitext(output_path)
    return [f"{stem}_{i}_t{t:g}{ext or OUTPUT_EXTENSION}"
            for i, t in enumerate(temperatures, start=1)]


def expand_temperatures(temperatures, num_seqs: int) -> list:
    """One temperature per sequence: extra values dropped, the last one repeated."""
    temperatures = list(temperatures) or [defaults.TEMPERATURE]
    for t in temperatures:
        if not t > 0:
            raise UserError(f"--temperature values must be positive, got {t}")
    return (temperatures + [temperatures[-1]] * num_seqs)[:num_seqs]


def save_temperatures(run_dir: str, temperatures: list, top_p: float = defaults.TOP_P,
                      min_p: float = defaults.MIN_P) -> None:
    """Record how a run samples its audio (``train.py --temperature``, ``--top_p``,
    ``--min_p``): ``generate.py`` without those flags uses them for the run's
    checkpoints."""
    atomic_write_text(os.path.join(run_dir, TEMPERATURE_FILE), json.dumps(
        {"temperature": [float(t) for t in temperatures], "top_p": float(top_p),
         "min_p": float(min_p)}) + "\n")


def _recorded_sampling(prefix: str) -> dict:
    """The TEMPERATURE_FILE beside checkpoint ``prefix`` as a dict ({} when absent or
    unreadable)."""
    try:
        with open(os.path.join(os.path.dirname(prefix), TEMPERATURE_FILE),
                  encoding="utf-8") as f:
            recorded = json.load(f)
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def recorded_temperatures(prefix: str) -> list:
    """The temperatures recorded beside checkpoint ``prefix`` (its run's, or a shipped
    model's), else ``[defaults.TEMPERATURE]``."""
    try:
        temperatures = [float(t) for t in _recorded_sampling(prefix)["temperature"]]
    except (ValueError, KeyError, TypeError):
        return [defaults.TEMPERATURE]
    return [t for t in temperatures if t > 0] or [defaults.TEMPERATURE]


def recorded_truncation(prefix: str) -> dict:
    """``{"top_p", "min_p"}`` recorded beside checkpoint ``prefix`` (in its run's
    TEMPERATURE_FILE), else the defaults (no truncation)."""
    found = {"top_p": defaults.TOP_P, "min_p": defaults.MIN_P}
    for name, value in _recorded_sampling(prefix).items():
        try:
            if name in found and 0.0 <= float(value) <= 1.0:
                found[name] = float(value)
        except (ValueError, TypeError):
            pass
    return found


def truncation_for_run(top_p, min_p, source_prefix) -> dict:
    """``{"top_p", "min_p"}`` a training run samples with: each flag if given (not
    None), else what the checkpoint it resumes or starts from recorded, else the
    defaults."""
    found = (recorded_truncation(source_prefix) if source_prefix
             else {"top_p": defaults.TOP_P, "min_p": defaults.MIN_P})
    return {"top_p": found["top_p"] if top_p is None else top_p,
            "min_p": found["min_p"] if min_p is None else min_p}


def temperatures_for_run(flag, source_prefix) -> list:
    """What a training run samples at: ``train.py --temperature`` if given (``flag``, a
    list or None), else what was recorded beside the checkpoint it resumes or starts
    from (``source_prefix``: a shipped base's ``temperature.json``), else PRiSM's 0.75."""
    if flag:
        return list(flag)
    return recorded_temperatures(source_prefix) if source_prefix else [defaults.TEMPERATURE]


# --------------------------------------------------------------------- seeds
def load_seed(path: str, config, seed_offset: int = 0) -> np.ndarray:
    """Quantized seed audio from ``path`` at the model's rate, from ``seed_offset``."""
    if seed_offset < 0:
        raise UserError(f"--seed_offset must be 0 or more, got {seed_offset}")
    audio = load_audio(path, config.sample_rate)[seed_offset:]
    if len(audio) < config.top_frame_size:
        raise UserError(f"seed file {path} is too short: it needs at least --seed_offset "
                        f"({seed_offset}) + {config.top_frame_size} samples (one top frame) "
                        f"at {config.sample_rate} Hz")
    return quantization.quantize(audio, config.q_type, config.q_levels)

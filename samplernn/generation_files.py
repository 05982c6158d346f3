"""Generation's files, checked before any model loads: output paths, the
file-naming rules and seed audio (how a run samples is in its record,
:mod:`samplernn.run_record`). No TensorFlow here, so a wrong path is an error in a
second.
"""

from __future__ import annotations

import os

import numpy as np

from samplernn import defaults, quantization
from samplernn.audio import load_audio
from samplernn.errors import UserError
from samplernn.fileio import check_writable_directory

STDOUT_PATH = "-"             # --output_path - streams WAV to standard output
OUTPUT_EXTENSION = ".wav"


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

"""Priming: generation starts from a moment of the run's own training audio.

A sequence started from silence must first find its way out of it, and a model that
learnt that silence is often followed by silence may never do so. So a run records a
few short excerpts of its training audio beside its checkpoints (``prime.wav``, one
excerpt of up to PRIME_SECONDS per channel, PRIME_EXCERPTS channels), and
``generate.py`` warms each sequence up on one of them (sequence ``i`` on excerpt
``i % excerpts``) before it draws a single sample. The excerpt is not written to the
output and nothing primes a sequence again while it plays: what is heard is what the
model makes. It is recorded with the run, so it works when the corpus has moved or is
gone.

``generate.py --seed FILE`` primes with that file instead; ``--prime False`` starts
from silence, as PRiSM SampleRNN does.
"""

from __future__ import annotations

import os

import numpy as np

from samplernn import quantization

PRIME_FILE = "prime.wav"
PRIME_SECONDS = 1.0      # each excerpt; the frame tiers warm up over it
PRIME_EXCERPTS = 8       # sequences 1..8 start from different moments
SILENCE_RMS = 10 ** (-40 / 20)   # an excerpt quieter than -40 dBFS is not chosen


def choose_excerpts(sequences: np.ndarray, samples: int, count: int = PRIME_EXCERPTS) -> list:
    """Up to ``count`` excerpts of ``samples`` (at most a sequence's length) from
    ``sequences [n, length]`` (float audio), in order: from each sequence the loudest
    of its whole excerpts (a sequence with nothing above SILENCE_RMS is passed)."""
    samples = min(samples, sequences.shape[1])
    picked = []
    for row in sequences:
        whole = len(row) // samples
        pieces = row[:whole * samples].reshape(whole, samples)
        rms = np.sqrt(np.mean(np.square(pieces, dtype=np.float64), axis=1))
        if rms.max() >= SILENCE_RMS:
            picked.append(pieces[int(np.argmax(rms))])
        if len(picked) == count:
            break
    return picked


def save_prime(run_dir: str, excerpts: list, sample_rate: int) -> None:
    """Write ``excerpts`` (float audio, equal lengths) as the channels of the run's
    PRIME_FILE (nothing when there is none)."""
    from samplernn.audio import write_wav

    if excerpts:
        write_wav(os.path.join(run_dir, PRIME_FILE), np.stack(excerpts, axis=1), sample_rate)


def recorded_prime(prefix: str, config) -> np.ndarray | None:
    """The excerpts recorded beside checkpoint ``prefix`` as classes
    ``[excerpts, samples]`` at the model's rate, or None when its run recorded none
    (or they are shorter than a top frame)."""
    import soundfile

    path = os.path.join(os.path.dirname(prefix), PRIME_FILE)
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

"""Priming: generation starts from a moment of the run's own training audio.

A sequence started from silence must first find its way out of it, and a model that
learnt that silence is often followed by silence may never do so. So a run records a
few short excerpts of its training audio in its record (``prime.wav``, one
excerpt of up to PRIME_SECONDS per channel, PRIME_EXCERPTS channels), and
``generate.py`` warms each sequence up on one of them (sequence ``i`` on excerpt
``i % excerpts``) before it draws a single sample. The excerpt is not written to the
output and nothing primes a sequence again while it plays: what is heard is what the
model makes. It is recorded with the run, so it works when the corpus has moved or is
gone (:mod:`samplernn.run_record` writes and reads it).

``generate.py --seed FILE`` primes with that file instead; ``--prime False`` starts
from silence, as PRiSM SampleRNN does.
"""

from __future__ import annotations

import numpy as np

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

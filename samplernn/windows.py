"""Does audio keep playing? Long audio judged window by window against its corpus.

Generated audio can start well and then fall silent, into hiss or into a held drone.
A per-file median hides when; this module cuts audio into WINDOW_SECONDS windows and
calls each one *alive* or *dead*:

- ``silent``: more of its frames under :data:`samplernn.spectra.SILENCE_DBFS` than the
  corpus's windows have (the corpus's SILENT_PERCENTILE, kept between
  MIN_SILENT_SHARE and MAX_SILENT_SHARE);
- ``noise``: the median spectral flatness of its sounding frames above the
  corpus's windows' NOISE_PERCENTILE (hiss over the sound);
- ``held``: its spectrum changes less than all but HELD_PERCENTILE percent of the
  corpus's windows do: a drone or a held tone. The change is one minus the median
  cosine similarity of magnitude spectra CHANGE_SECONDS apart; magnitudes, not
  decibels, so that the strongest partials decide it and a hiss under a drone does
  not count as change.

The corpus's own windows, judged the same way, give the share a model can hope for
(the ceiling). Per file: the share of alive windows and the time of the first
*collapse*, the start of the first COLLAPSE_WINDOWS dead windows in a row (None when
the audio never collapses).

    bounds = window_bounds([window_measures(clip, 16000) for clip in corpus_clips])
    verdict = judge(window_measures(generated, 16000), bounds)
    verdict.alive_share, verdict.first_collapse_seconds
"""

from __future__ import annotations

import dataclasses

import numpy as np

from samplernn import spectra

WINDOW_SECONDS = 2.0       # the listener's unit: a window either plays or it does not
COLLAPSE_WINDOWS = 2       # dead windows in a row that make a collapse
SILENT_PERCENTILE = 95     # corpus windows' silence share that a live window stays under,
MIN_SILENT_SHARE = 0.5     # ...but a window may always be this silent
MAX_SILENT_SHARE = 0.9     # ...and never more
NOISE_PERCENTILE = 95      # corpus windows' flatness that a live window stays under
HELD_PERCENTILE = 5        # corpus windows' spectral change that a live window stays over
CHANGE_SECONDS = 0.25      # the spectra compared for the change are this far apart
VERDICTS = ("alive", "silent", "noise", "held")
CORPUS_SEQUENCES = 16      # training sequences whose windows give a run's bounds


@dataclasses.dataclass(frozen=True)
class WindowMeasures:
    """One window's measures: ``silence_share`` (of frames), ``flatness`` (median over
    its sounding frames) and ``change`` (spectral change, 0 = the same spectrum
    throughout, up to 1); both NaN when no frame sounds."""
    silence_share: float
    flatness: float
    change: float


@dataclasses.dataclass(frozen=True)
class WindowBounds:
    """What a live window stays within, from a corpus's windows
    (:func:`window_bounds`)."""
    max_silence_share: float
    max_flatness: float
    min_change: float


@dataclasses.dataclass(frozen=True)
class LongFormVerdict:
    """Per window of a file: its verdict (one of VERDICTS); and the file's summary."""
    verdicts: tuple
    alive_share: float
    first_collapse_seconds: float | None   # None: never collapses


def spectral_change(magnitude: np.ndarray, lag: int) -> np.ndarray:
    """``1 - cosine similarity`` of each frame's magnitude spectrum ``[frames, bins]``
    with the one ``lag`` frames later: ``[frames - lag]`` (empty when too short)."""
    if len(magnitude) <= lag:
        return np.zeros(0)
    a, b = magnitude[:-lag], magnitude[lag:]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return 1.0 - np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)


def window_measures(audio: np.ndarray, sample_rate: int) -> list:
    """``audio [samples]`` (mono, in [-1, 1]) cut into whole WINDOW_SECONDS windows
    (a shorter tail is left out): a :class:`WindowMeasures` per window."""
    level_db, flatness, magnitude = spectra.frame_spectra(audio, sample_rate)
    frames_per_window = int(round(WINDOW_SECONDS / spectra.HOP_SECONDS))
    lag = max(1, int(round(CHANGE_SECONDS / spectra.HOP_SECONDS)))
    change = spectral_change(magnitude, lag)
    measures = []
    for w in range(len(audio) // int(WINDOW_SECONDS * sample_rate)):
        span = slice(w * frames_per_window, (w + 1) * frames_per_window)
        sounding = level_db[span] >= spectra.SILENCE_DBFS
        pairs = sounding[:max(0, len(sounding) - lag)] & sounding[lag:]   # both sound
        window_change = change[span][:len(pairs)][pairs]
        measures.append(WindowMeasures(
            silence_share=float(1 - sounding.mean()),
            flatness=float(np.median(flatness[span][sounding])) if sounding.any()
            else float("nan"),
            change=float(np.median(window_change)) if len(window_change) else float("nan")))
    return measures


def window_bounds(corpus_windows: list) -> WindowBounds:
    """The bounds of a live window from a corpus's windows (a list of
    :func:`window_measures` lists, one per file)."""
    windows = [w for file_windows in corpus_windows for w in file_windows]
    if not windows:
        raise ValueError("no corpus window: every corpus file is shorter than "
                         f"{WINDOW_SECONDS:g} s")
    silence = np.percentile([w.silence_share for w in windows], SILENT_PERCENTILE)
    flatness = [w.flatness for w in windows if not np.isnan(w.flatness)]
    change = [w.change for w in windows if not np.isnan(w.change)]
    return WindowBounds(
        max_silence_share=float(np.clip(silence, MIN_SILENT_SHARE, MAX_SILENT_SHARE)),
        max_flatness=float(np.percentile(flatness, NOISE_PERCENTILE)) if flatness else 1.0,
        min_change=float(np.percentile(change, HELD_PERCENTILE)) if change else 0.0)


def verdict(window: WindowMeasures, bounds: WindowBounds) -> str:
    """One of VERDICTS for one window."""
    if window.silence_share > bounds.max_silence_share or np.isnan(window.flatness):
        return "silent"
    if window.flatness > bounds.max_flatness:
        return "noise"
    if not window.change >= bounds.min_change:   # NaN: too little sounds to change
        return "held"
    return "alive"


def judge(windows: list, bounds: WindowBounds) -> LongFormVerdict:
    """The :class:`LongFormVerdict` of one file's windows."""
    verdicts = tuple(verdict(w, bounds) for w in windows)
    dead = [v != "alive" for v in verdicts]
    collapse = next((i for i in range(len(dead) - COLLAPSE_WINDOWS + 1)
                     if all(dead[i:i + COLLAPSE_WINDOWS])), None)
    return LongFormVerdict(
        verdicts=verdicts,
        alive_share=float(np.mean([not d for d in dead])) if dead else float("nan"),
        first_collapse_seconds=None if collapse is None else collapse * WINDOW_SECONDS)


def corpus_ceiling(corpus_windows: list, bounds: WindowBounds) -> float:
    """The share of the corpus's own windows that are alive: what a model can hope for."""
    verdicts = [verdict(w, bounds) for file_windows in corpus_windows for w in file_windows]
    return float(np.mean([v == "alive" for v in verdicts]))


def folder_windows(paths: list, sample_rate: int) -> list:
    """:func:`window_measures` of each audio file in ``paths``, loaded at ``sample_rate``
    (one rate for corpus and generated audio: flatness changes with the rate)."""
    from samplernn.audio import load_audio

    return [window_measures(load_audio(path, sample_rate), sample_rate) for path in paths]


def corpus_bounds(audios, sample_rate: int) -> WindowBounds | None:
    """:func:`window_bounds` of the windows of ``audios`` (float ``[samples]`` each, a
    corpus's sequences); None when every one is shorter than a window."""
    measured = [window_measures(audio, sample_rate) for audio in audios]
    return window_bounds(measured) if any(measured) else None

"""Does audio have notes? Five measures of generated audio, to set beside its corpus's.

    python -m samplernn.notes generated/my_music/*.wav --corpus ./chunks

Per file (mono float audio in [-1, 1], any sample rate):

- ``silence_share``: share of frames whose level is under SILENCE_DBFS;
- ``median_flatness``: median spectral flatness of the other frames (a tone's spectrum
  is peaked, flatness near 0; white noise's is flat, near 1);
- ``tonal_share``: share of those frames with flatness under TONAL_FLATNESS;
- ``onsets_per_second`` and ``decay_db``: note onsets (librosa's detector) and the median
  level change DECAY_SECONDS after them, in dB (a struck or plucked note falls, a drone
  or a click in noise does not);
- ``pitch_classes``: the pitch classes (of 12) that are the strongest chroma bin in at
  least MIN_PITCH_SHARE of the tonal frames.

With ``--corpus``, each file is also judged 2-s window by 2-s window against the
corpus's own windows (:mod:`samplernn.windows`): the share of its windows that are
alive and when it first collapses (falls silent, into noise or a drone).

:func:`has_notes` compares a generated file with its corpus's medians: flatness within
FLATNESS_RATIO of the corpus's, at least ONSET_RATIO of its onset rate with the level
after them falling at least DECAY_SHARE as far as the corpus's does (a corpus whose
level does not fall after its onsets asks no fall), at least MIN_PITCH_CLASSES pitch
classes, and under MAX_SILENCE_SHARE silence. TensorBoard shows the measures of every
epoch's audio under ``notes/`` (:class:`samplernn.generation.TrainingAudioWriter`).
"""

from __future__ import annotations

import argparse

import numpy as np

from samplernn.spectra import SILENCE_DBFS, fft_and_hop, frame_spectra

TONAL_FLATNESS = 0.05          # a frame flatter than this is noise-like, not tonal
DECAY_SECONDS = 0.15           # how long after an onset the level is compared
LEVEL_WINDOW_SECONDS = 0.02    # RMS window at the onset and DECAY_SECONDS later
ONSET_HOP_SECONDS = 0.008      # time resolution of the onset detector
MIN_ONSET_GAP_SECONDS = 0.1    # one onset per note: no second one this soon after
MIN_PITCH_SHARE = 0.05         # a pitch class counts if it leads in this share of frames
PITCH_CLASSES = 12

# What "has notes like its corpus" asks of a generated file (issue #38).
FLATNESS_RATIO = 3.0           # median flatness within 3x of the corpus's, either way
ONSET_RATIO = 0.4              # at least 0.4x the corpus's onsets per second...
DECAY_SHARE = 0.5              # ...after which the level falls at least half the corpus's
MIN_PITCH_CLASSES = 3
MAX_SILENCE_SHARE = 0.3
MEASURES = ("silence_share", "median_flatness", "tonal_share", "onsets_per_second",
            "decay_db", "pitch_classes")


def _rms_db(audio: np.ndarray, start: int, length: int) -> float:
    window = audio[start:start + length]
    return 10 * np.log10(np.mean(np.square(window, dtype=np.float64)) + 1e-12)


def onsets_and_decay(audio: np.ndarray, sample_rate: int) -> tuple:
    """``(onsets per second, median level change DECAY_SECONDS after them in dB)``;
    the change is NaN where no onset has DECAY_SECONDS of audio after it."""
    import librosa

    hop = max(1, int(ONSET_HOP_SECONDS * sample_rate))
    onsets = librosa.onset.onset_detect(y=audio, sr=sample_rate, units="samples",
                                        hop_length=hop,
                                        wait=int(MIN_ONSET_GAP_SECONDS * sample_rate / hop))
    window, later = int(LEVEL_WINDOW_SECONDS * sample_rate), int(DECAY_SECONDS * sample_rate)
    changes = [_rms_db(audio, onset + later, window) - _rms_db(audio, onset, window)
               for onset in onsets if onset + later + window <= len(audio)]
    return (len(onsets) / (len(audio) / sample_rate),
            float(np.median(changes)) if changes else float("nan"))


def measure(audio: np.ndarray, sample_rate: int) -> dict:
    """The measures of the module docstring for ``audio [samples]``: ``{name: float}``."""
    import librosa

    audio = np.asarray(audio, np.float32)
    n_fft, hop = fft_and_hop(sample_rate)
    level_db, flatness, _ = frame_spectra(audio, sample_rate)
    frames = len(flatness)
    sounding = level_db >= SILENCE_DBFS
    tonal = sounding & (flatness < TONAL_FLATNESS)
    onsets, decay = onsets_and_decay(audio, sample_rate)
    pitch_classes = 0
    if tonal.any():
        chroma = librosa.feature.chroma_stft(y=audio, sr=sample_rate, n_fft=n_fft,
                                             hop_length=hop)[:, :frames]
        leading = np.bincount(chroma[:, tonal].argmax(axis=0), minlength=PITCH_CLASSES)
        pitch_classes = int(np.sum(leading >= MIN_PITCH_SHARE * tonal.sum()))
    return {"silence_share": float(1 - sounding.mean()),
            "median_flatness": float(np.median(flatness[sounding])) if sounding.any()
            else float("nan"),
            "tonal_share": float(tonal.sum() / max(1, sounding.sum())),
            "onsets_per_second": onsets, "decay_db": decay,
            "pitch_classes": float(pitch_classes)}


def corpus_medians(measures: list) -> dict:
    """The median of each measure over a corpus's files (NaNs left out)."""
    return {name: float(np.nanmedian([m[name] for m in measures])) for name in MEASURES}


def has_notes(generated: dict, corpus: dict) -> dict:
    """Each criterion of the module docstring: ``{criterion: bool}``, and ``"all"``."""
    flatness_ratio = generated["median_flatness"] / max(corpus["median_flatness"], 1e-12)
    checks = {
        "flatness like the corpus": 1 / FLATNESS_RATIO <= flatness_ratio <= FLATNESS_RATIO,
        "onsets that decay": (generated["onsets_per_second"]
                              >= ONSET_RATIO * corpus["onsets_per_second"]
                              and generated["decay_db"]
                              <= DECAY_SHARE * min(corpus["decay_db"], 0.0)),
        "pitch variety": generated["pitch_classes"] >= MIN_PITCH_CLASSES,
        "little silence": generated["silence_share"] < MAX_SILENCE_SHARE,
    }
    checks["all"] = all(checks.values())
    return checks


def folder_medians(folder: str) -> dict:
    """:func:`corpus_medians` of every audio file under ``folder``."""
    from samplernn.data import find_audio_files

    return corpus_medians([m for _, m in _measure_files(find_audio_files(folder))])


def _measure_files(paths: list) -> list:
    from samplernn import audio as audio_io

    found = []
    for path in paths:
        rate = audio_io.native_sample_rate(path)
        found.append((path, measure(audio_io.load_audio(path, rate), rate)))
    return found


def _row(name: str, measures: dict, long_form: str = "", verdict: str = "") -> str:
    return (f"{name[-40:]:>40} {measures['silence_share']:8.2f} "
            f"{measures['median_flatness']:9.4f} {measures['tonal_share']:7.2f} "
            f"{measures['onsets_per_second']:7.2f} {measures['decay_db']:+8.1f} "
            f"{measures['pitch_classes']:6.0f} {long_form:>15}  {verdict}").rstrip()


def _long_form(verdict) -> str:
    """``alive share / first collapse`` of a :class:`samplernn.windows.LongFormVerdict`."""
    collapse = verdict.first_collapse_seconds
    return (f"{verdict.alive_share:5.2f} / " +
            ("never" if collapse is None else f"{collapse:g} s"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="generated audio files")
    parser.add_argument("--corpus", help="a folder of the corpus's audio: its medians, and a "
                                         "verdict per file")
    args = parser.parse_args(argv)
    from samplernn import audio as audio_io

    for path in args.files:   # a wrong path is one line, before the table starts
        audio_io.require_file(path)
    print(f"{'file':>40} {'silence':>8} {'flatness':>9} {'tonal':>7} {'onsets/s':>8} "
          f"{'decay dB':>8} {'pitch':>6} {'alive/collapse':>15}")
    corpus = bounds = None
    if args.corpus:
        from samplernn import windows
        from samplernn.data import find_audio_files

        corpus_paths = find_audio_files(args.corpus)
        corpus = corpus_medians([m for _, m in _measure_files(corpus_paths)])
        rate = audio_io.native_sample_rate(args.files[0])   # one rate for every file
        corpus_windows = windows.folder_windows(corpus_paths, rate)
        bounds = windows.window_bounds(corpus_windows)
        print(_row("corpus median", corpus,
                   f"{windows.corpus_ceiling(corpus_windows, bounds):5.2f} alive"))
    for path, measures in _measure_files(args.files):
        verdict = long_form = ""
        if corpus is not None:
            checks = has_notes(measures, corpus)
            verdict = ("has notes like its corpus" if checks["all"] else
                       "missing: " + ", ".join(k for k, ok in checks.items()
                                               if not ok and k != "all"))
            windowed = windows.folder_windows([path], rate)[0]
            if windowed:
                long_form = _long_form(windows.judge(windowed, bounds))
        print(_row(path, measures, long_form, verdict))
    return 0


if __name__ == "__main__":
    import sys

    from samplernn.errors import UserError

    try:
        raise SystemExit(main())
    except UserError as error:   # a missing or undecodable file: one line, status 2
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None

"""Short-time analysis frames of audio: level, spectral flatness and magnitude spectra,
shared by the measures of notes (:mod:`samplernn.notes`) and of audio that keeps
playing (:mod:`samplernn.windows`)."""

from __future__ import annotations

import numpy as np

FRAME_SECONDS = 0.064          # analysis frame (FFT) length
HOP_SECONDS = 0.016            # hop between frames
SILENCE_DBFS = -60.0           # a frame quieter than this (RMS) is silence


def fft_and_hop(sample_rate: int) -> tuple:
    """``(FFT length, hop)`` in samples of the analysis frames at ``sample_rate``."""
    return int(2 ** np.ceil(np.log2(FRAME_SECONDS * sample_rate))), int(HOP_SECONDS * sample_rate)


def frame_spectra(audio: np.ndarray, sample_rate: int) -> tuple:
    """Per analysis frame (HOP_SECONDS apart) of ``audio [samples]``: its RMS level in
    dBFS ``[frames]``, its spectral flatness ``[frames]`` and its magnitude spectrum
    ``[frames, bins]``."""
    import librosa

    audio = np.asarray(audio, np.float32)
    n_fft, hop = fft_and_hop(sample_rate)
    level_db = 20 * np.log10(librosa.feature.rms(y=audio, frame_length=n_fft,
                                                 hop_length=hop)[0] + 1e-12)
    magnitude = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=hop))
    flatness = librosa.feature.spectral_flatness(S=magnitude)[0]
    frames = min(len(flatness), len(level_db))
    return level_db[:frames], flatness[:frames], magnitude[:, :frames].T

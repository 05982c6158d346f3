"""Pictures of audio: log-mel spectrograms and waveforms, as PNG.

Rendered with matplotlib's non-interactive Agg backend, so it works on
servers and in tests without a display.
"""

from __future__ import annotations

import io

import numpy as np

N_MELS = 80
N_FFT = 1024
HOP_LENGTH = 256
DB_RANGE = 80.0  # dynamic range shown, in dB below the loudest point


def log_mel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Log-mel spectrogram in dB: ``[N_MELS, frames]``."""
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(audio, np.float32), sr=sample_rate,
                                         n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS)
    return librosa.power_to_db(mel, ref=np.max, top_db=DB_RANGE)


def _figure_png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def spectrograms_png(audios: dict, sample_rate: int, stacked: bool = False) -> bytes:
    """Log-mel spectrograms, one per ``{title: audio}``, side by side or (``stacked``)
    one above the other on a shared time axis: PNG bytes."""
    import librosa.display

    plt = _pyplot()
    rows, columns = (len(audios), 1) if stacked else (1, len(audios))
    figure, axes = plt.subplots(rows, columns, figsize=(10 if stacked else 5 * columns,
                                                        3 * rows if stacked else 3.5),
                                squeeze=False, sharex=stacked)
    for axis, (title, audio) in zip(axes.ravel(), audios.items()):
        librosa.display.specshow(log_mel(audio, sample_rate), sr=sample_rate,
                                 hop_length=HOP_LENGTH, x_axis="time", y_axis="mel", ax=axis)
        axis.set_title(title)
    if stacked:
        for axis in axes.ravel()[:-1]:
            axis.set_xlabel("")      # one time axis, labelled at the bottom
    return _figure_png(figure)


def waveform_and_spectrogram_png(audio: np.ndarray, sample_rate: int, title: str = "") -> bytes:
    """The waveform above its log-mel spectrogram: PNG bytes."""
    import librosa.display

    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    librosa.display.waveshow(np.asarray(audio, np.float32), sr=sample_rate, ax=top)
    top.set_title(title)
    top.set_ylim(-1, 1)
    librosa.display.specshow(log_mel(audio, sample_rate), sr=sample_rate, hop_length=HOP_LENGTH,
                             x_axis="time", y_axis="mel", ax=bottom)
    return _figure_png(figure)


def write_png(path: str, png: bytes) -> None:
    from samplernn.fileio import atomic_path

    with atomic_path(path) as tmp_path:
        with open(tmp_path, "wb") as f:
            f.write(png)

"""Reading and writing audio files.

Audio in memory is always float32, mono, nominally in [-1, 1], shape
``[num_samples]``. Reading goes through librosa (libsndfile for WAV, FLAC,
OGG and MP3; audioread as a fallback); writing produces 16-bit PCM WAV
through soundfile, atomically.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import soundfile

from samplernn.errors import UserError
from samplernn.fileio import atomic_path, temporary_path_for

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
WAV_SUBTYPE = "PCM_16"


class AudioDecodeError(UserError):
    """A file that exists but cannot be decoded as audio."""


def native_sample_rate(path: str) -> int:
    """The sample rate stored in the file, in Hz."""
    import librosa

    try:
        return int(soundfile.info(path).samplerate)
    except Exception:  # not a libsndfile format: let librosa's fallback try
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(librosa.get_samplerate(path))
    except Exception as e:  # soundfile/audioread raise many different types
        raise AudioDecodeError(f"cannot decode audio file {path}: {_first_line(e)}") from None


def load_audio(path: str, sample_rate: int) -> np.ndarray:
    """Decode ``path`` as float32 mono at ``sample_rate`` Hz: ``[num_samples]``.

    Stereo is down-mixed by averaging the channels; a file at another rate
    is resampled (the caller reports that, see :func:`native_sample_rate`).
    """
    import librosa

    if not os.path.isfile(path):
        raise UserError(f"audio file {path} does not exist")
    try:
        with warnings.catch_warnings():
            # librosa warns when it falls back to audioread; the result is the same.
            warnings.simplefilter("ignore")
            audio, _ = librosa.load(path, sr=sample_rate, mono=True, dtype=np.float32)
    except Exception as e:
        raise AudioDecodeError(f"cannot decode audio file {path}: {_first_line(e)}") from None
    if audio.size == 0:
        raise AudioDecodeError(f"audio file {path} contains no samples")
    return audio


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio ``[num_samples]`` (or ``[num_samples, channels]``) as WAV.

    The file appears under its final name only once it is complete.
    """
    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path) as tmp_path:
        soundfile.write(tmp_path, audio, sample_rate, subtype=WAV_SUBTYPE, format="WAV")


class WavStreamWriter:
    """Append blocks of audio to a WAV file as they are produced.

    Used for long generations that should not sit in memory. Writes to a
    temporary file and renames it on :meth:`close`; :meth:`abort` removes it.
    """

    def __init__(self, path: str, sample_rate: int, channels: int = 1):
        self.path = path
        self._tmp_path = temporary_path_for(path)
        self._file = soundfile.SoundFile(self._tmp_path, mode="w", samplerate=sample_rate,
                                         channels=channels, subtype=WAV_SUBTYPE,
                                         format="WAV")

    def write(self, audio: np.ndarray) -> None:
        """Append ``[num_samples]`` (or ``[num_samples, channels]``) float audio."""
        self._file.write(np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0))

    def close(self) -> None:
        """Finish the file and move it to its final name."""
        self._file.close()
        os.replace(self._tmp_path, self.path)

    def abort(self) -> None:
        """Drop the partial file; ``path`` is left as it was."""
        self._file.close()
        if os.path.exists(self._tmp_path):
            os.remove(self._tmp_path)


def _first_line(error: Exception) -> str:
    if type(error).__name__ == "NoBackendError":  # audioread found no decoder
        return "unsupported or corrupt audio data (for MP3 and others, install ffmpeg)"
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]

"""Reading and writing audio files.

Audio in memory is always float32, mono, nominally in [-1, 1], shape
``[num_samples]``. Reading goes through librosa (libsndfile for WAV, FLAC,
OGG and MP3; audioread as a fallback); writing produces 16-bit PCM WAV
through soundfile, atomically, or as a WAV stream on a pipe.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import warnings

import numpy as np
import soundfile

from samplernn.errors import UserError
from samplernn.fileio import atomic_path, temporary_path_for, write_error

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
WAV_SUBTYPE = "PCM_16"
PCM16_SCALE = 32767          # full scale of a 16-bit sample
PCM16_BYTES = 2
WAV_HEADER_BYTES = 44        # RIFF header + fmt chunk + data chunk header
MAX_RIFF_SIZE = 0xFFFFFFFF   # sizes in a WAV header are 32-bit


class AudioDecodeError(UserError):
    """A file that exists but cannot be decoded as audio."""


def native_sample_rate(path: str) -> int:
    """The sample rate stored in the file, in Hz."""
    import librosa

    require_file(path)
    with warnings.catch_warnings(), quiet_stderr():   # see load_audio
        warnings.simplefilter("ignore")
        try:
            return int(soundfile.info(path).samplerate)
        except Exception:  # not a libsndfile format: let librosa's fallback try
            pass
        try:
            return int(librosa.get_samplerate(path))
        except Exception:  # soundfile/audioread raise many different types
            raise cannot_decode(path) from None


def load_audio(path: str, sample_rate: int) -> np.ndarray:
    """Decode ``path`` as float32 mono at ``sample_rate`` Hz: ``[num_samples]``.

    Stereo is down-mixed by averaging the channels; a file at another rate
    is resampled (the caller reports that, see :func:`native_sample_rate`).
    """
    import librosa

    require_file(path)
    try:
        # librosa warns when it falls back to audioread, and the MP3 decoder
        # prints notes about broken frames on standard error: neither helps.
        with warnings.catch_warnings(), quiet_stderr():
            warnings.simplefilter("ignore")
            audio, _ = librosa.load(path, sr=sample_rate, mono=True, dtype=np.float32)
    except Exception:
        raise cannot_decode(path) from None
    if audio.size == 0:
        raise AudioDecodeError(f"audio file {path} contains no samples")
    return audio


def require_file(path: str) -> None:
    """A clear error for a path that is not a file, before any decoder tries it."""
    if not os.path.isfile(path):
        raise UserError(f"audio file {path} does not exist")


def cannot_decode(path: str) -> AudioDecodeError:
    return AudioDecodeError(f"audio file {path} cannot be decoded: it is not audio, or it is "
                            f"corrupt or in an unsupported format")


@contextlib.contextmanager
def quiet_stderr():
    """Silence what C libraries print on file descriptor 2 inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def _pcm16(audio: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio ``[num_samples]`` (or ``[num_samples, channels]``) as WAV.

    The file appears under its final name only once it is complete.
    """
    try:
        with atomic_path(path, "WAV file") as tmp_path:
            soundfile.write(tmp_path, _pcm16(audio), sample_rate, subtype=WAV_SUBTYPE,
                            format="WAV")
    except soundfile.LibsndfileError as e:
        raise write_error(path, e, "WAV file") from None


class WavStreamWriter:
    """Append blocks of audio to a WAV file as they are produced.

    Used for long generations that should not sit in memory. Writes to a
    temporary file and renames it on :meth:`close`; :meth:`abort` removes it.
    A failed write (a full disk) removes it too and raises a one-line error.
    """

    def __init__(self, path: str, sample_rate: int, channels: int = 1):
        self.path = path
        self._tmp_path = temporary_path_for(path)
        try:
            self._file = soundfile.SoundFile(self._tmp_path, mode="w", samplerate=sample_rate,
                                             channels=channels, subtype=WAV_SUBTYPE,
                                             format="WAV")
        except (soundfile.LibsndfileError, OSError) as e:
            self._remove_temporary()
            raise write_error(path, e, "WAV file") from None

    def write(self, audio: np.ndarray) -> None:
        """Append ``[num_samples]`` (or ``[num_samples, channels]``) float audio."""
        try:
            self._file.write(_pcm16(audio))
        except (soundfile.LibsndfileError, OSError) as e:
            self.abort()
            raise write_error(self.path, e, "WAV file") from None

    def close(self) -> None:
        """Finish the file and move it to its final name."""
        if self._file.closed:
            return
        try:
            self._file.close()
            os.replace(self._tmp_path, self.path)
        except (soundfile.LibsndfileError, OSError) as e:
            self._remove_temporary()
            raise write_error(self.path, e, "WAV file") from None

    def abort(self) -> None:
        """Drop the partial file; ``path`` is left as it was."""
        with contextlib.suppress(Exception):
            self._file.close()
        self._remove_temporary()

    def _remove_temporary(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._tmp_path)


class WavPipeWriter:
    """16-bit PCM WAV on a byte stream (standard output), written as it is produced.

    A stream cannot be rewound to fill in the length, so the header claims
    the largest data size a WAV file can hold (about 13.5 hours at 44.1 kHz
    mono), as streaming tools do; players read until the stream ends.
    """

    def __init__(self, stream, sample_rate: int, channels: int = 1):
        self.stream = stream
        self.stream.write(streaming_wav_header(sample_rate, channels))

    def write(self, audio: np.ndarray) -> None:
        pcm = np.round(_pcm16(audio) * PCM16_SCALE).astype("<i2")
        self.stream.write(pcm.tobytes())
        self.stream.flush()

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            self.stream.flush()

    abort = close


def streaming_wav_header(sample_rate: int, channels: int = 1) -> bytes:
    """A 44-byte PCM WAV header whose data size is the largest a WAV file allows."""
    block_align = channels * PCM16_BYTES
    data_size = (MAX_RIFF_SIZE - (WAV_HEADER_BYTES - 8)) // block_align * block_align
    return (b"RIFF" + struct.pack("<I", data_size + WAV_HEADER_BYTES - 8) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate,
                                    sample_rate * block_align, block_align, 8 * PCM16_BYTES)
            + b"data" + struct.pack("<I", data_size))

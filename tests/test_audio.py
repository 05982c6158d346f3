import os

import numpy as np
import pytest
import soundfile

from samplernn import audio
from samplernn.errors import UserError
from conftest import write_tone


@pytest.mark.parametrize("extension", [".wav", ".flac", ".ogg", ".mp3"])
def test_load_formats_as_float_mono(tmp_path, extension):
    path = write_tone(str(tmp_path / f"tone{extension}"), 0.5, 8000, channels=2)
    samples = audio.load_audio(path, 8000)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - 4000) <= (1 if extension != ".mp3" else 1200)  # MP3 pads frames
    assert 0.4 < np.max(np.abs(samples)) < 0.6


def test_resamples_to_requested_rate(tmp_path):
    path = write_tone(str(tmp_path / "tone.wav"), 1.0, 16000, frequency=440.0)
    samples = audio.load_audio(path, 8000)
    assert len(samples) == 8000
    spectrum = np.abs(np.fft.rfft(samples))
    assert np.argmax(spectrum) == 440  # 1 Hz bins: the pitch is kept
    assert audio.native_sample_rate(path) == 16000


def test_undecodable_and_missing_files(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(audio.AudioDecodeError, match="bad.wav"):
        audio.load_audio(str(bad), 8000)
    with pytest.raises(UserError, match="does not exist"):
        audio.load_audio(str(tmp_path / "missing.wav"), 8000)


def test_write_wav_is_atomic_and_round_trips(tmp_path, monkeypatch):
    path = str(tmp_path / "out" / "x.wav")
    signal = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    audio.write_wav(path, signal, 8000)
    data, rate = soundfile.read(path, dtype="float32")
    assert rate == 8000 and np.allclose(data, signal, atol=1e-4)
    # A failing write leaves the existing file untouched and no temp file behind.
    monkeypatch.setattr(soundfile, "write",
                        lambda *a, **k: (_ for _ in ()).throw(IOError("disk full")))
    with pytest.raises(UserError, match=r"cannot write WAV file .*x\.wav: disk full"):
        audio.write_wav(path, np.zeros(10), 8000)
    assert sorted(os.listdir(tmp_path / "out")) == ["x.wav"]
    assert np.allclose(soundfile.read(path, dtype="float32")[0], signal, atol=1e-4)


def test_stream_writer(tmp_path):
    path = str(tmp_path / "s.wav")
    writer = audio.WavStreamWriter(path, 8000)
    writer.write(np.full(100, 0.25))
    assert not os.path.exists(path)  # not visible until complete
    writer.write(np.full(50, -0.25))
    writer.close()
    data, _ = soundfile.read(path)
    assert len(data) == 150 and np.allclose(data[:100], 0.25, atol=1e-4)
    aborted = audio.WavStreamWriter(str(tmp_path / "a.wav"), 8000)
    aborted.write(np.zeros(10))
    aborted.abort()
    assert sorted(os.listdir(tmp_path)) == ["s.wav"]

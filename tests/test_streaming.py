"""Generation as a stream: WAV on standard output, endless output, and playback logic
(the sound card itself is not needed: its callback is driven here)."""

import io
import os
import struct
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
import soundfile

import generate
from samplernn import audio
from samplernn.errors import UserError
from samplernn.playback import PlaybackBuffer, PlaybackSink, import_sounddevice
from conftest import REPO_ROOT

PROCESS_TIMEOUT_S = 120


@pytest.fixture
def run_dir(saved_model):
    return saved_model


def test_streaming_header_claims_the_largest_size_and_truncated_streams_read():
    header = audio.streaming_wav_header(16000)
    assert len(header) == 44 and header[:4] == b"RIFF" and header[8:16] == b"WAVEfmt "
    riff_size = struct.unpack("<I", header[4:8])[0]
    data_size = struct.unpack("<I", header[40:44])[0]
    assert riff_size == data_size + 36 and data_size % 2 == 0 and riff_size <= 0xFFFFFFFF
    assert data_size > 0xFFFFFFFF - 64
    stream = io.BytesIO()
    writer = audio.WavPipeWriter(stream, 16000)
    tone = 0.5 * np.sin(np.arange(4000) / 7.0)
    writer.write(tone)
    for cut in (44 + 2 * 1000, 44 + 2 * 1000 + 1):   # mid-stream, also mid-sample
        truncated = io.BytesIO(stream.getvalue()[:cut])
        read, rate = soundfile.read(truncated, dtype="float32")
        assert rate == 16000 and len(read) == 1000
        np.testing.assert_allclose(read, tone[:1000], atol=1.0 / 32767)


@pytest.mark.slow
def test_generate_streams_wav_to_stdout_and_stops_when_the_reader_goes(run_dir, tmp_path):
    script = os.path.join(REPO_ROOT, "generate.py")
    finite = subprocess.run([sys.executable, script, "--checkpoint_path", run_dir,
                             "--output_path", "-", "--dur", "0.5"], capture_output=True,
                            timeout=PROCESS_TIMEOUT_S)
    assert finite.returncode == 0, finite.stderr.decode()[-2000:]
    read, rate = soundfile.read(io.BytesIO(finite.stdout))
    assert rate == 8000 and len(read) == 4000     # logs went to stderr, not into the audio
    assert b"Loaded" in finite.stderr

    endless = subprocess.Popen([sys.executable, script, "--checkpoint_path", run_dir,
                                "--output_path", "-", "--dur", "inf"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    received = endless.stdout.read(44 + 2 * 8000)        # one second of audio
    endless.stdout.close()                              # the player quits
    err = endless.stderr.read().decode()
    assert endless.wait(timeout=PROCESS_TIMEOUT_S) == 0, err[-2000:]
    assert "Traceback" not in err and "closed it" in err
    assert len(soundfile.read(io.BytesIO(received))[0]) == 8000


def test_stream_and_play_errors(run_dir, monkeypatch):
    with pytest.raises(UserError, match="streams one sequence"):
        generate.main(["--checkpoint_path", run_dir, "--output_path", "-", "--num_seqs", "2"])
    monkeypatch.setitem(sys.modules, "sounddevice", None)   # not installed
    with pytest.raises(UserError, match=r"--play needs the optional sounddevice package: "
                                        r"pip install sounddevice"):
        generate.main(["--checkpoint_path", run_dir, "--play"])
    with pytest.raises(SystemExit):   # neither a file nor playback
        generate.parse_args(["--checkpoint_path", run_dir])
    assert generate.parse_args(["--checkpoint_path", "x", "--play", "--dur", "0"]).dur is None
    assert generate.parse_args(["--checkpoint_path", "x", "--play", "--dur", "inf"]).dur is None


def test_playback_buffer_counts_underruns_only_while_audio_is_due():
    buffer = PlaybackBuffer(capacity=100)
    out = np.ones(8, np.float32)
    assert buffer.fill(out) and buffer.underruns == 1 and not out.any()  # nothing queued yet
    buffer.push(np.arange(1, 6, dtype=np.float32))
    buffer.push(np.arange(6, 11, dtype=np.float32))
    assert buffer.fill(out) and list(out) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert buffer.underruns == 1 and buffer.queued == 2
    buffer.finish()
    more = np.ones((8, 1), np.float32)       # PortAudio's [frames, channels] layout
    assert not buffer.fill(more)             # all played: the stream may stop
    assert list(more[:, 0]) == [9, 10, 0, 0, 0, 0, 0, 0] and buffer.underruns == 1


def test_playback_buffer_makes_the_generator_wait_when_full():
    buffer = PlaybackBuffer(capacity=10)
    buffer.push(np.zeros(10))
    pushed = threading.Event()
    threading.Thread(target=lambda: (buffer.push(np.zeros(5)), pushed.set()),
                     daemon=True).start()
    assert not pushed.wait(0.3)              # blocked: the buffer is full
    buffer.fill(np.zeros(6, np.float32))
    assert pushed.wait(2.0)


class FakeSoundDevice(types.SimpleNamespace):
    """Stands in for the sounddevice module: its stream calls the callback from a thread."""

    class CallbackStop(Exception):
        pass

    def __init__(self, blocksize=400):
        super().__init__(played=[])
        sounddevice = self

        class OutputStream:
            def __init__(self, samplerate, channels, dtype, callback, finished_callback):
                self.callback, self.finished = callback, finished_callback
                self.running = False

            def start(self):
                self.running = True
                threading.Thread(target=self._run, daemon=True).start()

            def _run(self):
                while self.running:
                    out = np.zeros((blocksize, 1), np.float32)
                    try:
                        self.callback(out, blocksize, None, None)
                    except sounddevice.CallbackStop:
                        self.running = False
                    sounddevice.played.append(out[:, 0].copy())
                    time.sleep(0.001)
                self.finished()

            def stop(self):
                self.running = False

            def abort(self):
                self.running = False

            def close(self):
                pass

        self.OutputStream = OutputStream


def test_playback_sink_plays_everything_in_order():
    device = FakeSoundDevice()
    sink = PlaybackSink(8000, sounddevice=device)
    tone = np.linspace(-0.5, 0.5, 6000, dtype=np.float32)
    for start in range(0, len(tone), 1000):
        sink.write(tone[start:start + 1000])
    sink.close()
    played = np.concatenate(device.played)
    np.testing.assert_array_equal(played[:6000], tone)   # then silence to the block's end
    assert not played[6000:].any() and sink.status().startswith("underruns ")


def test_import_sounddevice_error_when_portaudio_is_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.raises(UserError, match="cannot load PortAudio .*libportaudio2"):
        import_sounddevice()


def test_closing_playback_on_a_stalled_device_gives_up_in_bounded_time(monkeypatch):
    """A sound device that never asks for audio (stalled, or hung after Ctrl-C):
    close() waits for the queued audio's length plus a grace, then stops."""
    from samplernn import playback

    monkeypatch.setattr(playback, "DRAIN_GRACE_SECONDS", 0.2)
    device = FakeSoundDevice()
    device.OutputStream.start = lambda self: None     # the stream never runs its callback
    # A stalled device's stop() waits for buffers that never drain (as PortAudio's
    # does); only abort() returns.
    device.OutputStream.stop = lambda self: time.sleep(10)
    sink = PlaybackSink(8000, sounddevice=device)
    sink.write(np.zeros(800, np.float32))              # 0.1 s queued
    started = time.perf_counter()
    with pytest.warns(UserWarning, match="stopped taking audio"):
        assert sink.close() is False
    assert 0.25 < time.perf_counter() - started < 5.0

"""Playing generated audio on the sound card as it is generated (``generate.py --play``).

``sounddevice`` (PortAudio) is an optional dependency, imported only here.
The generator pushes blocks into a :class:`PlaybackBuffer`; PortAudio's
audio thread pulls fixed-size blocks out of it in :meth:`PlaybackBuffer.fill`.
When the generator falls behind, the audio thread finds the buffer short,
plays silence for the missing part and counts an *underrun*: the number the
progress line shows, telling whether generation keeps up with real time.
"""

from __future__ import annotations

import collections
import threading
import warnings

import numpy as np

from samplernn.errors import UserError

PREBUFFER_SECONDS = 0.5   # audio queued before playback starts
CAPACITY_SECONDS = 2.0    # the generator waits when this much is queued
DRAIN_GRACE_SECONDS = 2.0  # close() waits this much longer than the queued audio lasts
INSTALL_HINT = ("pip install sounddevice (on Linux PortAudio too: apt-get install "
                "libportaudio2)")


class PlaybackBuffer:
    """A thread-safe queue of float32 mono samples between generator and sound card.

    ``push`` blocks while ``capacity`` samples are waiting. ``fill`` never
    blocks: it is called from the audio thread.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.underruns = 0
        self._blocks = collections.deque()
        self._queued = 0
        self._finished = False      # no more audio will come
        self._space = threading.Condition()

    @property
    def queued(self) -> int:
        return self._queued

    def push(self, audio: np.ndarray) -> None:
        audio = np.asarray(audio, np.float32).reshape(-1)
        with self._space:
            while self._queued >= self.capacity and not self._finished:
                self._space.wait(timeout=0.1)
            self._blocks.append(audio)
            self._queued += len(audio)

    def finish(self) -> None:
        """No more audio: what is queued plays out, and a short buffer is not an underrun."""
        with self._space:
            self._finished = True
            self._space.notify_all()

    def fill(self, out: np.ndarray) -> bool:
        """Fill ``out [frames]`` (or ``[frames, 1]``) with queued audio, silence
        for what is missing. Returns False once everything has been played."""
        flat = out.reshape(-1)
        written = 0
        with self._space:
            while written < len(flat) and self._blocks:
                block = self._blocks[0]
                take = min(len(block), len(flat) - written)
                flat[written:written + take] = block[:take]
                written += take
                if take == len(block):
                    self._blocks.popleft()
                else:
                    self._blocks[0] = block[take:]
            self._queued -= written
            if written < len(flat):
                flat[written:] = 0.0
                if not self._finished:
                    self.underruns += 1
            self._space.notify_all()
            return not (self._finished and not self._blocks)


def import_sounddevice():
    """The sounddevice module, or a one-line error saying how to install it."""
    try:
        import sounddevice
    except ImportError:
        raise UserError(f"--play needs the optional sounddevice package: {INSTALL_HINT}") \
            from None
    except OSError as e:  # the package is there but PortAudio is not
        raise UserError(f"--play cannot load PortAudio ({e}): {INSTALL_HINT}") from None
    return sounddevice


class PlaybackSink:
    """A :func:`samplernn.generation.write_generated` sink that plays audio.

    Playback starts once :data:`PREBUFFER_SECONDS` are queued (or at
    :meth:`close`, for shorter audio); :meth:`close` waits until everything
    queued has been played; :meth:`abort` stops at once.
    """

    def __init__(self, sample_rate: int, sounddevice=None):
        self._sounddevice = sounddevice or import_sounddevice()
        self.sample_rate = sample_rate
        self.buffer = PlaybackBuffer(int(CAPACITY_SECONDS * sample_rate))
        self._prebuffer = int(PREBUFFER_SECONDS * sample_rate)
        self._done = threading.Event()
        self._stream = None

    def _callback(self, outdata, frames, time, status):
        if not self.buffer.fill(outdata):
            self._done.set()
            raise self._sounddevice.CallbackStop

    def _start(self) -> None:
        if self._stream is None:
            try:
                self._stream = self._sounddevice.OutputStream(
                    samplerate=self.sample_rate, channels=1, dtype="float32",
                    callback=self._callback, finished_callback=self._done.set)
                self._stream.start()
            except Exception as e:  # PortAudioError: no device, device busy, ...
                reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise UserError(f"--play cannot open the sound card: {reason}") from None

    def write(self, audio: np.ndarray) -> None:
        self.buffer.push(audio)
        if self.buffer.queued >= self._prebuffer:
            self._start()

    def close(self) -> bool:
        """Play what is queued, then stop. The wait is bounded (the queued audio's
        length plus :data:`DRAIN_GRACE_SECONDS`), so a stalled sound device cannot hang
        the program; returns False (with a warning) when the device did not finish."""
        self.buffer.finish()
        finished = True
        if self.buffer.queued:
            self._start()
            bound = self.buffer.queued / self.sample_rate + DRAIN_GRACE_SECONDS
            finished = self._done.wait(timeout=bound)
            if not finished:
                warnings.warn(f"the sound device stopped taking audio; gave up waiting after "
                              f"{bound:.1f} s", stacklevel=2)
        self._close_stream(drain=finished)
        return finished

    def abort(self) -> None:
        """Stop at once, dropping whatever the device still buffers."""
        self.buffer.finish()
        self._close_stream(drain=False)

    def _close_stream(self, drain: bool) -> None:
        """Close the stream. ``drain``: let the device play out its own buffers
        (``stop()`` waits for them); otherwise drop them (``abort()`` returns at
        once), so a device that no longer takes audio cannot hang the program."""
        if self._stream is not None:
            if drain:
                self._stream.stop()
            else:
                self._stream.abort()
            self._stream.close()
            self._stream = None

    def status(self) -> str:
        """For the progress line: ``underruns 0``."""
        return f"underruns {self.buffer.underruns}"

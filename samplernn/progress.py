"""Progress and ETA display for long work (training epochs, generation).

Rates are measured from the first report on, never from the start of the
work: the first call of a compiled function includes its compilation, and
an ETA extrapolated from it would be wildly long.
"""

from __future__ import annotations

import math
import sys
import time

LOG_INTERVAL_SECONDS = 10.0   # how often progress is printed into a log file


def is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (where ``\\r`` rewrites a line)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def clock(seconds: float) -> str:
    """Seconds as ``H:MM:SS``; ``?`` for an unknown (infinite or NaN) time."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class RateMeter:
    """Measures a rate (units per second) from the first report onwards.

    ``update(done)`` reports the total amount of work done so far; the
    rate is ``(done - done at first report) / (time since first report)``.
    """

    def __init__(self):
        self._first = None          # (time, done) at the first report
        self.rate = float("nan")

    def update(self, done: float, now: float = None) -> float:
        now = time.perf_counter() if now is None else now
        if self._first is None:
            self._first = (now, done)
        elif now > self._first[0] and done > self._first[1]:
            self.rate = (done - self._first[1]) / (now - self._first[0])
        return self.rate

    def eta(self, remaining: float) -> float:
        """Seconds left for ``remaining`` units (NaN until a rate is known)."""
        return remaining / self.rate if self.rate > 0 else float("nan")


class GenerationProgress:
    """One line, rewritten in place, for audio generation::

        Generated 2.0/10.0 s | elapsed 0:00:04 | ETA 0:00:16 | 1.20x real time

    ``total_seconds`` of None means endless generation (no ETA). ``extra``,
    if given, is a function returning more text for the line (e.g. the
    playback underrun count). When the stream is not a terminal (a log
    file), the line is printed anew every :data:`LOG_INTERVAL_SECONDS`
    instead of being rewritten.
    """

    def __init__(self, total_seconds: float = None, stream=None, interval: float = 0.5,
                 extra=None):
        self.total, self.stream = total_seconds, stream or sys.stderr
        self.in_place = is_terminal(self.stream)
        self.interval = interval if self.in_place else LOG_INTERVAL_SECONDS
        self.extra = extra
        self.start = time.perf_counter()
        self.meter = RateMeter()
        self._last_print = None

    def update(self, done_seconds: float, final: bool = False) -> None:
        now = time.perf_counter()
        speed = self.meter.update(done_seconds, now)
        if not final and self._last_print is not None and now - self._last_print < self.interval:
            return
        self._last_print = now
        parts = [f"Generated {done_seconds:.1f}"
                 + (f"/{self.total:.1f} s" if self.total is not None else " s"),
                 f"elapsed {clock(now - self.start)}"]
        if self.total is not None:
            parts.append(f"ETA {clock(self.meter.eta(self.total - done_seconds))}")
        parts.append(f"{speed:.2f}x real time" if speed > 0 else "?x real time")
        if self.extra is not None:
            parts.append(self.extra())
        if self.in_place:
            print("\r" + " | ".join(parts), end="\n" if final else "", file=self.stream,
                  flush=True)
        else:
            print(" | ".join(parts), file=self.stream, flush=True)

"""Ctrl-C as a request, not an exception.

A ``KeyboardInterrupt`` raised at an arbitrary bytecode can land inside
TensorFlow (mid-save, mid-trace, inside a compiled call's Python wrapper) and
leave a half-written checkpoint, a traceback or a crash at exit. Long-running
loops therefore install :class:`InterruptFlag`: its SIGINT handler only
records the press, and the loop checks :attr:`InterruptFlag.requested` at safe
points (between training steps, between compiled generation calls) and winds
down cleanly from there.

Outside such a loop the scripts use Python's default handler (a
``KeyboardInterrupt`` that :func:`samplernn.cli.run` turns into exit status
130 without a traceback). Either way the handler is installed explicitly with
``signal.signal``: a process started in the background by a non-interactive
shell inherits SIGINT as *ignored*, and ``kill -INT`` would otherwise do
nothing.
"""

from __future__ import annotations

import signal
import sys
import threading

EXIT_STATUS_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def raise_keyboard_interrupt_on_sigint() -> None:
    """Make SIGINT raise ``KeyboardInterrupt`` even where it was inherited as ignored."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


class InterruptFlag:
    """Records Ctrl-C presses while installed (a context manager).

    ``message`` is printed (to standard error) at the first press, saying
    what will happen; later presses are counted but change nothing, so a
    checkpoint being written is never cut short.
    """

    def __init__(self, message: str = "Interrupted: stopping at the next safe point",
                 stream=None):
        self.message, self.stream = message, stream
        self.presses = 0
        self._previous = None

    @property
    def requested(self) -> bool:
        return self.presses > 0

    def _handle(self, signum, frame) -> None:
        self.presses += 1
        if self.presses == 1 and self.message:
            print(f"\n{self.message}", file=self.stream or sys.stderr, flush=True)

    def __enter__(self) -> "InterruptFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class _NeverInterrupted:
    """Stands in for an :class:`InterruptFlag` where none is installed."""
    requested = False
    presses = 0


NEVER = _NeverInterrupted()

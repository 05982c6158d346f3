"""Ctrl-C and SIGTERM as a request, not an exception.

A ``KeyboardInterrupt`` raised at an arbitrary bytecode can land inside
TensorFlow (mid-save, mid-trace, inside a compiled call's Python wrapper) and
leave a half-written checkpoint, a traceback or a crash at exit. Long-running
loops therefore install :class:`InterruptFlag`: its handler only records the
signal, and the loop checks :attr:`InterruptFlag.requested` at safe points
(between training steps, between compiled generation calls) and winds down
cleanly from there.

SIGTERM (plain ``kill``, a preempted cloud VM or Colab, a job scheduler) is
treated exactly as Ctrl-C, with the same guarantees; only the exit status
differs: 128 + the signal's number, 130 for SIGINT and 143 for SIGTERM, as
shells report them.

Outside such a loop the scripts raise instead: SIGINT as Python's
``KeyboardInterrupt``, SIGTERM as :class:`Terminated` (a subclass), so that
``finally`` blocks and temporary-file clean-ups run either way, and
:func:`samplernn.cli.run` turns both into their exit status without a
traceback. The handlers are installed explicitly with ``signal.signal``: a
process started in the background by a non-interactive shell inherits SIGINT
as *ignored*, and ``kill -INT`` would otherwise do nothing.
"""

from __future__ import annotations

import signal
import sys
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SIGNAL_EXIT_BASE = 128          # a shell reports death by signal N as 128 + N
EXIT_STATUS_INTERRUPTED = SIGNAL_EXIT_BASE + signal.SIGINT    # 130
EXIT_STATUS_TERMINATED = SIGNAL_EXIT_BASE + signal.SIGTERM    # 143


class Terminated(KeyboardInterrupt):
    """SIGTERM received where no :class:`InterruptFlag` is installed."""
    exit_status = EXIT_STATUS_TERMINATED


def _raise_terminated(signum, frame):
    raise Terminated()


def raise_on_stop_signals() -> None:
    """SIGINT raises ``KeyboardInterrupt`` (even where it was inherited as ignored),
    SIGTERM raises :class:`Terminated`."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_terminated)


class InterruptFlag:
    """Records Ctrl-C presses and SIGTERM while installed (a context manager).

    ``message`` is printed (to standard error) at the first signal, saying
    what will happen; later signals are counted but change nothing, so a
    checkpoint being written is never cut short.
    """

    def __init__(self, message: str = "Interrupted: stopping at the next safe point",
                 stream=None):
        self.message, self.stream = message, stream
        self.presses = 0
        self.signum = None            # the first signal received
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self.presses > 0

    @property
    def exit_status(self) -> int:
        """What the process should exit with after stopping on the signal received."""
        return SIGNAL_EXIT_BASE + (self.signum or signal.SIGINT)

    def _handle(self, signum, frame) -> None:
        self.presses += 1
        if self.presses == 1:
            self.signum = signum
            if self.message:
                prefix = "SIGTERM received. " if signum == signal.SIGTERM else ""
                print(f"\n{prefix}{self.message}", file=self.stream or sys.stderr, flush=True)

    def __enter__(self) -> "InterruptFlag":
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle)
                              for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}


class _NeverInterrupted:
    """Stands in for an :class:`InterruptFlag` where none is installed."""
    requested = False
    presses = 0
    exit_status = EXIT_STATUS_INTERRUPTED


NEVER = _NeverInterrupted()

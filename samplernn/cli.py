"""What every top-level script shares: argument types, logging, clean errors."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import warnings

# The atexit handlers, run by exit_process (a test stands in for them).
exit_handlers = atexit._run_exitfuncs


def quiet_tensorflow() -> None:
    """Import TensorFlow without its C++ start-up chatter in the user's terminal.

    TF 2.21 prints absl INFO lines (oneDNN, CUDA stubs, and on machines without
    a GPU a CUDA error) while it loads and probes devices, whatever
    TF_CPP_MIN_LOG_LEVEL says, so standard error is pointed at /dev/null for
    the import alone. An import failure still raises as usual afterwards.
    """
    # 3: not even ERROR lines, which TensorFlow's C++ side also prints for things that
    # are not errors of ours (oneDNN's "supports DT_STRING only on platforms with
    # AVX-512" while TensorBoard's audio is written). Real failures still raise.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ.get("SAMPLERNN_TF_LOGS"):
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow

        # Probing for GPUs prints a CUDA error on machines without one. Listing
        # physical devices does not start the runtime (multi-worker set-up needs that).
        tensorflow.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def boolean(text: str) -> bool:
    """``True``/``False`` as written in the docs (also yes/no, 1/0, any case)."""
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def _number_in(text: str, low: float, high: float, low_open: bool, high_open: bool,
               words: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
    if (value < low or value > high or (low_open and value == low)
            or (high_open and value == high)):
        raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}")
    return value


def top_p_value(text: str) -> float:
    """Nucleus sampling's mass: above 0, at most 1 (1: every value kept)."""
    return _number_in(text, 0.0, 1.0, True, False, "a number above 0 and at most 1")


def min_p_value(text: str) -> float:
    """Min-p sampling's share of the likeliest value: at least 0, under 1 (0: all kept)."""
    return _number_in(text, 0.0, 1.0, False, True, "a number from 0 up to (not including) 1")


def add_truncation_flags(parser, of_what: str) -> None:
    """``--top_p`` and ``--min_p`` (default None: what the run recorded) on ``parser``;
    ``of_what`` says which draws they cut."""
    from samplernn import defaults

    parser.add_argument("--top_p", type=top_p_value, default=None,
                        help=f"Nucleus sampling of {of_what}: each sample drawn from the "
                             "likeliest values whose probabilities sum to this; 1 keeps them "
                             "all (default: what the run recorded beside its checkpoints, "
                             f"else {defaults.TOP_P})")
    parser.add_argument("--min_p", type=min_p_value, default=None,
                        help=f"Min-p sampling of {of_what}: values less likely than this "
                             "times the likeliest one left out; 0 keeps them all (default: "
                             f"what the run recorded, else {defaults.MIN_P})")


def non_negative_float(text: str) -> float:
    """A number, 0 or more."""
    return _number_in(text, 0.0, float("inf"), False, False, "a number, 0 or more")


def optional_int(text: str):
    """An integer, or ``None`` written as the word None."""
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or None, got {text!r}") from None


def optional_float(text: str):
    """A positive number, or ``None`` written as the word None."""
    if text.strip().lower() == "none":
        return None
    return positive_float(text)


def positive_int(text: str) -> int:
    value = optional_int(text)
    if value is None or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def parser(description: str, **kwargs) -> argparse.ArgumentParser:
    """Every script's argument parser: defaults shown in --help, and no abbreviations
    (``--config wide.json`` is an unknown flag, not a silent ``--config_file``)."""
    kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
    return argparse.ArgumentParser(description=description, allow_abbrev=False, **kwargs)


def given_options(build_parser, argv) -> set:
    """The ``dest`` of every option that ``argv`` (None: ``sys.argv[1:]``) gives, however
    it was written (``--flag value``, ``--flag=value``); ``build_parser()`` makes a
    fresh parser of the script."""
    quiet = build_parser()
    for action in quiet._actions:
        action.default = argparse.SUPPRESS
    return set(vars(quiet.parse_args(argv)))


def option_words(parser: argparse.ArgumentParser, values: dict) -> list:
    """Command-line words that give each option of ``values`` (dest -> parsed value) its
    value, in the parser's order: the inverse of parsing for this project's types
    (True/False, None, numbers, words, lists)."""
    def text(value):
        if value is None or isinstance(value, bool):
            return str(value)
        return repr(value) if isinstance(value, float) else str(value)

    words = []
    for action in parser._actions:
        if action.dest in values and action.option_strings:
            value = values[action.dest]
            words.append(action.option_strings[-1])
            words += ([text(v) for v in value] if isinstance(value, (list, tuple))
                      else [text(value)])
    return words


def setup_logging(stream=None) -> None:
    """Our log lines (plain messages) to ``stream``, standard output by default.

    Only the ``samplernn`` logger speaks at INFO; libraries (TensorFlow's
    "Sharding callback duration" after every checkpoint save, say) are held
    to warnings.
    """
    logging.basicConfig(level=logging.WARNING, format="%(message)s",
                        stream=stream or sys.stdout)
    logging.getLogger("samplernn").setLevel(logging.INFO)
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"


def silence_stdout() -> None:
    """Point standard output at /dev/null, so that the final flush at exit does
    not fail again on a pipe whose reader has gone."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run(main) -> None:
    """Run ``main()`` as a script and end the process with its status.

    A UserError becomes ``error: <message>`` and exit status 2. Ctrl-C or
    SIGTERM that reaches here (at start-up, before any work worth saving)
    ends the process at once with status 130 or 143 and one line, no
    traceback; clean-ups on the way (``finally``, temporary files) have run.
    Long loops handle both signals themselves, see :mod:`samplernn.interrupts`.
    The process always ends through :func:`exit_process`, never by a signal.
    """
    from samplernn.errors import UserError
    from samplernn.interrupts import EXIT_STATUS_INTERRUPTED, raise_on_stop_signals

    raise_on_stop_signals()  # also when started with SIGINT ignored
    try:
        status = main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        status = 2
    except (KeyboardInterrupt, ImportError) as e:   # Ctrl-C, or SIGTERM (a subclass)
        # A signal while TensorFlow's extension modules initialize surfaces as an
        # ImportError caused by it: the same interruption, not a broken install.
        signal_error = e if isinstance(e, KeyboardInterrupt) else _interruption_behind(e)
        if signal_error is None:
            raise
        status = getattr(signal_error, "exit_status", EXIT_STATUS_INTERRUPTED)
        print("\nInterrupted." if status == EXIT_STATUS_INTERRUPTED else "\nTerminated.",
              file=sys.stderr)
        # TensorFlow may be mid-call in another thread: its exit handlers could hang.
        exit_process(status, with_exit_handlers=False)
    exit_process(status or 0)


def _interruption_behind(error: BaseException):
    """The KeyboardInterrupt (Ctrl-C or SIGTERM) that caused ``error``, or None."""
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return error
        error = error.__cause__ or error.__context__
    return None


def exit_process(status: int, with_exit_handlers: bool = True) -> None:
    """End the process with ``status``, whatever signal comes now.

    Python's own shutdown puts the default action back on SIGINT and SIGTERM
    before it tears TensorFlow down, which can take a while: a Ctrl-C then (a
    user pressing it again, a scheduler's SIGTERM) would kill the process by
    the signal, and a caller would see -2 or -15 instead of a status. So stop
    signals are only recorded from here on, the ``atexit`` handlers (logging's
    flush, TensorFlow's own) run, and the process ends without the rest of the
    teardown, with ``status``, or 130 / 143 if a signal came after work that
    had succeeded.
    """
    import signal

    from samplernn.interrupts import SIGNAL_EXIT_BASE, STOP_SIGNALS

    received = []
    if threading_is_main():
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda signum, frame: received.append(signum))
    if with_exit_handlers:
        exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a reader that has gone, a closed stream
            pass
    if received and status == 0:
        status = SIGNAL_EXIT_BASE + received[0]
    os._exit(status)


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()

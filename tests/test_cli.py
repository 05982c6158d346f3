"""samplernn/cli.py in-process: argument types, logging, and how run() ends a script.

The scripts' real exits (a signal to a process) are in test_interrupts.py (slow
tier); here run() is driven with exceptions, and os._exit is replaced so that
the test process survives it.
"""

import argparse
import io
import logging
import os
import signal
import sys

import pytest
import tensorflow  # noqa: F401  (loaded before the tests, as in every test process)

from samplernn import cli
from conftest import REPO_ROOT
from samplernn.errors import UserError
from samplernn.interrupts import Terminated


@pytest.mark.parametrize("text, value", [("True", True), ("yes", True), (" 1 ", True),
                                         ("FALSE", False), ("no", False), ("0", False)])
def test_boolean_reads_the_documented_spellings(text, value):
    assert cli.boolean(text) is value


@pytest.mark.parametrize("parse, text, message", [
    (cli.boolean, "maybe", "expected True or False, got 'maybe'"),
    (cli.optional_int, "2.5", "expected an integer or None, got '2.5'"),
    (cli.positive_int, "0", "expected a positive integer, got '0'"),
    (cli.positive_int, "None", "expected a positive integer, got 'None'"),
    (cli.positive_float, "-1e-3", "expected a positive number, got '-1e-3'"),
    (cli.positive_float, "fast", "expected a positive number, got 'fast'"),
    (cli.positive_float, "nan", "expected a positive number, got 'nan'"),
])
def test_argument_types_refuse_with_the_value_named(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse(text)


def test_argument_types_accept():
    assert cli.optional_int("none") is None and cli.optional_int("-3") == -3
    assert cli.positive_int("7") == 7 and cli.positive_float("0.25") == 0.25


@pytest.fixture
def restore_signal_handlers():
    """run() installs SIGINT/SIGTERM handlers for a script; put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


class Exited(Exception):
    """Raised by the stand-in for os._exit, with the status it was given."""


@pytest.fixture
def fake_exit(monkeypatch):
    def exit_now(status):
        raise Exited(status)

    monkeypatch.setattr(cli.os, "_exit", exit_now)
    monkeypatch.setattr(cli, "exit_handlers", lambda: None)   # pytest's own must not run


def test_run_exits_with_the_status_main_returns(restore_signal_handlers, fake_exit):
    def main():
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        return 3

    with pytest.raises(Exited) as exited:
        cli.run(main)
    assert exited.value.args == (3,)


def test_run_turns_a_user_error_into_one_line_and_status_2(restore_signal_handlers, fake_exit,
                                                           capsys):
    def main():
        raise UserError("--data_dir nowhere does not exist")

    with pytest.raises(Exited) as exited:
        cli.run(main)
    assert exited.value.args == (2,)
    assert capsys.readouterr().err == "error: --data_dir nowhere does not exist\n"


@pytest.mark.parametrize("stop, status, line", [(KeyboardInterrupt, 130, "Interrupted."),
                                                (Terminated, 143, "Terminated.")])
def test_run_ends_at_once_on_ctrl_c_or_sigterm(restore_signal_handlers, fake_exit, capsys,
                                               stop, status, line):
    def main():
        raise stop()

    with pytest.raises(Exited) as exited:
        cli.run(main)
    assert exited.value.args == (status,)
    assert capsys.readouterr().err.strip() == line


def test_sigterm_raises_terminated_once_run_has_installed_its_handlers(
        restore_signal_handlers, fake_exit, capsys):
    def main():
        os.kill(os.getpid(), signal.SIGTERM)   # a real signal, handled in this thread

    with pytest.raises(Exited) as exited:
        cli.run(main)
    assert exited.value.args == (143,)
    assert "Terminated." in capsys.readouterr().err


@pytest.mark.slow   # starts TensorFlow in a fresh process
def test_quiet_tensorflow_hides_tensorflows_start_up_messages():
    """In a fresh process: TensorFlow is imported, its C++ log level is raised, and
    nothing it says while loading reaches standard error (it prints CUDA lines on
    machines without a GPU, this one among them)."""
    import subprocess

    child = subprocess.run(
        [sys.executable, "-c", "import os, sys; sys.path.insert(0, sys.argv[1]); "
         "from samplernn.cli import quiet_tensorflow; quiet_tensorflow(); "
         "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), 'tensorflow' in sys.modules)",
         REPO_ROOT], capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items()
             if k not in ("TF_CPP_MIN_LOG_LEVEL", "SAMPLERNN_TF_LOGS")})
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["3", "True"]
    assert child.stderr == ""


def test_setup_logging_speaks_for_samplernn_and_holds_libraries_to_warnings(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])   # as in a fresh script
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(logging.getLogger("samplernn"), "level", logging.NOTSET)
    stream = io.StringIO()
    cli.setup_logging(stream)
    logging.getLogger("samplernn.training").info("Epoch 1 done")
    logging.getLogger("tensorflow.sharding").info("Sharding callback duration: 5")
    logging.getLogger("tensorflow.sharding").warning("disk is slow")
    assert stream.getvalue() == "Epoch 1 done\ndisk is slow\n"


def test_silence_stdout_points_standard_output_at_dev_null(capfd):
    sys.stdout.flush()
    saved = os.dup(sys.stdout.fileno())
    try:
        cli.silence_stdout()
        os.write(sys.stdout.fileno(), b"lost\n")
    finally:
        os.dup2(saved, sys.stdout.fileno())
        os.close(saved)
    os.write(sys.stdout.fileno(), b"kept\n")
    assert capfd.readouterr().out == "kept\n"


EXITING_SCRIPT = """
import atexit, sys, time
sys.path.insert(0, {root!r})
from samplernn import cli

class SlowTeardown:            # like TensorFlow's objects, destroyed after Python's
    def __del__(self):         # signal handling has been switched off
        time.sleep(3)

slow = SlowTeardown()
atexit.register(time.sleep, 1.5)   # like TensorFlow's own exit handlers

def main():
    print("done", flush=True)
    return 0

cli.run(main)
"""


def test_a_signal_while_the_process_exits_gives_a_status_not_death_by_signal(tmp_path):
    """Work done, then Ctrl-C during the exit handlers and again during teardown (a
    user pressing it several times): the caller sees 130, never -2."""
    import subprocess
    import time

    script = tmp_path / "exiting.py"
    script.write_text(EXITING_SCRIPT.format(root=REPO_ROOT))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "done\n"
    for delay in (0.5, 1.5):   # in the exit handlers' sleep, then in the teardown's
        time.sleep(delay)
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    assert child.wait(timeout=30) == 130


INTERRUPTED_IMPORT = """
import sys
sys.path.insert(0, sys.argv[1])
from samplernn.cli import run

def main():
    try:
        raise KeyboardInterrupt          # Ctrl-C while an extension module initializes...
    except KeyboardInterrupt as e:
        raise ImportError("initialization failed") from e   # ...as TensorFlow reports it

run(main)
"""


def test_ctrl_c_during_tensorflows_import_is_an_interruption_not_a_traceback():
    """Seen in CI: Ctrl-C at start-up, while TensorFlow loads, surfaced as ImportError
    ("initialization failed") with a traceback and status 1. It is a Ctrl-C: 130."""
    import subprocess

    result = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT, REPO_ROOT],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "Interrupted." in result.stderr

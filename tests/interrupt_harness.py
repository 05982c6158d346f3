"""Runs train.py or generate.py with a pause at one named phase, for Ctrl-C tests.

    python tests/interrupt_harness.py PHASE SCRIPT [script arguments...]

At PHASE the process prints ``PHASE <name>`` on standard output and waits,
so that a test can send it a real SIGINT at that moment: up to PAUSE_SECONDS,
or until SETTLE_SECONDS after the first SIGINT or SIGTERM arrives (enough for a
test's quick repeated presses to land inside the pause).
The script's own code is unchanged; only the named function is wrapped.
Phases: startup (loading the corpus), step (inside the third training step),
validation (inside the second validation step), generation (between two
generated blocks), save (inside a checkpoint save), export (inside the SavedModel
save, its staging directory present), none.
"""

import os
import signal
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

PAUSE_SECONDS = 2.0
SETTLE_SECONDS = 0.25
POLL_SECONDS = 0.01
WATCHED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def pause(phase: str) -> None:
    """Wait at ``phase``; the script's own signal handlers run as usual, only watched."""
    arrived = []
    handlers = {signum: signal.getsignal(signum) for signum in WATCHED_SIGNALS}

    def watching(handler):
        def note_then_handle(signum, frame):
            arrived.append(time.monotonic())
            return handler(signum, frame)
        return note_then_handle

    for signum, handler in handlers.items():
        if callable(handler):
            signal.signal(signum, watching(handler))
    try:
        print(f"PHASE {phase}", flush=True)
        deadline = time.monotonic() + PAUSE_SECONDS
        while time.monotonic() < deadline:
            if arrived:
                deadline = min(deadline, arrived[0] + SETTLE_SECONDS)
            time.sleep(POLL_SECONDS)
    finally:
        for signum, handler in handlers.items():
            if callable(handler):
                signal.signal(signum, handler)


def on_call(number: int, phase: str, function):
    """``function``, wrapped to pause at its ``number``-th call."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            pause(phase)
        return function(*args, **kwargs)

    return wrapped


def install(phase: str) -> None:
    from samplernn import data, sampler, training

    if phase == "startup":
        data.load_corpus = on_call(1, phase, data.load_corpus)
    elif phase in ("step", "validation"):
        original_init = training.Trainer.__init__

        def init(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            if phase == "step":
                self.train_step = on_call(3, phase, self.train_step)
            else:
                self.eval_step = on_call(2, phase, self.eval_step)

        training.Trainer.__init__ = init
    elif phase == "generation":
        original_generate = sampler.Sampler.generate

        def generate(self, *args, **kwargs):
            for index, block in enumerate(original_generate(self, *args, **kwargs)):
                if index == 2:
                    pause(phase)
                yield block

        sampler.Sampler.generate = generate
    elif phase == "save":
        import tensorflow as tf

        tf.train.CheckpointManager.save = on_call(1, phase, tf.train.CheckpointManager.save)
    elif phase == "export":
        import tensorflow as tf

        tf.saved_model.save = on_call(1, phase, tf.saved_model.save)
    elif phase != "none":
        raise SystemExit(f"unknown phase {phase}")


def main() -> None:
    phase, script, *arguments = sys.argv[1:]
    from samplernn.cli import quiet_tensorflow, run

    def patched_main():
        quiet_tensorflow()
        install(phase)
        return __import__(script).main(arguments)

    run(patched_main)


if __name__ == "__main__":
    main()

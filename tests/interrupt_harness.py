"""Runs train.py or generate.py with a pause at one named phase, for Ctrl-C tests.

    python tests/interrupt_harness.py PHASE SCRIPT [script arguments...]

At PHASE the process prints ``PHASE <name>`` on standard output and sleeps
for PAUSE_SECONDS, so that a test can send it a real SIGINT at that moment.
The script's own code is unchanged; only the named function is wrapped.
Phases: startup (loading the corpus), step (inside the third training step),
validation (inside the second validation step), generation (between two
generated blocks), save (inside a checkpoint save), export (inside the SavedModel
save, its staging directory present), none.
"""

import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

PAUSE_SECONDS = 2.0


def pause(phase: str) -> None:
    print(f"PHASE {phase}", flush=True)
    time.sleep(PAUSE_SECONDS)   # a signal handler that returns lets sleep continue


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

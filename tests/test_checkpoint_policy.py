"""Checkpoints never go back in time: under each --checkpoint_policy, with timed saves,
stops and kills, resuming takes the newest state and nothing stale is left behind."""

import os
import signal
import subprocess
import sys
import time

import pytest

import train
from samplernn import callbacks, checkpoints, optimizers, runs, training
from samplernn.config import save_config
from samplernn.data import TrainingData
from samplernn.model import build_model
from conftest import REPO_ROOT, tiny_config, write_demo_dir

# epoch -> whether its validation loss "improved" (scripted, so Best's choices are known)
IMPROVES = {1: True, 2: False, 3: True, 4: False}


class ScriptedImprovement(callbacks.Callback):
    """Stands in for ImprovementTracker: improvement by IMPROVES, never stops."""

    def __init__(self):
        self.improved = False

    def on_epoch_end(self, epoch, logs):
        self.improved = IMPROVES[epoch]


def _state_of(prefix):
    """(completed epochs, steps into the next) stored in checkpoint ``prefix``."""
    progress = checkpoints.Progress()
    checkpoints.restore(checkpoints.make_checkpoint(build_model(tiny_config()), None, progress),
                        prefix)
    return int(progress.epoch), int(progress.step)


@pytest.mark.parametrize("policy", [pytest.param("always", marks=pytest.mark.slow), "best"])
def test_resuming_takes_the_newest_state_after_every_save(policy, demo_dir, tmp_path,
                                                          monkeypatch):
    """A timed save in the middle of every epoch and Best's non-improving epochs: after
    each save, the checkpoint a resume would take holds exactly the progress just
    reached, at most one state.ckpt exists, and none once a newer model.ckpt is saved."""
    monkeypatch.setattr(training, "READBACK_STEPS", 1)
    data = TrainingData.from_directory(demo_dir, tiny_config(), batch_size=4, num_val_batches=1)
    middle = data.train_steps_per_epoch // 2
    due = {"now": False}
    monkeypatch.setattr(training._Countdown, "due", lambda self: due["now"])
    model = build_model(tiny_config())
    trainer = training.Trainer(model, optimizers.make_optimizer("adam", 1e-3))
    progress = checkpoints.Progress()
    manager = checkpoints.manager(checkpoints.make_checkpoint(model, trainer.optimizer, progress),
                                  str(tmp_path / "run"))
    improvement = ScriptedImprovement()
    saver = callbacks.CheckpointSaver(manager, 1, policy, improvement)
    seen = []

    class Check(callbacks.Callback):   # what a process killed right after this save leaves
        def _check(self):
            reached = (int(progress.epoch), int(progress.step))
            resume = runs.latest_checkpoint(str(tmp_path / "run"), for_resuming=True)
            states = [f for f in os.listdir(tmp_path / "run")
                      if f.startswith(runs.STATE_NAMES) and f.endswith(".index")]
            seen.append((reached, _state_of(resume), os.path.basename(resume), states))

        def on_step_end(self, epoch, step, logs):
            due["now"] = step == middle

        def on_timed_save(self, epoch, step):
            self._check()

        def on_epoch_end(self, epoch, logs):
            self._check()

    training.fit(trainer, data, len(IMPROVES), progress,
                 [improvement, saver, Check()], save_every_seconds=1.0)
    assert len(seen) == 2 * len(IMPROVES)
    for reached, resumed, name, states in seen:
        assert resumed == reached, (name, seen)
        assert len(states) <= 1, seen
    if policy == "best":
        names = [name for _, _, name, _ in seen]
        assert names == ["state.ckpt-1", "model.ckpt-1", "state.ckpt-2", "state.ckpt-2",
                         "state.ckpt-3", "model.ckpt-3", "state.ckpt-4", "state.ckpt-4"]
        assert [states for *_, states in seen][5] == []   # the best model took its place
        assert runs.latest_checkpoint(str(tmp_path / "run")).endswith("model.ckpt-3")
    else:
        assert not any(states for *_, states in seen)


def test_a_stale_state_from_an_earlier_release_never_wins(tmp_path):
    """interrupted.ckpt files that an earlier release left for ever: a newer model.ckpt,
    or a state.ckpt of the same epoch, is the one resumed."""
    from conftest import save_untrained

    run_dir = os.path.dirname(runs.latest_checkpoint(
        save_untrained(tmp_path / "logdir", tiny_config(), "t")))
    prefix = runs.latest_checkpoint(run_dir)

    def copy_as(name):
        for f in os.listdir(run_dir):
            if f.startswith(os.path.basename(prefix) + "."):
                os.link(os.path.join(run_dir, f),
                        os.path.join(run_dir, name + f[len(os.path.basename(prefix)):]))

    for name in ("interrupted.ckpt-3", "model.ckpt-5"):
        copy_as(name)
    assert runs.latest_checkpoint(run_dir, for_resuming=True).endswith("model.ckpt-5")
    copy_as("interrupted.ckpt-7")
    copy_as("state.ckpt-7")
    assert runs.latest_checkpoint(run_dir, for_resuming=True).endswith("state.ckpt-7")
    copy_as("model.ckpt-7")
    assert runs.latest_checkpoint(run_dir, for_resuming=True).endswith("model.ckpt-7")
    assert sorted(runs.remove_states(run_dir, keep=None)) == [
        os.path.join(run_dir, "interrupted.ckpt-3"), os.path.join(run_dir, "interrupted.ckpt-7"),
        os.path.join(run_dir, "state.ckpt-7")]
    assert not [f for f in os.listdir(run_dir) if f.startswith(runs.STATE_NAMES)]


@pytest.mark.slow   # two train.py runs: about 10 s
def test_a_finished_best_run_started_again_has_nothing_to_do(tmp_path, caplog, monkeypatch):
    """--checkpoint_policy Best whose last epoch did not improve, with timed saves: run
    again, it says there is nothing to do instead of training its last epoch again."""
    import logging

    caplog.set_level(logging.INFO, logger="samplernn")
    monkeypatch.setattr(callbacks.ImprovementTracker, "on_epoch_end",
                        lambda self, epoch, logs: setattr(self, "improved", IMPROVES[epoch]))
    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(), config_path)
    argv = ["--id", "t", "--data_dir", write_demo_dir(tmp_path / "demo"), "--config_file",
            config_path, "--logdir_root", str(tmp_path / "logdir"), "--batch_size", "4",
            "--num_epochs", "2", "--generate", "False", "--choose_temperature", "False",
            "--checkpoint_policy", "Best", "--checkpoint_every_minutes", "0.0001"]
    assert train.main(argv) == 0
    caplog.clear()
    assert train.main(argv) == 0
    assert "Nothing to do" in caplog.text and "state.ckpt-2 has completed 2 epoch(s)" \
        in caplog.text, caplog.text
    assert "Resuming" not in caplog.text


KILL_AFTER_EPOCH = 3


@pytest.mark.slow   # a train.py subprocess killed with SIGKILL, then resumed: about 25 s
@pytest.mark.parametrize("policy", ["Always", "Best"])
def test_a_killed_run_resumes_from_its_newest_save(policy, tmp_path):
    """train.py with a timed save at every step, killed (SIGKILL: nothing of it runs)
    once epoch KILL_AFTER_EPOCH is on disk: the resume point holds the newest progress
    of every checkpoint left, and at most one state.ckpt is left."""
    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(), config_path)
    logdir = tmp_path / "logdir"
    argv = [sys.executable, os.path.join(REPO_ROOT, "train.py"), "--id", "t", "--data_dir",
            write_demo_dir(tmp_path / "demo"), "--config_file", config_path, "--logdir_root",
            str(logdir), "--batch_size", "4", "--num_epochs", "1000", "--generate", "False",
            "--checkpoint_policy", policy, "--checkpoint_every_minutes", "0.0001",
            "--verbose", "False"]
    process = subprocess.Popen(argv, cwd=str(tmp_path), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = runs.latest_checkpoint(str(logdir / "t"), for_resuming=True)
            if found and runs.checkpoint_epoch(found) > KILL_AFTER_EPOCH:
                break
            time.sleep(0.05)
        else:
            pytest.fail("train.py wrote no checkpoint past epoch 3 in 120 s")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    (run_dir,) = runs.run_dirs(str(logdir / "t"))
    left = [f[:-len(".index")] for f in os.listdir(run_dir) if f.endswith(".index")]
    assert len([name for name in left if name.startswith(runs.STATE_NAMES)]) <= 1, left
    newest = max(_state_of(os.path.join(run_dir, name)) for name in left)
    assert _state_of(runs.latest_checkpoint(run_dir, for_resuming=True)) == newest, left

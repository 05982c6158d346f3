"""train.py end to end on a tiny config and corpus."""

import csv
import json
import os
import re
import signal
import types

import numpy as np
import pytest
import tensorflow as tf

import train
from samplernn import callbacks, checkpoints, optimizers, runs, training
from samplernn.config import save_config
from samplernn.data import TrainingData
from samplernn.errors import UserError
from samplernn.interrupts import InterruptFlag
from samplernn.model import build_model
from conftest import tiny_config

STEP_LINE = re.compile(r"^Epoch: \d+/\d+, Step: \d+/\d+, Loss: \d+\.\d{3}, "
                       r"Accuracy: \d+\.\d{3}, \(\d+\.\d{4} sec/step\)(, ETA \d+:\d\d:\d\d)?$")


@pytest.fixture
def setup(tmp_path, demo_dir):
    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(), config_path)

    def run(*extra, expect=0):
        argv = ["--id", "t", "--data_dir", demo_dir, "--config_file", config_path,
                "--logdir_root", str(tmp_path / "logdir"), "--output_dir", str(tmp_path / "gen"),
                "--batch_size", "4", "--output_file_dur", "0.1", "--num_epochs", "1",
                *map(str, extra)]
        assert train.main(argv) == expect

    return run, tmp_path


def ckpt_epochs(run_dir):
    return sorted(int(f.split("-")[1].split(".")[0]) for f in os.listdir(run_dir)
                  if f.startswith("model.ckpt-") and f.endswith(".index"))


def test_train_writes_checkpoints_config_logs_and_audio(trained_run):
    tmp, out, run_dir = trained_run
    step_lines = [line for line in out.splitlines() if line.startswith("Epoch: ") and "Step" in line]
    assert step_lines and all(STEP_LINE.match(line) for line in step_lines)
    assert step_lines[0].startswith("Epoch: 1/2, Step: 1/")
    assert re.search(r"Epoch: 2/2 done, Loss: [\d.]+, Accuracy: [\d.]+, Bits/sample: [\d.]+, "
                     r"Val Loss: [\d.]+, Val Accuracy: [\d.]+, Val Bits/sample: [\d.]+", out)
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}_\d\d\.\d\d\.\d\d", os.path.basename(run_dir))
    assert ckpt_epochs(run_dir) == [1, 2]
    saved = json.load(open(os.path.join(run_dir, "model.config.json")))
    assert saved["dim"] == 32 and saved["frame_sizes"] == [4, 16]
    assert os.listdir(os.path.join(run_dir, "train")) and os.listdir(os.path.join(run_dir, "validation"))
    assert sorted(os.listdir(tmp / "gen" / "t")) == ["t_e=1_1_t0.75.wav", "t_e=1_2_t0.9.wav",
                                                     "t_e=2_1_t0.75.wav", "t_e=2_2_t0.9.wav"]


@pytest.mark.slow   # several model builds and compilations: about 10 s
def test_resume_continues_at_next_epoch_with_optimizer_state(setup, capsys, caplog):
    run, tmp = setup
    run("--num_epochs", 1, "--generate", "False")
    (first,) = runs.run_dirs(str(tmp / "logdir" / "t"))
    capsys.readouterr()
    caplog.clear()
    with caplog.at_level("INFO", logger="samplernn"):
        run("--num_epochs", 2, "--generate", "False")
    out = capsys.readouterr().out + caplog.text
    assert "Training finished after 2 epoch(s)" in out
    assert "Resuming from" in out and "1 epoch(s) done" in out
    assert re.search(r"Device: 1 x CPU \(\d+ cores\), strategy: one device, precision: float32",
                     out)
    assert "Epoch: 1/2" not in out and "Epoch: 2/2, Step: 1/" in out
    second = runs.run_dirs(str(tmp / "logdir" / "t"))[-1]
    assert second != first and ckpt_epochs(second) == [2]
    (row,) = csv.DictReader(open(os.path.join(second, "metrics.csv")))
    assert row["epoch"] == "2" and float(row["elapsed_seconds"]) > 0
    values = dict(tf.train.list_variables(os.path.join(second, "model.ckpt-2")))
    reader = tf.train.load_checkpoint(os.path.join(second, "model.ckpt-2"))
    first_reader = tf.train.load_checkpoint(os.path.join(first, "model.ckpt-1"))
    iterations_key = "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE"
    assert iterations_key in values
    assert reader.get_tensor(iterations_key) == 2 * first_reader.get_tensor(iterations_key)
    assert reader.get_tensor("progress/epoch/.ATTRIBUTES/VARIABLE_VALUE") == 2


def test_resume_from_missing_path_and_config_mismatch(setup, tmp_path):
    run, tmp = setup
    with pytest.raises(UserError, match="no checkpoint found at .*nope .*--resume_from"):
        run("--resume_from", tmp / "nope")
    run("--generate", "False")
    other = str(tmp / "other.config.json")
    save_config(tiny_config(dim=48), other)
    with pytest.raises(UserError, match=r"trained with another config \(dim: 32 in the checkpoint, 48 given now\)"):
        train.main(["--id", "t", "--data_dir", "x", "--config_file", other,
                    "--logdir_root", str(tmp / "logdir")])


@pytest.mark.slow
def test_max_checkpoints_keeps_the_newest(setup):
    run, tmp = setup
    run("--num_epochs", 3, "--max_checkpoints", 1, "--generate", "False",
        "--early_stopping_patience", "None")
    (run_dir,) = runs.run_dirs(str(tmp / "logdir" / "t"))
    assert ckpt_epochs(run_dir) == [3]


def test_bad_flags_are_one_line_errors(setup, capsys):
    run, tmp = setup
    with pytest.raises(UserError, match="unknown --optimizer 'adagrad'"):
        run("--optimizer", "adagrad")
    with pytest.raises(SystemExit):
        train.parse_args(["--data_dir", "x", "--batch_size", "0"])
    assert "expected a positive integer" in capsys.readouterr().err
    with pytest.raises(UserError, match="data directory .* does not exist"):
        train.main(["--data_dir", str(tmp / "missing"), "--config_file",
                    str(tmp / "tiny.config.json"), "--logdir_root", str(tmp / "l2")])
    assert train.parse_args(["--data_dir", "x", "--checkpoint_policy", "All"]).checkpoint_policy == "always"
    assert train.parse_args(["--data_dir", "x", "--max_checkpoints", "None"]).max_checkpoints is None


class FakeManager:
    def __init__(self):
        self.saved = []

    def save(self, checkpoint_number):
        self.saved.append(checkpoint_number)
        return f"model.ckpt-{checkpoint_number}"


def test_best_policy_saves_only_improvements_and_patience_stops():
    progress = checkpoints.Progress()
    tracker = callbacks.ImprovementTracker(progress, patience=2)
    manager = FakeManager()
    saver = callbacks.CheckpointSaver(manager, every=1, policy="best", tracker=tracker)
    stopped = []
    for epoch, val_loss in enumerate([3.0, 2.5, 2.7, 2.4, 2.6, 2.6], start=1):
        logs = {"loss": 9.0, "val_loss": val_loss}
        tracker.on_epoch_end(epoch, logs)
        saver.on_epoch_end(epoch, logs)
        stopped.append(tracker.should_stop())
    assert manager.saved == [1, 2, 4]
    assert stopped == [False, False, False, False, False, True]
    always = callbacks.CheckpointSaver(FakeManager(), every=2, policy="always", tracker=tracker)
    for epoch in range(1, 6):
        always.on_epoch_end(epoch, {})
    assert always.manager.saved == [2, 4]


def test_readback_reads_losses_in_batches_with_exact_running_means(monkeypatch):
    """Read back after the first step, then every READBACK_STEPS steps, then at the end;
    the running means cover every step (and an interrupted run's sums)."""
    monkeypatch.setattr(training, "READBACK_STEPS", 3)
    monkeypatch.setattr(training, "READBACK_SECONDS", 1e9)
    seen = []

    class Record(callbacks.Callback):
        def on_step_end(self, epoch, step, logs):
            seen.append((epoch, step, logs["loss"], logs["accuracy"], logs["global_step"]))

    optimizer = types.SimpleNamespace(iterations=tf.Variable(0, dtype=tf.int64))
    readback = training.Readback(2, [Record()], optimizer, prior_loss_sum=10.0,
                                 prior_accuracy_sum=1.0)
    losses = [float(v) for v in range(1, 9)]
    for step, loss in enumerate(losses, start=3):   # steps 3..10: two were done before
        optimizer.iterations.assign_add(1)
        readback.add(step, tf.constant(loss), tf.constant(0.5))
    readback.flush()
    assert [s[1] for s in seen] == [3, 6, 9, 10]
    assert all(epoch == 2 for epoch, *_ in seen)
    _, step, loss, accuracy, global_step = seen[-1]
    assert loss == pytest.approx((10.0 + sum(losses)) / 10)
    assert accuracy == pytest.approx((1.0 + 0.5 * 8) / 10)
    assert global_step == 8 and readback.loss_sum == sum(losses)


@pytest.mark.slow   # several model builds and compilations: about 10 s
def test_ctrl_c_saves_and_resume_continues_inside_the_epoch(demo_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "READBACK_STEPS", 1)  # on_step_end after every step
    config = tiny_config()
    data = TrainingData.from_directory(demo_dir, config, batch_size=4, num_val_batches=1)

    class Interrupt(callbacks.Callback):
        def on_step_end(self, epoch, step, logs):
            if step == 5:
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, mid-epoch

    def trainer_and_checkpoint():
        model = build_model(config)
        trainer = training.Trainer(model, optimizers.make_optimizer("adam", 1e-3))
        progress = checkpoints.Progress()
        return trainer, progress, checkpoints.make_checkpoint(model, trainer.optimizer, progress)

    trainer, progress, checkpoint = trainer_and_checkpoint()
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), 5, checkpoint_name="model.ckpt")
    tracker = callbacks.ImprovementTracker(progress, 3)
    saver = callbacks.CheckpointSaver(manager, 1, "always", tracker)
    result = training.fit(trainer, data, 1, progress, [Interrupt(), tracker, saver])
    assert result.interrupted and os.path.exists(tmp_path / "model.ckpt-1.index")

    resumed, resumed_progress, resumed_checkpoint = trainer_and_checkpoint()
    checkpoints.restore(resumed_checkpoint, str(tmp_path / "model.ckpt-1"))
    assert (int(resumed_progress.epoch), int(resumed_progress.step)) == (0, 5)
    assert int(resumed.optimizer.iterations) == 5
    np.testing.assert_array_equal(resumed.model.trainable_variables[0].numpy(),
                                  trainer.model.trainable_variables[0].numpy())
    steps = []

    class Record(callbacks.Callback):
        def on_step_end(self, epoch, step, logs):
            steps.append(step)

    result = training.fit(resumed, data, 1, resumed_progress, [Record()])
    assert not result.interrupted and steps[0] == 6 and steps[-1] == data.train_steps_per_epoch
    assert int(resumed.optimizer.iterations) == data.train_steps_per_epoch


def test_an_interrupted_best_run_resumes_but_generation_keeps_the_best(demo_dir, tmp_path,
                                                                        monkeypatch):
    """--checkpoint_policy Best, then SIGTERM mid-epoch: the state is saved where a
    resume finds it (interrupted.ckpt-2), and the run's model stays the best one."""
    monkeypatch.setattr(training, "READBACK_STEPS", 1)
    config = tiny_config()
    data = TrainingData.from_directory(demo_dir, config, batch_size=4, num_val_batches=1)

    class Terminate(callbacks.Callback):
        def on_step_end(self, epoch, step, logs):
            if (epoch, step) == (2, 2):
                os.kill(os.getpid(), signal.SIGTERM)   # a real SIGTERM, mid-epoch

    model = build_model(config)
    trainer = training.Trainer(model, optimizers.make_optimizer("adam", 1e-3))
    progress = checkpoints.Progress()
    checkpoint = checkpoints.make_checkpoint(model, trainer.optimizer, progress)
    manager = checkpoints.manager(checkpoint, str(tmp_path))
    tracker = callbacks.ImprovementTracker(progress, None)
    saver = callbacks.CheckpointSaver(manager, 1, "best", tracker)
    interrupt = InterruptFlag(message=None)
    result = training.fit(trainer, data, 3, progress, [Terminate(), tracker, saver],
                          interrupt=interrupt)
    assert result.interrupted and interrupt.exit_status == 143
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".index")) == [
        "interrupted.ckpt-2.index", "model.ckpt-1.index"]
    assert runs.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-1")
    resume = runs.latest_checkpoint(str(tmp_path), for_resuming=True)
    assert resume.endswith("interrupted.ckpt-2")
    assert checkpoints.completed_epochs(resume) == 1
    # Steps over all epochs (what benchmarks/budget_study.py reports as the machine's speed).
    assert checkpoints.training_steps(resume) == data.train_steps_per_epoch + 2
    assert checkpoints.training_steps(str(tmp_path / "no.ckpt-9")) == -1   # unknown


def test_a_finished_run_says_so_before_reading_the_corpus(trained_run, caplog):
    """Every epoch done: "Nothing to do" at once, even with the data directory gone
    (the corpus is not decoded first)."""
    import logging

    caplog.set_level(logging.INFO, logger="samplernn")
    root, _, run_dir = trained_run
    assert train.main(["--id", "t", "--data_dir", str(root / "moved-away"), "--config_file",
                       str(root / "tiny.config.json"), "--logdir_root", str(root / "logdir"),
                       "--output_dir", str(root / "gen"), "--batch_size", "4",
                       "--num_epochs", "2"]) == 0
    assert "Nothing to do" in caplog.text and "has completed 2 epoch(s)" in caplog.text
    assert runs.run_dirs(str(root / "logdir" / "t")) == [run_dir]   # nothing new


LOCK_HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from samplernn.locks import IdLock
IdLock(sys.argv[2], "t").acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_a_second_train_py_of_the_same_id_is_refused(setup):
    """A process holding the id (as a running train.py does) makes a second train.py
    of that id stop with one line naming it; once that process is killed (SIGKILL:
    nothing of it runs to clean up), the id is free again."""
    import subprocess
    import sys

    from conftest import REPO_ROOT
    from samplernn.locks import IdLock

    run, tmp_path = setup
    id_dir = str(tmp_path / "logdir" / "t")
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, REPO_ROOT, id_dir],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(UserError, match=rf"another train.py is training --id t "
                                            rf"\(process {holder.pid} on "):
            run()
    finally:
        holder.kill()
        holder.wait()
    assert not runs.run_dirs(id_dir)      # refused before any run directory
    with IdLock(id_dir, "t"):             # a killed holder leaves no stuck lock
        pass
    assert not os.path.exists(id_dir)     # and releasing leaves nothing behind


def test_a_run_killed_before_its_first_checkpoint_is_removed(setup, caplog):
    """A run directory with logs but no checkpoint (its process was SIGKILLed before the
    first save) is removed when the id next starts; one with a checkpoint stays."""
    import logging

    caplog.set_level(logging.INFO, logger="samplernn")
    run, tmp_path = setup
    id_dir = tmp_path / "logdir" / "t"
    killed = id_dir / "01.01.2026_10.00.00"
    (killed / "train").mkdir(parents=True)
    (killed / "metrics.csv").write_text("epoch\n")
    (killed / "model.config.json").write_text("{}")
    kept = save_untrained_run(id_dir)
    argv = ["--id", "t", "--data_dir", str(tmp_path / "missing"), "--logdir_root",
            str(tmp_path / "logdir"), "--config_file", str(tmp_path / "tiny.config.json")]
    with pytest.raises(UserError, match="does not exist"):
        train.main(argv)
    assert not killed.exists() and os.path.isdir(kept)
    assert f"Removed {killed}, a run stopped before its first checkpoint" in caplog.text


def save_untrained_run(id_dir):
    from conftest import save_untrained

    return save_untrained(id_dir.parent, tiny_config(), id_dir.name)

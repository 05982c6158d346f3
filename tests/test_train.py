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
from samplernn import callbacks, checkpoints, optimizers, run_record, runs, training
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
    step_lines = [line for line in out.splitlines()
                  if line.startswith("Epoch: ") and "Step" in line]
    assert step_lines and all(STEP_LINE.match(line) for line in step_lines)
    assert step_lines[0].startswith("Epoch: 1/2, Step: 1/")
    assert re.search(r"Epoch: 2/2 done, Loss: [\d.]+, Accuracy: [\d.]+, Bits/sample: [\d.]+, "
                     r"Val Loss: [\d.]+, Val Accuracy: [\d.]+, Val Bits/sample: [\d.]+", out)
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}_\d\d\.\d\d\.\d\d", os.path.basename(run_dir))
    assert ckpt_epochs(run_dir) == [1, 2]
    saved = json.load(open(os.path.join(run_dir, "model.config.json")))
    assert saved["dim"] == 32 and saved["frame_sizes"] == [4, 16]
    assert os.listdir(os.path.join(run_dir, "train"))
    assert os.listdir(os.path.join(run_dir, "validation"))
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
    with pytest.raises(UserError, match=r"trained with another config \(dim: 32 in the "
                                        r"checkpoint, 48 given now\)"):
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
    parsed = train.parse_args(["--data_dir", "x", "--checkpoint_policy", "All"])
    assert parsed.checkpoint_policy == "always"
    assert train.parse_args(["--data_dir", "x", "--max_checkpoints", "None"]).max_checkpoints \
        is None


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
    best = []   # the epochs saved as a best model (a state is saved at every epoch)
    saver = callbacks.CheckpointSaver(manager, every=1, policy="best", tracker=tracker,
                                      on_save=[lambda epoch, prefix: best.append(epoch)])
    stopped = []
    for epoch, val_loss in enumerate([3.0, 2.5, 2.7, 2.4, 2.6, 2.6], start=1):
        logs = {"loss": 9.0, "val_loss": val_loss}
        tracker.on_epoch_end(epoch, logs)
        saver.on_epoch_end(epoch, logs)
        stopped.append(tracker.should_stop())
    assert best == [1, 2, 4] and manager.saved == [1, 2, 3, 4, 5, 6]
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
    resume finds it (state.ckpt-2), and the run's model stays the best one."""
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
        "model.ckpt-1.index", "state.ckpt-2.index"]
    assert runs.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-1")
    resume = runs.latest_checkpoint(str(tmp_path), for_resuming=True)
    assert resume.endswith("state.ckpt-2")
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
    try:
        status = train.main(["--id", "t", "--data_dir", str(root / "moved-away"),
                             "--config_file", str(root / "tiny.config.json"), "--logdir_root",
                             str(root / "logdir"), "--output_dir", str(root / "gen"),
                             "--batch_size", "4", "--num_epochs", "2"])
    except UserError as e:
        pytest.fail(f"the corpus was read before the run was found finished: {e}")
    assert status == 0
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


def test_a_timed_checkpoint_holds_the_steps_done_mid_epoch(demo_dir, tmp_path, monkeypatch):
    """--checkpoint_every_minutes: when a save is due mid-epoch, a checkpoint is
    written with the steps done, their loss sums, the steps of the run and the
    training time, and training goes on to the end of the epoch."""
    monkeypatch.setattr(training, "READBACK_STEPS", 1)   # on_step_end after every step
    config = tiny_config()
    data = TrainingData.from_directory(demo_dir, config, batch_size=4, num_val_batches=1)
    due = {"now": False}
    monkeypatch.setattr(training._Countdown, "due", lambda self: due["now"])

    class SaveAtStepFive(callbacks.Callback):
        def on_step_end(self, epoch, step, logs):
            due["now"] = step == 5

    model = build_model(config)
    trainer = training.Trainer(model, optimizers.make_optimizer("adam", 1e-3))
    progress = checkpoints.Progress()
    checkpoint = checkpoints.make_checkpoint(model, trainer.optimizer, progress)
    tracker = callbacks.ImprovementTracker(progress, None)
    saver = callbacks.CheckpointSaver(checkpoints.manager(checkpoint, str(tmp_path)), 1,
                                      "always", tracker)
    saved = []

    class ReadBack(callbacks.Callback):   # what a process killed right now would leave
        def on_timed_save(self, epoch, step):
            again = checkpoints.Progress()
            checkpoints.restore(checkpoints.make_checkpoint(build_model(config), None, again),
                                runs.latest_checkpoint(str(tmp_path), for_resuming=True))
            saved.append((epoch, step, int(again.epoch), int(again.step),
                          int(again.global_step), float(again.loss_sum),
                          float(again.train_seconds)))

    result = training.fit(trainer, data, 1, progress, [SaveAtStepFive(), tracker, saver,
                                                        ReadBack()], save_every_seconds=60.0)
    assert not result.interrupted and int(progress.epoch) == 1   # training went on
    assert len(saved) == 1, saved                               # one save, when due
    ((epoch, step, done, into, global_step, loss_sum, seconds),) = saved
    assert (epoch, step, done, into, global_step) == (1, 5, 0, 5, 5)
    assert 5 * 3.0 < loss_sum < 5 * 7.0 and seconds > 0    # five steps' losses, in nats


def test_the_status_line_never_promises_past_the_budget_or_a_negative_time():
    """Under --max_minutes the ETA ends with the budget; an epoch resumed into its
    validation (no training step in this process) reports no negative time."""
    import io

    stream = io.StringIO()
    printer = callbacks.StatisticsPrinter(100, 10 ** 9, verbose=True, stream=stream,
                                          max_seconds=60.0)
    step_logs = {"loss": 4.0, "accuracy": 0.1, "sec_per_step": 0.01, "train_seconds": 50.0}
    printer.on_step_end(1, 10, step_logs)
    printer.on_step_end(1, 20, step_logs)
    epoch_logs = {"loss": 4.0, "accuracy": 0.1, "bits_per_sample": 5.8, "epoch_seconds": 30.0,
                  "steps_run": 10 ** 9, "train_seconds": 50.0}
    printer.on_epoch_end(1, epoch_logs)
    unbudgeted = callbacks.StatisticsPrinter(3, 100, verbose=True, stream=stream)
    unbudgeted.on_epoch_end(1, {**epoch_logs, "steps_run": 50})
    unbudgeted.on_epoch_end(2, {**epoch_logs, "steps_run": 0, "epoch_seconds": 0.4})
    lines = stream.getvalue().splitlines()
    assert lines[1].endswith("ETA 0:00:10")                 # not the rest of 10^9 steps
    assert lines[2].endswith("(30.0 sec, ETA 0:00:10)")     # not 99 more epochs
    assert lines[3].endswith("(30.0 sec, ETA 0:02:00)")     # 2 epochs of 60 s (50 of 100 steps)
    assert lines[4].endswith("(0.4 sec, ETA ?)")


def test_a_budget_run_spends_its_budget_unless_told_otherwise():
    """Early stopping's default patience is 3 for runs counted in epochs and off under
    --max_minutes; an explicit value holds either way."""
    base = ["--data_dir", "d"]
    assert train.parse_args(base).early_stopping_patience == 3
    assert train.parse_args(base + ["--max_minutes", "20"]).early_stopping_patience is None
    assert train.parse_args(base + ["--max_minutes", "20", "--early_stopping_patience",
                                    "5"]).early_stopping_patience == 5


@pytest.mark.slow   # two train.py runs with compilations: about 15 s
def test_at_the_budget_train_py_prints_the_one_command_that_trains_further(setup, caplog):
    """A linear schedule over --max_minutes ends with one line holding the command
    that continues it; that command trains further (no "Nothing to do", no refusal
    of the schedule change) and then prints the next one."""
    import logging
    import shlex

    caplog.set_level(logging.INFO, logger="samplernn")
    run, tmp_path = setup
    budget = ["--num_epochs", "50", "--generate", "False", "--learning_rate_schedule",
              "linear", "--max_minutes", "0.02"]
    run(*budget)
    text = caplog.text
    assert "Training finished" not in text and "Stopped: --max_minutes 0.02 of training " \
        "time spent, after 0 epoch(s) and" in text
    (command,) = re.findall(r"To train 0.02 minutes more: (.*)", text)
    words = shlex.split(command)
    assert words[:2] == ["python", "train.py"]
    assert "--max_minutes" in words and "--allow_schedule_change" in words, command
    assert words[words.index("--allow_schedule_change") + 1] == "True"
    first = checkpoints.training_seconds(runs.latest_checkpoint(str(tmp_path / "logdir" / "t"),
                                                                for_resuming=True))
    # the new budget is what was trained (the last step may pass the budget) + 0.02
    new_budget = float(words[words.index("--max_minutes") + 1])
    assert first / 60 + 0.02 <= new_budget <= first / 60 + 0.03, (first, new_budget)
    caplog.clear()
    assert train.main(words[2:]) == 0
    assert "Nothing to do" not in caplog.text
    assert f"To train {new_budget:g} minutes more: " in caplog.text
    later = checkpoints.training_seconds(runs.latest_checkpoint(str(tmp_path / "logdir" / "t"),
                                                                for_resuming=True))
    assert later >= new_budget * 60 > first


@pytest.mark.slow   # three train.py runs: about 20 s
def test_init_from_starts_a_new_run_from_the_source_weights_and_resumes_as_itself(
        setup, caplog, monkeypatch):
    """--init_from: the new run's first step starts from the source's weights exactly
    (fresh optimizer), with the source's config and sampling temperature (no
    --temperature given), and records its source; run again, it resumes itself and does
    not start from the source again."""
    import logging

    caplog.set_level(logging.INFO, logger="samplernn")
    run, tmp_path = setup
    run("--generate", "False", "--temperature", "0.6")             # the source: id t
    source = runs.latest_checkpoint(str(tmp_path / "logdir" / "t"))
    source_config = runs.config_for_checkpoint(source)
    expected = checkpoints.fingerprint(checkpoints.load_model(source, source_config))
    at_start = []
    original_fit = training.fit

    def fit(trainer, *args, **kwargs):
        at_start.append((checkpoints.fingerprint(trainer.model),
                         int(trainer.optimizer.iterations)))
        return original_fit(trainer, *args, **kwargs)

    monkeypatch.setattr(training, "fit", fit)
    # no temperature chosen at the end: the one the run carries is the one checked
    common = ["--id", "tuned", "--data_dir", str(tmp_path / "demo"), "--logdir_root",
              str(tmp_path / "logdir"), "--batch_size", "4", "--generate", "False",
              "--choose_temperature", "False", "--init_from", str(tmp_path / "logdir" / "t")]
    assert train.main([*common, "--num_epochs", "1"]) == 0
    assert at_start == [(expected, 0)]
    assert f"Starting from the weights of {source}" in caplog.text
    (run_dir,) = runs.run_dirs(str(tmp_path / "logdir" / "tuned"))
    with open(os.path.join(run_dir, "init_from.json")) as f:
        assert json.load(f) == {"checkpoint": os.path.abspath(source)}
    assert runs.config_for_checkpoint(runs.latest_checkpoint(run_dir)) == source_config
    assert run_record.recorded_temperatures(runs.latest_checkpoint(run_dir)) == [0.6]
    caplog.clear()
    assert train.main([*common, "--num_epochs", "2"]) == 0         # the same id again
    assert "Starting from the weights" not in caplog.text
    assert "(--init_from applies to a new run only)" in caplog.text
    assert at_start[1][0] != expected and at_start[1][1] > 0        # its own trained state
    resumed = runs.latest_checkpoint(str(tmp_path / "logdir" / "tuned"))
    assert run_record.recorded_temperatures(resumed) == [0.6]  # kept on resuming


def test_init_from_refuses_another_architecture_before_tensorflow_work(tmp_path):
    """A --config_file that changes the source's architecture, or a source that does not
    exist, is one line before any model is built; the source's sample rate may change."""
    from conftest import save_untrained
    from samplernn.resuming import find_init_source

    source_dir = save_untrained(tmp_path / "logdir", tiny_config(), "src")
    other = str(tmp_path / "wide.config.json")
    save_config(tiny_config(dim=48), other)
    with pytest.raises(UserError, match=r"--config_file .*wide.config.json would change the "
                                        r"architecture of --init_from .*dim: 32"):
        train.main(["--data_dir", str(tmp_path), "--init_from", source_dir,
                    "--config_file", other, "--logdir_root", str(tmp_path / "logdir")])
    with pytest.raises(UserError, match=r"--init_from nowhere: no such checkpoint.*shipped"):
        find_init_source("nowhere")
    prefix, config = find_init_source(source_dir, sample_rate=16000)
    assert config == tiny_config().replace(sample_rate=16000)
    assert prefix == runs.latest_checkpoint(source_dir)


def test_the_continue_command_is_built_from_the_parsed_flags():
    """However the run was started (--resume False, --resume_from an old checkpoint,
    --init_from a source, an explicit config, flags written with '='), the command printed
    at the budget resumes the run just trained with the same training flags, and
    parses back to them."""
    args = train.parse_args([
        "--id", "piano", "--data_dir", "clips", "--resume", "False", "--resume_from",
        "logdir/piano/old/model.ckpt-3", "--init_from", "base128", "--config_file",
        "wide.config.json", "--sample_rate", "16000", "--max_minutes=5", "--temperature",
        "0.9", "1.0", "--mixed_precision", "bfloat16", "--learning_rate", "0.004",
        "--early_stopping_patience", "None", "--learning_rate_schedule", "linear"])
    command = train.continue_command(args, train.schedule_of(args), trained_seconds=301.0)
    import shlex

    words = shlex.split(command)
    assert words[:2] == ["python", "train.py"]
    again = train.parse_args(words[2:])
    assert again.resume and again.resume_from is None and again.init_from is None
    assert again.given.isdisjoint({"config_file", "sample_rate", "resume", "init_from"})
    assert (again.id, again.data_dir, again.temperature, again.learning_rate) == (
        "piano", "clips", [0.9, 1.0], 0.004)
    assert again.mixed_precision == args.mixed_precision == "mixed_bfloat16"
    assert again.early_stopping_patience is None and again.allow_schedule_change
    assert again.max_minutes == 10.02   # 5.02 trained, then 5 more


@pytest.mark.parametrize("script", ["train", "generate", "chunk_audio", "tune", "evaluate",
                                    "export"])
def test_no_script_takes_an_abbreviated_flag(script, capsys):
    """--config for --config_file (or any prefix) is refused, not silently taken or ignored."""
    import importlib

    module = importlib.import_module(script)
    parser = module.build_parser()
    assert parser.allow_abbrev is False, script
    required = [word for a in parser._actions if a.required for word in (a.option_strings[-1], "x")]
    longest = max((o for a in parser._actions for o in a.option_strings), key=len)
    with pytest.raises(SystemExit):
        parser.parse_args(required + [longest[:-2], "1"])
    assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.slow   # three train.py runs: about 20 s
def test_init_from_starts_afresh_and_its_source_is_never_needed_again(setup, caplog,
                                                                      monkeypatch):
    """--init_from takes the source's weights only: the run starts at step 0 with no
    training time spent (so its warm-up and budget are its own), it does not say it
    trains from scratch, and its record names the source. Resumed after the source has
    moved away, by the command it printed, it needs no source and still names it."""
    import logging
    import shlex
    import shutil

    caplog.set_level(logging.INFO, logger="samplernn")
    run, tmp_path = setup
    run("--generate", "False", "--num_epochs", "3", "--choose_temperature", "False")
    source = runs.latest_checkpoint(str(tmp_path / "logdir" / "t"))
    at_start = []
    original_fit = training.fit

    def fit(trainer, data, num_epochs, progress, *args, **kwargs):
        at_start.append((max(int(progress.global_step), 0),   # -1: none yet
                         float(progress.train_seconds), int(progress.epoch)))
        return original_fit(trainer, data, num_epochs, progress, *args, **kwargs)

    monkeypatch.setattr(training, "fit", fit)
    caplog.clear()
    command = ["--id", "tuned", "--data_dir", str(tmp_path / "demo"), "--logdir_root",
               str(tmp_path / "logdir"), "--batch_size", "4", "--generate", "False",
               "--choose_temperature", "False", "--init_from", str(tmp_path / "logdir" / "t"),
               "--max_minutes", "0.02", "--num_epochs", "50", "--learning_rate_warmup_steps",
               "100"]
    assert train.main(command) == 0
    assert at_start == [(0, 0.0, 0)]
    assert "training from scratch" not in caplog.text
    assert "after 0 epoch(s) and 0 step(s)" not in caplog.text
    (continuing,) = re.findall(r"To train 0.02 minutes more: (.*)", caplog.text)
    shutil.move(str(tmp_path / "logdir" / "t"), str(tmp_path / "elsewhere"))
    caplog.clear()
    try:
        assert train.main(command) == 0   # the same command: its budget is spent
        assert "Nothing to do" in caplog.text
        assert train.main(shlex.split(continuing)[2:]) == 0
    except UserError as e:
        pytest.fail(f"the resume needed the source: {e}")
    assert "Resuming from" in caplog.text and at_start[1][0] > 0
    for run_dir in runs.run_dirs(str(tmp_path / "logdir" / "tuned")):
        assert run_record.recorded_init_source(os.path.join(run_dir, "x")) == \
            os.path.abspath(source)

"""The learning-rate schedule: its formula, its errors, and that training applies it."""

import csv
import math
import os

import keras
import pytest

from samplernn import callbacks, checkpoints, optimizers, training
from samplernn.data import TrainingData
from samplernn.errors import UserError
from samplernn.model import build_model
from samplernn.schedule import LearningRateSchedule
from conftest import tiny_config


def test_default_schedule_is_constant():
    constant = LearningRateSchedule(0.01)
    assert [constant.rate(epoch, step) for epoch, step in [(0, 0), (3, 50), (40, 9999)]] \
        == [0.01] * 3


def test_decay_after_epochs_matches_prism():
    decaying = LearningRateSchedule(1.0, decay_after_epochs=2)
    assert decaying.rate(1, 0) == 1.0
    assert decaying.rate(2, 0) == pytest.approx(math.exp(-0.1))
    assert decaying.rate(4, 0) == pytest.approx(math.exp(-0.3))
    halving = LearningRateSchedule(1.0, decay_after_epochs=0, decay_per_epoch=0.5)
    assert halving.rate(0, 0) == 0.5 and halving.rate(2, 0) == 0.125


def test_warmup_is_linear_then_full():
    warm = LearningRateSchedule(0.4, warmup_steps=4)
    assert [warm.rate(0, step) for step in range(6)] == pytest.approx(
        [0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


@pytest.mark.parametrize("changes, flag", [
    (dict(base=0.0), "--learning_rate"),
    (dict(warmup_steps=-1), "--learning_rate_warmup_steps"),
    (dict(decay_per_epoch=1.5), "--learning_rate_decay"),
])
def test_bad_values_name_their_flag(changes, flag):
    with pytest.raises(UserError, match=flag):
        LearningRateSchedule(**{"base": 0.01, **changes})


def test_fit_warms_up_per_step_and_decays_per_epoch(demo_dir):
    config = tiny_config()
    data = TrainingData.from_directory(demo_dir, config, batch_size=2, num_val_batches=1)
    steps = data.train_steps_per_epoch
    keras.utils.set_random_seed(0)
    optimizer = optimizers.make_optimizer("adam", 1.0)
    trainer = training.Trainer(build_model(config), optimizer)
    # Warm-up longer than the first epoch: its last step ran at base * steps / warmup.
    warmup = LearningRateSchedule(0.01, warmup_steps=4 * steps)
    result = training.fit(trainer, data, 1, checkpoints.Progress(), schedule=warmup)
    assert float(optimizer.learning_rate) == pytest.approx(0.01 * steps / (4 * steps))
    assert result.history[0]["learning_rate"] == pytest.approx(0.0025)
    # A resumed second epoch continues the step count (warm-up ends mid-way) and decays.
    progress = checkpoints.Progress()
    progress.complete_epoch(1)
    both = LearningRateSchedule(0.01, warmup_steps=steps + 1, decay_after_epochs=1,
                                decay_per_epoch=0.5)
    training.fit(trainer, data, 2, progress, schedule=both)
    assert float(optimizer.learning_rate) == pytest.approx(0.005)


@pytest.mark.slow
def test_train_py_flags_reach_the_schedule(tmp_path, demo_dir):
    import glob

    import train
    from samplernn.config import save_config

    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(seq_len=256), config_path)
    common = ["--data_dir", demo_dir, "--config_file", config_path, "--batch_size", "2",
              "--logdir_root", str(tmp_path / "logdir"), "--generate", "False"]
    with pytest.raises(UserError, match="--learning_rate_decay"):
        train.main(["--id", "bad", *common, "--learning_rate_decay", "2"])
    assert not os.path.exists(tmp_path / "logdir" / "bad")   # refused before any work
    train.main(["--id", "ok", *common, "--num_epochs", "2", "--learning_rate", "0.01",
                "--learning_rate_warmup_steps", "100000", "--reduce_learning_rate_after", "1",
                "--learning_rate_decay", "0.5"])
    (metrics,) = glob.glob(str(tmp_path / "logdir" / "ok" / "*" / "metrics.csv"))
    with open(metrics) as f:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(f)]
    # Still warming up: 0.01 * steps / 100000, the second epoch's also halved.
    assert rates[1] / rates[0] == pytest.approx(0.5 * 2, rel=1e-3)
    assert rates[0] < 0.01 / 1000


@pytest.mark.slow   # several model builds and compilations: about 10 s
def test_a_resume_in_the_warm_up_continues_from_the_optimizers_step(demo_dir, tmp_path,
                                                                     monkeypatch):
    """Warm-up counts the optimizer's steps, saved in the checkpoint: a resume with
    another batch size (so other steps per epoch) continues where it stopped."""
    monkeypatch.setattr(training, "READBACK_STEPS", 1)   # on_step_end after every step
    config = tiny_config()
    schedule = LearningRateSchedule(0.01, warmup_steps=1000)
    rates = []

    class Record(callbacks.Callback):
        def __init__(self, optimizer):
            self.optimizer = optimizer

        def on_step_end(self, epoch, step, logs):
            rates.append((logs["global_step"], float(self.optimizer.learning_rate)))

    def trainer_and_checkpoint():
        model = build_model(config)
        trainer = training.Trainer(model, optimizers.make_optimizer("adam", 0.01))
        progress = checkpoints.Progress()
        return trainer, progress, checkpoints.make_checkpoint(model, trainer.optimizer, progress)

    small = TrainingData.from_directory(demo_dir, config, batch_size=2, num_val_batches=1)
    trainer, progress, checkpoint = trainer_and_checkpoint()
    training.fit(trainer, small, 1, progress, [Record(trainer.optimizer)], schedule)
    first_epoch_steps = small.train_steps_per_epoch
    checkpoint.write(str(tmp_path / "model.ckpt-1"))

    large = TrainingData.from_directory(demo_dir, config, batch_size=4, num_val_batches=1)
    assert large.train_steps_per_epoch != first_epoch_steps
    resumed, resumed_progress, resumed_checkpoint = trainer_and_checkpoint()
    checkpoints.restore(resumed_checkpoint, str(tmp_path / "model.ckpt-1"))
    rates.clear()
    training.fit(resumed, large, 2, resumed_progress, [Record(resumed.optimizer)], schedule)
    # The first step of epoch 2 is the optimizer's step first_epoch_steps (0-based).
    assert rates[0] == (first_epoch_steps + 1,
                        pytest.approx(0.01 * (first_epoch_steps + 1) / 1000))


@pytest.mark.slow
def test_a_changed_schedule_is_refused_on_resume_unless_allowed(tmp_path, demo_dir):
    import glob

    import train
    from samplernn.config import save_config

    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(), config_path)
    common = ["--id", "s", "--data_dir", demo_dir, "--config_file", config_path,
              "--batch_size", "4", "--logdir_root", str(tmp_path / "logdir"),
              "--generate", "False", "--learning_rate_warmup_steps", "200"]
    assert train.main([*common, "--num_epochs", "1"]) == 0
    (saved,) = glob.glob(str(tmp_path / "logdir" / "s" / "*" / "learning_rate.json"))
    assert LearningRateSchedule.load(saved) == LearningRateSchedule(0.001, 200,
                                                                    planned_epochs=1)
    changed = [*common[:-1], "100", "--num_epochs", "2"]
    with pytest.raises(UserError, match=r"--learning_rate_warmup_steps: 200 in the "
                                        r"checkpoint, 100 given now.*--allow_schedule_change"):
        train.main(changed)
    assert train.main([*changed, "--allow_schedule_change", "True"]) == 0


def test_linear_and_cosine_span_the_planned_run():
    """Both go from the full rate to the floor over the planned length: in training
    time when a budget is given, else in --num_epochs epochs (the one in progress
    counting its share of steps)."""
    linear = LearningRateSchedule(1.0, shape="linear", floor=0.1, planned_epochs=4)
    steps = 10   # per epoch: 40 planned
    rates = [linear.rate(s // steps, s, linear.fraction(s // steps, s % steps, steps, 0.0))
             for s in (0, 15, 20, 40)]
    assert rates == pytest.approx([1.0, 0.6625, 0.55, 0.1])
    cosine = LearningRateSchedule(1.0, shape="cosine", planned_minutes=10)
    assert [cosine.rate(0, 0, cosine.fraction(0, 0, steps, seconds))
            for seconds in (0, 300, 600, 900)] == pytest.approx([1.0, 0.5, 0.0, 0.0])
    warm = LearningRateSchedule(1.0, warmup_steps=4, shape="linear", planned_epochs=1)
    assert warm.rate(0, 0, warm.fraction(0, 0, 100, 0.0)) == pytest.approx(0.25)
    assert LearningRateSchedule(1.0, shape="constant", decay_after_epochs=None).rate(
        9, 999, 0.9) == 1.0


@pytest.mark.parametrize("changes, flag", [
    (dict(shape="linear"), "--max_minutes or --num_epochs"),
    (dict(shape="cosine", planned_epochs=3, decay_after_epochs=2),
     "--reduce_learning_rate_after"),
    (dict(shape="linear", planned_epochs=3, floor=2.0), "--learning_rate_floor"),
    (dict(shape="step"), "--learning_rate_schedule"),
])
def test_bad_schedule_flags_are_named(changes, flag):
    with pytest.raises(UserError, match=flag):
        LearningRateSchedule(0.01, **changes)


def test_a_resume_compares_only_the_flags_its_schedule_uses():
    budget = LearningRateSchedule(0.01, shape="linear", planned_minutes=20, planned_epochs=100)
    assert budget.differences(LearningRateSchedule(0.01, shape="linear", planned_minutes=20,
                                                   planned_epochs=7)) == []
    assert budget.differences(LearningRateSchedule(0.01, shape="linear", planned_minutes=10,
                                                   planned_epochs=100)) == [
        "--max_minutes: 10 in the checkpoint, 20 given now"]
    prism = LearningRateSchedule(0.01, decay_after_epochs=2, planned_minutes=5)
    assert prism.differences(LearningRateSchedule(0.01, decay_after_epochs=2,
                                                  planned_minutes=50)) == []


@pytest.mark.slow   # three fits of a compiled model: about 10 s
def test_max_minutes_stops_mid_epoch_and_resumes_the_schedule(demo_dir, monkeypatch, tmp_path):
    """A training-time budget ends training at the first step past it, inside the
    epoch, saving as Ctrl-C does; the time spent is in the progress, so a resumed
    run continues the linear schedule from where it stopped, and stops at once
    when the budget is already spent."""
    config = tiny_config()
    data = TrainingData.from_directory(demo_dir, config, batch_size=2, num_val_batches=1)
    steps = data.train_steps_per_epoch
    clock = {"now": 0.0}

    def fake_clock():   # every reading moves the clock on by one second
        clock["now"] += 1.0
        return clock["now"]

    keras.utils.set_random_seed(0)
    trainer = training.Trainer(build_model(config), optimizers.make_optimizer("adam", 0.01))
    schedule = LearningRateSchedule(0.01, shape="linear", planned_minutes=1.0)
    progress = checkpoints.Progress()
    stops = []
    saver = type("Saver", (callbacks.Callback,), {
        "on_interrupt": lambda self, epoch, step: stops.append((epoch, step))})()
    monkeypatch.setattr(training.time, "perf_counter", fake_clock)
    result = training.fit(trainer, data, 100, progress, [saver], schedule=schedule,
                          max_seconds=30.0)
    assert result.out_of_time and not result.interrupted and not result.history
    epoch, step = stops[0]
    assert epoch == 1 and 0 < step < steps and int(progress.step) == step   # mid-epoch
    spent = float(progress.train_seconds)
    assert 30.0 <= spent < 40.0
    assert float(trainer.optimizer.learning_rate) == pytest.approx(
        0.01 * (1 - (spent - 2.0) / 60.0), abs=0.01 * 3 / 60)
    # Resumed from disk, in a fresh trainer, with a larger budget: the rate continues
    # down from there (the training time is read back from the checkpoint).
    prefix = checkpoints.make_checkpoint(trainer.model, trainer.optimizer, progress).write(
        str(tmp_path / "model.ckpt-1"))
    monkeypatch.undo()
    trainer, progress, _ = _restored_trainer(config, prefix)
    assert float(progress.train_seconds) == spent
    monkeypatch.setattr(training.time, "perf_counter", fake_clock)
    again = training.fit(trainer, data, 100, progress, [saver], schedule=schedule,
                         max_seconds=45.0)
    assert again.out_of_time and float(progress.train_seconds) >= 45.0
    assert float(trainer.optimizer.learning_rate) < 0.01 * (1 - 40.0 / 60.0)
    assert int(progress.global_step) > step
    # Already spent: no step at all.
    before = int(progress.global_step)
    assert training.fit(trainer, data, 100, progress, [saver], schedule=schedule,
                        max_seconds=45.0).out_of_time
    assert int(progress.global_step) == before


def _restored_trainer(config, prefix=None):
    """A fresh model, Adam and progress, with checkpoint ``prefix`` (if any) read from
    disk into them, as train.py resumes."""
    keras.utils.set_random_seed(0)
    trainer = training.Trainer(build_model(config), optimizers.make_optimizer("adam", 0.01))
    progress = checkpoints.Progress()
    checkpoint = checkpoints.make_checkpoint(trainer.model, trainer.optimizer, progress)
    if prefix:
        checkpoints.restore(checkpoint, prefix)
    return trainer, progress, checkpoint


def test_a_linear_schedule_over_epochs_stays_on_its_curve_after_a_resume_at_another_batch_size(
        tmp_path):
    """--num_epochs 4 with a linear schedule: two epochs at batch 2, saved to disk, then
    resumed at batch 4 (half the steps per epoch), and again with files added to the
    corpus (more steps per epoch). Each resumed epoch ends at the rate of the run that
    was never interrupted, and no epoch before the planned end reaches the floor."""
    from samplernn.demo import write_demo_corpus

    config = tiny_config()
    corpus = str(tmp_path / "corpus")
    os.makedirs(corpus)
    write_demo_corpus(corpus, num_files=4, seconds=0.2, sample_rate=8000)
    schedule = LearningRateSchedule(0.01, shape="linear", planned_epochs=4)
    small_batches = TrainingData.from_directory(corpus, config, batch_size=2, num_val_batches=0)
    trainer, progress, _ = _restored_trainer(config)
    uninterrupted = [logs["learning_rate"] for logs in training.fit(
        trainer, small_batches, 3, progress, schedule=schedule).history]
    assert uninterrupted == sorted(uninterrupted, reverse=True)

    trainer, progress, checkpoint = _restored_trainer(config)
    training.fit(trainer, small_batches, 2, progress, schedule=schedule)
    prefix = checkpoint.write(str(tmp_path / "model.ckpt-2"))
    large_batches = TrainingData.from_directory(corpus, config, batch_size=4, num_val_batches=0)
    assert large_batches.train_steps_per_epoch < small_batches.train_steps_per_epoch
    trainer, progress, _ = _restored_trainer(config, prefix)
    third = training.fit(trainer, large_batches, 3, progress, schedule=schedule).history[0]
    assert third["learning_rate"] == pytest.approx(uninterrupted[2], rel=0.05)

    more = os.path.join(corpus, "more")
    os.makedirs(more)
    write_demo_corpus(more, num_files=4, seconds=0.2, sample_rate=8000, seed=1)
    grown = TrainingData.from_directory(corpus, config, batch_size=2, num_val_batches=0)
    assert grown.train_steps_per_epoch > small_batches.train_steps_per_epoch
    trainer, progress, _ = _restored_trainer(config, prefix)
    resumed = [logs["learning_rate"] for logs in training.fit(
        trainer, grown, 4, progress, schedule=schedule).history]
    assert resumed[0] == pytest.approx(uninterrupted[2], rel=0.05)
    assert resumed[1] > 0      # the last epoch's last step is still short of the floor

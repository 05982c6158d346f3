"""Mixed precision as its own path: the policy is forced (bfloat16 or float16
whatever this CPU has), then the model trains, saves, resumes and generates."""

import os

import numpy as np
import pytest
import soundfile
import tensorflow as tf

import generate
import train
from samplernn import checkpoints, precision, runs
from samplernn.config import save_config
from samplernn.errors import UserError
from samplernn.layers import Linear
from samplernn.model import build_model
from samplernn.sampler import Sampler
from conftest import tiny_config

HALF_POLICIES = ["mixed_bfloat16", "mixed_float16"]


@pytest.fixture(params=HALF_POLICIES)
def half_policy(request):
    """Models built in the test are built under a half-precision policy."""
    precision.set_policy(request.param)
    yield request.param
    precision.set_policy(precision.FLOAT32)


def random_inputs(config, batch=2, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, config.q_levels, (batch, config.top_frame_size * 3)).astype(np.int32)


def test_a_sampler_of_a_half_precision_model_is_the_float32_sampler(half_policy):
    """The sampler's weights are float32 whatever the training policy: a model
    built under a half policy gives exactly the sampler of the same weights
    built under float32."""
    config = tiny_config(frame_sizes=[2, 4, 8], skip_conn=True, num_rnn_layers=2)
    half_model = build_model(config)
    assert half_model.sample_mlp.first.compute_dtype != "float32"
    weights = half_model.sampler_weights()
    assert {w.dtype for w in weights.values()} == {tf.float32}
    precision.set_policy(precision.FLOAT32)
    full_model = build_model(config)
    for full, half in zip(full_model.weights, half_model.weights):
        full.assign(half.numpy())
    inputs = random_inputs(config)
    half_sampler = Sampler(half_model)
    half_logits = half_sampler.teacher_forced_logits(inputs)
    np.testing.assert_array_equal(half_logits, Sampler(full_model).teacher_forced_logits(inputs))
    blocks = list(half_sampler.generate(2, 40, [0.9, 1.1], random_seed=3))
    assert np.concatenate(blocks, axis=1).shape == (2, 40)


def test_sampler_weights_cover_every_linear_layer():
    """Every variable of the model is read by the sampler: through a Linear layer's
    entry, the tables (embedding, first MLP layer) or the initial states (h0)."""
    model = build_model(tiny_config(frame_sizes=[2, 4, 16], skip_conn=True, num_rnn_layers=2,
                                    rnn_type="lstm"))
    weights = model.sampler_weights()
    # Keras's own walk of the model finds no Linear that linear_layers() forgot.
    linears = {layer.name for layer in model._flatten_layers() if isinstance(layer, Linear)}
    assert linears == {layer.name for layer in model.linear_layers()}
    assert set(weights) == linears | {"tables"}
    for variable in model.weights:
        layer = variable.path.split("/")[-2]
        assert (layer in weights or variable.name == "h0"
                or variable.path.endswith("sample_mlp/embedding")), variable.path


LARGE_LOGIT = 1000.0   # bfloat16 keeps 8 bits: its values near 1000 are 4 apart


def test_bfloat16_generation_keeps_float32_logits():
    """With bfloat16 weights the logits are still float32 sums: on a model whose
    logits are near 1000 (where bfloat16 rounds to steps of 4) the bfloat16
    sampler's logits stay within a small fraction of a step of float32's."""
    config = tiny_config()
    model = build_model(config)
    output = model.sample_mlp.output_map
    offsets = np.linspace(0.0, 3.0, config.q_levels, dtype=np.float32)
    output.b.assign(LARGE_LOGIT + offsets)
    inputs = random_inputs(config)
    exact = Sampler(model).teacher_forced_logits(inputs)
    sampler = Sampler(model, precision="bfloat16")
    rounded = sampler.teacher_forced_logits(inputs)
    assert rounded.dtype == np.float32 and np.abs(exact).max() > LARGE_LOGIT * 0.99
    # Rounding the logits to bfloat16 would be off by up to 2 here.
    assert np.abs(rounded - exact).max() < 0.25
    classes = next(sampler.generate(1, config.top_frame_size, [1.0]))
    assert classes.shape == (1, config.top_frame_size)


@pytest.fixture
def tiny_corpus_args(tmp_path, demo_dir):
    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(), config_path)
    return ["--id", "mp", "--data_dir", demo_dir, "--config_file", config_path,
            "--logdir_root", str(tmp_path / "logdir"), "--output_dir", str(tmp_path / "gen"),
            "--batch_size", "4", "--output_file_dur", "0.05", "--verbose", "False",
            "--choose_temperature", "False"]   # each epoch's audio at 0.75, named so


@pytest.mark.slow
@pytest.mark.parametrize("forced", ["bfloat16", "float16"])
def test_mixed_precision_trains_saves_generates_and_resumes(tiny_corpus_args, tmp_path,
                                                             forced):
    """train.py under a forced half policy, generation at every checkpoint on, a
    resume, then generate.py from the checkpoint."""
    try:
        assert train.main(tiny_corpus_args + ["--num_epochs", "1", "--mixed_precision",
                                              forced]) == 0
        assert train.main(tiny_corpus_args + ["--num_epochs", "2", "--mixed_precision",
                                              forced]) == 0
    finally:
        precision.set_policy(precision.FLOAT32)
    generated = sorted(os.listdir(tmp_path / "gen" / "mp"))
    assert generated == ["mp_e=1_1_t0.75.wav", "mp_e=2_1_t0.75.wav"]
    assert checkpoints.completed_epochs(runs.latest_checkpoint(
        str(tmp_path / "logdir" / "mp"))) == 2
    out = str(tmp_path / "out.wav")
    assert generate.main(["--checkpoint_path", str(tmp_path / "logdir" / "mp"),
                          "--output_path", out, "--dur", "0.05"]) == 0
    audio, rate = soundfile.read(out)
    assert rate == 8000 and len(audio) == 400 and np.isfinite(audio).all()


def _trained_state(policy, seed):
    """A tiny model, its optimizer (float16: loss-scaled) and progress under ``policy``,
    every optimizer value set to something distinct, as after training."""
    from samplernn import optimizers

    precision.set_policy(policy)
    model = build_model(tiny_config())
    optimizer = precision.with_loss_scaling(optimizers.make_optimizer("adam", 0.01))
    optimizer.build(model.trainable_variables)
    progress = checkpoints.Progress()
    rng = np.random.default_rng(seed)
    inner = checkpoints.inner_optimizer(optimizer)
    for variable in model.weights + inner.variables:
        if "float" in str(variable.dtype):      # not the optimizer's step count
            variable.assign(rng.normal(size=variable.shape).astype(variable.dtype))
    inner.iterations.assign(7 + seed)
    progress.global_step.assign(11 + seed)
    progress.complete_epoch(3)
    # Every part of the progress distinct, as in a checkpoint saved mid-epoch.
    progress.record_step(5 + seed, 1.5 + seed, 0.25 + seed)
    progress.best_loss.assign(2.5 + seed)
    progress.epochs_without_improvement.assign(1 + seed)
    progress.train_seconds.assign(100.5 + seed)
    if inner is not optimizer:   # float16's loss scale, away from Keras's initial one
        optimizer.dynamic_scale.assign(2.0 ** (4 + seed))
        optimizer.step_counter.assign(3 + seed)
    precision.set_policy(precision.FLOAT32)
    return model, optimizer, progress


def _restored_state(prefix, read):
    """A fresh tiny state built under ``read`` with checkpoint ``prefix`` restored into it."""
    state = _trained_state(read, seed=2)
    try:
        precision.set_policy(read)
        checkpoints.restore(checkpoints.make_checkpoint(*state), prefix)
    finally:
        precision.set_policy(precision.FLOAT32)
    return state


@pytest.mark.parametrize("written, read", [
    ("mixed_float16", "float32"), ("float32", "mixed_float16"),
    ("mixed_float16", "mixed_bfloat16"), ("mixed_bfloat16", "mixed_float16"),
    ("mixed_float16", "mixed_float16"), ("float32", "float32")])
def test_any_precision_resumes_any_other(tmp_path, written, read):
    """A checkpoint's layout does not depend on the precision: every weight, every
    optimizer slot, the optimizer's step and every part of the progress written
    under one policy are read back from disk under another; float16's loss scale
    is read back when both are float16."""
    try:
        model, optimizer, progress = _trained_state(written, seed=1)
        prefix = checkpoints.make_checkpoint(model, optimizer, progress).write(
            str(tmp_path / "model.ckpt-3"))
        names = {name for name, _ in tf.train.list_variables(prefix)}
        assert ("loss_scale/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE" in names) == (
            written == "mixed_float16")
        assert not any("inner_optimizer" in name for name in names)
    finally:
        precision.set_policy(precision.FLOAT32)
    again, again_optimizer, again_progress = _restored_state(prefix, read)
    for mine, theirs in zip(again.weights, model.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    inner, again_inner = (checkpoints.inner_optimizer(o) for o in (optimizer, again_optimizer))
    assert len(inner.variables) == len(again_inner.variables)
    for mine, theirs in zip(again_inner.variables, inner.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert int(again_inner.iterations) == 8
    assert int(again_progress.epoch) == 3 and int(again_progress.global_step) == 12
    for name in checkpoints.Progress.REQUIRED + checkpoints.Progress.OPTIONAL:
        assert float(getattr(again_progress, name)) == float(getattr(progress, name)), name
    assert float(again_progress.train_seconds) == 101.5    # a budget resumes where it was
    if written == read == "mixed_float16":
        assert float(again_optimizer.dynamic_scale) == 2.0 ** 5
        assert int(again_optimizer.step_counter) == 4


@pytest.mark.slow   # compiles a float16 training step: about 15 s
def test_skipped_float16_steps_still_move_the_schedule(demo_dir):
    """Under float16, steps whose gradients overflow are skipped by the optimizer (its
    ``iterations`` stay put), yet the schedule counts them: after two epochs its
    position is two epochs of steps, as for a run that skipped none, so a resume
    and an uninterrupted run agree."""
    import keras

    from samplernn import optimizers, training
    from samplernn.data import TrainingData
    from samplernn.schedule import LearningRateSchedule

    config = tiny_config()
    data = TrainingData.from_directory(demo_dir, config, batch_size=4, num_val_batches=0)
    steps = data.train_steps_per_epoch
    try:
        precision.set_policy(precision.MIXED_FLOAT16)
        model = build_model(config)
        # A scale so large that every step overflows float16: all are skipped.
        optimizer = keras.optimizers.LossScaleOptimizer(
            optimizers.make_optimizer("adam", 0.01), initial_scale=2.0 ** 100)
        trainer = training.Trainer(model, optimizer)
        progress = checkpoints.Progress()
        schedule = LearningRateSchedule(0.01, shape="linear", planned_epochs=4)
        result = training.fit(trainer, data, 2, progress, schedule=schedule)
    finally:
        precision.set_policy(precision.FLOAT32)
    assert int(optimizer.iterations) < 2 * steps          # steps were skipped
    assert int(progress.global_step) == 2 * steps          # but all were counted
    last = 2 * steps - 1
    assert result.history[1]["learning_rate"] == pytest.approx(
        schedule.rate(1, last, schedule.fraction(1, steps - 1, steps, 0.0)))


def test_train_py_resumes_under_another_precision(tiny_corpus_args, tmp_path, capsys, caplog):
    """One epoch under forced float16, then a resume in float32: the second run
    restores the first's epoch and optimizer (it trains only epoch 2), says on its
    start line that the precision changed, and each run records its precision."""
    import json
    import logging

    caplog.set_level(logging.INFO, logger="samplernn")
    args = tiny_corpus_args + ["--generate", "False"]
    try:
        assert train.main(args + ["--num_epochs", "1", "--mixed_precision", "float16"]) == 0
        first_out = caplog.text
        caplog.clear()
        capsys.readouterr()
        assert train.main(args + ["--num_epochs", "2"]) == 0
        second_out = caplog.text + capsys.readouterr().out
    finally:
        precision.set_policy(precision.FLOAT32)
    assert "precision: float16 (loss scaling)" in first_out
    first_run, second_run = runs.run_dirs(str(tmp_path / "logdir" / "mp"))
    first = runs.latest_checkpoint(first_run)
    names = {name for name, _ in tf.train.list_variables(first)}
    assert "loss_scale/dynamic_scale/.ATTRIBUTES/VARIABLE_VALUE" in names   # float16 ran
    with open(os.path.join(first_run, "precision.json")) as f:
        assert json.load(f) == {"policy": "mixed_float16"}
    with open(os.path.join(second_run, "precision.json")) as f:
        assert json.load(f) == {"policy": "float32"}
    assert "precision changed: model.ckpt-1 was trained in float16 (loss scaling)" \
        in second_out
    assert f"Resuming from {first}: 1 epoch(s) done" in second_out
    assert "Epoch: 1/2 done" not in second_out and "Epoch: 2/2 done" in second_out
    reader = tf.train.load_checkpoint(runs.latest_checkpoint(second_run))
    steps_per_epoch = int(reader.get_tensor("progress/global_step/.ATTRIBUTES/VARIABLE_VALUE")) // 2
    assert steps_per_epoch > 0
    assert int(reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")) > \
        steps_per_epoch   # the first run's steps were restored (float16 may skip a few)


@pytest.mark.parametrize("read", ["mixed_float16", "float32"])
def test_a_float16_checkpoint_of_an_earlier_release_still_resumes(tmp_path, read):
    """Releases up to 43acc87 saved float16's LossScaleOptimizer itself as the optimizer
    (its state under ``optimizer/inner_optimizer/``): such a checkpoint restores."""
    try:
        model, optimizer, progress = _trained_state("mixed_float16", seed=1)
        legacy = tf.train.Checkpoint(model=tf.train.Checkpoint(**model.variables_by_path()),
                                     optimizer=optimizer, progress=progress)
        prefix = legacy.write(str(tmp_path / "model.ckpt-3"))
        assert any("inner_optimizer" in name for name, _ in tf.train.list_variables(prefix))
    finally:
        precision.set_policy(precision.FLOAT32)
    try:
        again, again_optimizer, again_progress = _restored_state(prefix, read)
    except UserError as e:
        pytest.fail(f"the earlier release's float16 layout was not read: {e}")
    inner, again_inner = (checkpoints.inner_optimizer(o) for o in (optimizer, again_optimizer))
    for mine, theirs in zip(again.weights + again_inner.variables,
                            model.weights + inner.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert int(again_progress.epoch) == 3

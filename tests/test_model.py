import keras
import numpy as np
import pytest
import tensorflow as tf

from samplernn import optimizers, precision, training
from samplernn.data import TrainingData
from samplernn.model import accuracy, build_model, cross_entropy
from conftest import tiny_config, write_tone

VARIANTS = [
    dict(),
    dict(frame_sizes=[16]),                       # 2-tier
    dict(frame_sizes=[2, 4, 16]),                 # 4-tier
    dict(rnn_type="lstm", num_rnn_layers=2, skip_conn=True),
    dict(skip_conn=True, num_rnn_layers=2, weight_norm=False, learn_h0=False),
    dict(rnn_type="lstm", weight_norm=False),
]


def random_inputs(config, batch=3, seed=0):
    length = config.top_frame_size + config.seq_len
    return tf.constant(np.random.default_rng(seed).integers(0, config.q_levels, (batch, length)),
                       tf.int32)


@pytest.mark.parametrize("changes", VARIANTS)
def test_every_variant_trains_one_step(changes):
    config = tiny_config(**changes)
    model = build_model(config)
    trainer = training.Trainer(model, optimizers.make_optimizer("adam", 1e-3))
    x = random_inputs(config)
    before = [v.numpy().copy() for v in model.trainable_variables]
    loss, acc, states = trainer.train_step(x, x[:, config.top_frame_size:], tf.constant(True),
                                           model.initial_states(3))
    assert np.isfinite(float(loss)) and abs(float(loss) - np.log(256)) < 0.5
    assert len(states) == len(config.frame_sizes)
    assert states[0][0][0].shape == (3, config.dim)
    changed = [not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables)]
    assert all(changed), "every trainable weight gets a gradient"


def test_structure_follows_the_config():
    config = tiny_config(emb_size=8, skip_conn=True, num_rnn_layers=3, frame_sizes=[2, 4, 16])
    model = build_model(config)
    assert [t.frame_size for t in model.tiers] == [16, 4, 2]
    assert [t.upsample_ratio for t in model.tiers] == [4, 2, 2]
    assert tuple(model.sample_mlp.embedding.shape) == (256, 8)         # emb_size honoured
    assert model.sample_mlp.first.v.shape == (2 * 8, 32)
    assert model.sample_mlp.first.b is None                            # no bias
    rnns = model.tiers[0].rnns
    assert [r.input_map.input_dim for r in rnns] == [32, 64, 64]       # skip inputs
    assert len(model.tiers[0].skip_maps) == 3
    assert not build_model(tiny_config(learn_h0=False)).tiers[0].rnns[0].h0.trainable


def test_weight_norm_kernel_has_norm_g():
    model = build_model(tiny_config())
    layer = model.sample_mlp.hidden[0]
    layer.g.assign(np.full(32, 3.0, np.float32))
    np.testing.assert_allclose(np.linalg.norm(layer.kernel().numpy(), axis=0), 3.0, rtol=1e-5)


def test_bias_add_and_its_gradients_equal_tensorflows():
    from samplernn.layers import bias_add

    rng = np.random.default_rng(5)
    y = tf.constant(rng.normal(size=(3, 7, 5)), tf.float32)
    bias = tf.constant(rng.normal(size=5), tf.float32)
    weights = tf.constant(rng.normal(size=(3, 7, 5)), tf.float32)
    results = []
    for add in (bias_add, lambda a, b: a + b):
        with tf.GradientTape() as tape:
            tape.watch([y, bias])
            out = add(y, bias)
            loss = tf.reduce_sum(out * weights)
        results.append([out] + tape.gradient(loss, [y, bias]))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_tables_equal_the_embedding_matmul():
    config = tiny_config()
    mlp = build_model(config).sample_mlp
    prev = np.random.default_rng(1).integers(0, 256, (5, config.sample_frame_size))
    embedded = tf.reshape(tf.gather(mlp.embedding, prev), [5, -1])
    direct = tf.matmul(embedded, mlp.first.kernel()).numpy()
    tables = mlp.tables().numpy()
    via_tables = sum(tables[p][prev[:, p]] for p in range(config.sample_frame_size))
    np.testing.assert_allclose(via_tables, direct, rtol=1e-4, atol=1e-5)


def test_reset_window_does_not_depend_on_the_previous_window():
    config = tiny_config(learn_h0=True)
    model = build_model(config)
    trainer = training.Trainer(model, optimizers.make_optimizer("adam", 1e-3))
    x = random_inputs(config, batch=2)
    y = x[:, config.top_frame_size:]
    _, _, after_a = trainer.eval_step(random_inputs(config, 2, seed=5), y, tf.constant(True),
                                      model.initial_states(2))
    _, _, after_b = trainer.eval_step(random_inputs(config, 2, seed=6), y, tf.constant(True),
                                      model.initial_states(2))
    loss_reset_a, _, _ = trainer.eval_step(x, y, tf.constant(True), after_a)
    loss_reset_b, _, _ = trainer.eval_step(x, y, tf.constant(True), after_b)
    loss_carry_a, _, _ = trainer.eval_step(x, y, tf.constant(False), after_a)
    loss_carry_b, _, _ = trainer.eval_step(x, y, tf.constant(False), after_b)
    assert float(loss_reset_a) == float(loss_reset_b)
    assert float(loss_carry_a) != float(loss_carry_b)  # without a reset, state carries over


def test_state_carries_exactly_across_windows():
    """Two consecutive windows with carried state == one long window."""
    config = tiny_config()
    model = build_model(config)
    long = random_inputs(config.replace(seq_len=128), batch=2)
    top = config.top_frame_size
    logits_long, _ = model(long, model.initial_states(2))
    first, states = model(long[:, :top + 64], model.initial_states(2))
    second, _ = model(long[:, 64:], states)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), logits_long,
                               rtol=1e-4, atol=1e-5)


def test_loss_falls_on_real_audio(tmp_path):
    for i, frequency in enumerate([110, 165, 220, 330, 440, 550]):
        write_tone(str(tmp_path / f"tone{i}.wav"), 1.0, 8000, frequency=frequency)
    config = tiny_config()
    data = TrainingData.from_directory(str(tmp_path), config, batch_size=4, num_val_batches=0)
    model = build_model(config)
    trainer = training.Trainer(model, optimizers.make_optimizer("adam", 3e-3))
    states = model.initial_states(4)
    losses = []
    for x, y, reset in data.train_dataset(0).take(60):
        loss, _, states = trainer.train_step(x, y, reset, states)
        losses.append(float(loss))
    assert np.mean(losses[-10:]) < np.mean(losses[:5]) - 0.5


def test_bits_per_sample():
    logits = tf.zeros([1, 4, 256])
    nats = cross_entropy(logits, tf.zeros([1, 4], tf.int32))
    assert training.nats_to_bits(float(nats)) == pytest.approx(8.0)


# The fused Adam kernel forms 1 - beta_2 in float32 (Keras in float64): v differs by up
# to 1.3e-5 relative, an update by half that.
ADAM_RTOL = 2e-5


def test_cross_entropy_and_its_gradient_equal_tensorflows_softmax_loss():
    rng = np.random.default_rng(3)
    logits = tf.constant(rng.normal(size=(2, 5, 256)) * 4, tf.float32)
    targets = tf.constant(rng.integers(0, 256, (2, 5)), tf.int32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        ours = cross_entropy(logits, targets)
        theirs = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=targets, logits=logits))
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(ours, logits).numpy(),
                               tape.gradient(theirs, logits).numpy(), atol=1e-7)


def test_accuracy_is_argmax_accuracy_and_a_tie_is_not_a_hit_for_all():
    """All-equal logits predict class 0 only; bfloat16 logits (where ties are common)
    score exactly what numpy's first argmax scores, in the compiled step as well."""
    flat = tf.zeros([1, 4, 8])
    assert float(accuracy(flat, tf.constant([[3, 5, 7, 1]]))) == 0.0
    assert float(accuracy(flat, tf.constant([[0, 0, 5, 1]]))) == 0.5
    rng = np.random.default_rng(5)
    # Logits far from 0, as a trained model's are: bfloat16 steps of 0.25 there.
    logits = tf.cast(tf.constant(rng.normal(size=(4, 64, 256)) + 50, tf.float32), tf.bfloat16)
    as_float = logits.numpy().astype(np.float32)
    tied = (as_float == as_float.max(-1, keepdims=True)).sum(-1) > 1
    assert tied.mean() > 0.05            # the case under test occurs
    first_argmax = as_float.argmax(-1)
    targets = np.where(rng.random(first_argmax.shape) < 0.5, first_argmax,
                       rng.integers(0, 256, first_argmax.shape))
    # Where tied, aim at a later class of the tie: it must not count.
    for b, s in zip(*np.nonzero(tied)):
        targets[b, s] = np.nonzero(as_float[b, s] == as_float[b, s].max())[0][-1]
    expected = float(np.mean(first_argmax == targets))
    targets = tf.constant(targets, tf.int32)
    assert float(accuracy(logits, targets)) == pytest.approx(expected, abs=1e-6)
    assert float(tf.function(accuracy, jit_compile=True)(logits, targets)) == pytest.approx(
        expected, abs=1e-6)


def test_adam_matches_keras_adam_step_by_step():
    """The fused Adam update (one kernel per variable) is Keras's Adam, over steps
    whose gradients change (the bias corrections depend on the step count)."""
    rng = np.random.default_rng(4)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    start = [rng.normal(size=shape).astype(np.float32) for shape in shapes]
    ours = [tf.Variable(value) for value in start]
    theirs = [tf.Variable(value) for value in start]
    fused = optimizers.make_optimizer("adam", 0.05)
    reference = keras.optimizers.Adam(0.05)
    for step in range(5):
        gradients = [tf.constant(rng.normal(size=shape).astype(np.float32) * 0.3)
                     for shape in shapes]        # under the clipping bound
        fused.apply_gradients(zip(gradients, ours))
        reference.apply_gradients(zip(gradients, theirs))
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=ADAM_RTOL, atol=1e-5)


def test_optimizers_and_bad_names():
    assert optimizers.make_optimizer("SGD", 0.1, 0.5).momentum == 0.5
    assert isinstance(optimizers.make_optimizer("rmsprop", 0.1), keras.optimizers.RMSprop)
    with pytest.raises(optimizers.UserError, match="unknown --optimizer 'adamw'"):
        optimizers.make_optimizer("adamw", 0.1)


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop"])
def test_gradients_are_clipped_element_wise(name):
    """A step on one element whose gradient is far above the bound, one far below:
    the update is the one that the clipped gradient gives."""
    optimizer = optimizers.make_optimizer(name, 0.5, momentum=0.0)
    weights = tf.Variable([1.0, 1.0])
    optimizer.build([weights])

    @tf.function
    def step():
        optimizer.apply_gradients([(tf.constant([1e6, 1e-3]), weights)])

    step()
    bound = optimizers.GRADIENT_CLIP_VALUE
    if name == "sgd":   # plain SGD moves by exactly learning rate x clipped gradient
        np.testing.assert_allclose(weights.numpy(), [1.0 - 0.5 * bound, 1.0 - 0.5e-3], rtol=1e-6)
    else:               # the same clipped gradient as a bare Keras optimizer given it
        reference = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[name](
            0.5, **({} if name == "adam" else {"momentum": 0.0}))
        expected = tf.Variable([1.0, 1.0])
        reference.apply_gradients([(tf.constant([bound, 1e-3]), expected)])
        np.testing.assert_allclose(weights.numpy(), expected.numpy(), rtol=ADAM_RTOL)


@pytest.fixture
def mixed_precision():
    from samplernn import devices

    policy, _ = precision.choose_policy(devices.Devices("CPU", cpu_bfloat16=True), True)
    precision.set_policy(policy)
    yield policy
    precision.set_policy("float32")


def test_weight_norm_norms_are_float32_under_mixed_precision(mixed_precision):
    from samplernn.layers import Linear

    layer = Linear(64, 8)
    layer.v.assign(np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32) * 30)
    v = tf.constant(layer.v.numpy())
    float32_kernel = v * (tf.constant(layer.g.numpy()) / tf.norm(v, axis=0))
    # Inside a call (where Keras casts variables to the compute dtype), the
    # identity's product is the kernel: float32 norms, then one rounding.
    kernel = layer(tf.eye(64))
    assert kernel.dtype == tf.bfloat16
    np.testing.assert_array_equal(tf.cast(kernel, tf.float32).numpy(),
                                  tf.cast(tf.cast(float32_kernel, tf.bfloat16), tf.float32).numpy())


def test_mixed_precision_trains_with_float32_weights_states_and_loss(mixed_precision):
    assert mixed_precision == "mixed_bfloat16"
    config = tiny_config()
    model = build_model(config)
    optimizer = precision.with_loss_scaling(optimizers.make_optimizer("adam", 1e-3))
    trainer = training.Trainer(model, optimizer)
    x = random_inputs(config)
    states = model.initial_states(3)
    for step in range(3):
        loss, _, states = trainer.train_step(x, x[:, 16:], tf.constant(step == 0), states)
    assert loss.dtype == tf.float32 and np.isfinite(float(loss))
    assert all(s.dtype == tf.float32 for s in tf.nest.flatten(states))
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    logits, _ = model(x, model.initial_states(3))
    assert logits.dtype == tf.bfloat16


def test_input_projection_is_chosen_per_layer():
    """``project_inputs_ahead`` reaches every RNN layer and decides where the input
    projection runs: once on the whole window ``[batch, time, in]`` ahead of the
    loop, or inside it on each step's ``[batch, in]``."""
    from samplernn.layers import Recurrent

    config = tiny_config(num_rnn_layers=2)
    for ahead in (True, False):
        model = build_model(config, project_inputs_ahead=ahead)
        rnns = [rnn for tier in model.tiers for rnn in tier.rnns]
        assert all(isinstance(rnn, Recurrent) for rnn in rnns)
        assert len(rnns) == 2 * len(config.frame_sizes)
        assert {rnn.project_inputs_ahead for rnn in rnns} == {ahead}
        rnn = rnns[0]
        ranks = []
        original = rnn.input_map.call

        def recording(x, *args, **kwargs):
            ranks.append(len(x.shape))
            return original(x, *args, **kwargs)

        rnn.input_map.call = recording
        inputs = tf.zeros([2, 5, rnn.input_map.kernel().shape[0]])
        rnn(inputs, rnn.initial_state(2))
        assert ranks == ([3] if ahead else [2] * 5), ranks   # once, or at each of 5 steps


def test_input_noise_perturbs_the_inputs_within_the_classes_and_only_when_asked():
    """--input_noise: the model's inputs get rounded Gaussian noise of that many levels,
    clipped to the class range; 0 leaves them as they are."""
    import tensorflow as tf

    from samplernn import training
    from samplernn.model import build_model
    from samplernn.optimizers import make_optimizer

    model = build_model(tiny_config())
    inputs = tf.constant(np.tile([0, 128, 255], [64, 400]), tf.int32)
    clean = training.Trainer(model, make_optimizer("adam", 0.001))._noisy(inputs)
    assert clean is inputs
    noisy = training.Trainer(model, make_optimizer("adam", 0.001), input_noise=2.0)._noisy(
        inputs).numpy()
    assert noisy.dtype == np.int32 and noisy.min() == 0 and noisy.max() == 255
    middle = noisy[:, 1::3] - 128
    assert abs(middle.mean()) < 0.05 and 1.5 < np.abs(middle).mean() < 1.7   # E|round(N(0, 2))|

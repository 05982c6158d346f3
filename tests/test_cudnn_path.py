"""The GPU (cuDNN) path of the recurrent layers, checked on a CPU.

On a GPU, ``Recurrent`` hands ``keras_weights()`` and its state to Keras's
cuDNN GRU/LSTM call. Here the same packed weights go through Keras's
standard (non-cuDNN) GRU/LSTM layers, which compute what cuDNN computes;
they must equal our own scan path to 1e-5 in outputs, final states and
gradients with respect to ``v``, ``g`` and ``h0``. The layer's own cuDNN
path, run here, must fall back to the scan path rather than fail.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from samplernn import layers
from samplernn.layers import Recurrent

BATCH, TIME, INPUT_DIM, UNITS = 3, 7, 6, 8
TOLERANCE = 1e-5


def randomized_layer(rnn_type, weight_norm, use_cudnn=False, seed=0):
    """A layer whose every weight, ``g`` and ``h0`` included, is random (not its init)."""
    layer = Recurrent(rnn_type, INPUT_DIM, UNITS, weight_norm=weight_norm,
                      use_cudnn=use_cudnn)
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(0.0, 0.5, variable.shape).astype(np.float32))
    return layer


def keras_reference(rnn_type):
    """Keras's standard GRU/LSTM (cuDNN off), with variables we never use: the
    weights come in through ``stateless_call``."""
    if rnn_type == "gru":
        layer = keras.layers.GRU(UNITS, reset_after=True, return_sequences=True,
                                 return_state=True, use_cudnn=False)
    else:
        layer = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True,
                                  use_cudnn=False)
    layer.build((None, None, INPUT_DIM))
    return layer


def differentiable_variables(layer):
    """``v`` and ``g`` of both maps, the biases and ``h0``."""
    return [v for v in layer.trainable_variables]


def outputs_and_gradients(run, layer, inputs, output_weights):
    """Run ``run(state) -> (outputs, final_state)`` from the layer's learned
    initial state; return the values and the gradients of a fixed random
    projection of all of them with respect to the layer's variables."""
    with tf.GradientTape() as tape:
        outputs, final = run(layer.initial_state(BATCH))
        values = [outputs, *final]
        loss = tf.add_n([tf.reduce_sum(v * w) for v, w in zip(values, output_weights)])
    gradients = tape.gradient(loss, differentiable_variables(layer))
    return [v.numpy() for v in values], [g.numpy() for g in gradients]


def random_output_weights(rnn_type, seed=1):
    rng = np.random.default_rng(seed)
    shapes = [(BATCH, TIME, UNITS)] + [(BATCH, UNITS)] * (1 if rnn_type == "gru" else 2)
    return [tf.constant(rng.normal(size=s).astype(np.float32)) for s in shapes]


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("weight_norm", [True, False])
def test_packed_weights_through_keras_standard_rnn_equal_recurrent(rnn_type, weight_norm):
    layer = randomized_layer(rnn_type, weight_norm)
    reference = keras_reference(rnn_type)
    inputs = tf.constant(np.random.default_rng(2).normal(size=(BATCH, TIME, INPUT_DIM)),
                         tf.float32)
    output_weights = random_output_weights(rnn_type)

    def ours(state):
        return layer(inputs, state)

    def theirs(state):
        (outputs, *final), _ = reference.stateless_call(
            list(layer.keras_weights()), [v.value for v in reference.non_trainable_variables],
            inputs, initial_state=list(state))
        return outputs, final

    ours_values, ours_gradients = outputs_and_gradients(ours, layer, inputs, output_weights)
    keras_values, keras_gradients = outputs_and_gradients(theirs, layer, inputs,
                                                          output_weights)
    for a, b in zip(ours_values, keras_values):
        np.testing.assert_allclose(a, b, atol=TOLERANCE, rtol=TOLERANCE)
    assert len(ours_gradients) == len(keras_gradients) == len(layer.trainable_variables)
    names = [v.path for v in layer.trainable_variables]
    assert any(n.endswith("h0") for n in names)
    assert any(n.endswith("norm") for n in names) == weight_norm
    for name, a, b in zip(names, ours_gradients, keras_gradients):
        assert np.any(a != 0), name
        np.testing.assert_allclose(a, b, atol=TOLERANCE, rtol=TOLERANCE, err_msg=name)


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_cudnn_path_without_a_gpu_falls_back_to_scan(rnn_type, monkeypatch):
    """The cuDNN layer really asks Keras's cuDNN function; without a GPU that refuses
    (NotImplementedError), and the layer computes the scan path's values instead."""
    assert not tf.config.list_logical_devices("GPU")
    calls = []
    original = getattr(layers.keras_tf_rnn, rnn_type)

    def spy(*args, **kwargs):
        calls.append(rnn_type)
        return original(*args, **kwargs)

    monkeypatch.setattr(layers.keras_tf_rnn, rnn_type, spy)
    scan = randomized_layer(rnn_type, True, use_cudnn=False)
    cudnn = randomized_layer(rnn_type, True, use_cudnn=True)
    inputs = tf.constant(np.random.default_rng(3).normal(size=(BATCH, TIME, INPUT_DIM)),
                         tf.float32)
    output_weights = random_output_weights(rnn_type)
    scan_values, scan_gradients = outputs_and_gradients(
        lambda s: scan(inputs, s), scan, inputs, output_weights)
    compiled = tf.function(lambda x, s: cudnn(x, s))
    cudnn_values, cudnn_gradients = outputs_and_gradients(
        lambda s: compiled(inputs, s), cudnn, inputs, output_weights)
    assert calls, "the cuDNN layer never tried Keras's cuDNN function"
    for a, b in zip(scan_values + scan_gradients, cudnn_values + cudnn_gradients):
        np.testing.assert_allclose(a, b, atol=TOLERANCE, rtol=TOLERANCE)


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_projecting_inputs_ahead_or_per_step_gives_the_same_layer(rnn_type):
    """The two scan variants (benchmarks/training.py measures both) share weights and values."""
    ahead = randomized_layer(rnn_type, True)
    per_step = layers.Recurrent(rnn_type, INPUT_DIM, UNITS, project_inputs_ahead=False)
    for mine, theirs in zip(per_step.weights, ahead.weights):
        mine.assign(theirs)
    inputs = tf.constant(np.random.default_rng(5).normal(size=(BATCH, TIME, INPUT_DIM)),
                         tf.float32)
    state = ahead.initial_state(BATCH)
    for a, b in zip(tf.nest.flatten(ahead(inputs, state)),
                    tf.nest.flatten(per_step(inputs, state))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOLERANCE, rtol=TOLERANCE)


def test_keras_packing_swaps_nothing_it_should_not():
    """The GRU bias rows are (input, recurrent); a layer without a recurrent
    bias (LSTM) hands over the input bias alone."""
    gru = randomized_layer("gru", True)
    kernel, recurrent_kernel, bias = gru.keras_weights()
    assert kernel.shape == (INPUT_DIM, 3 * UNITS) and recurrent_kernel.shape == (UNITS, 3 * UNITS)
    np.testing.assert_array_equal(bias[0], gru.input_map.b.numpy())
    np.testing.assert_array_equal(bias[1], gru.recurrent_map.b.numpy())
    lstm = randomized_layer("lstm", False)
    kernel, recurrent_kernel, bias = lstm.keras_weights()
    np.testing.assert_array_equal(kernel, lstm.input_map.v.numpy())
    np.testing.assert_array_equal(bias, lstm.input_map.b.numpy())


def test_checkpoints_move_between_the_cudnn_and_scan_builds(tmp_path):
    """The path is not part of the model: same variables, same names, same checkpoint."""
    from conftest import tiny_config
    from samplernn import checkpoints
    from samplernn.model import build_model

    config = tiny_config(rnn_type="lstm", num_rnn_layers=2, skip_conn=True)
    gpu_built = build_model(config, use_cudnn=True)
    cpu_built = build_model(config, use_cudnn=False)
    shapes = lambda m: {k: tuple(v.shape) for k, v in m.variables_by_path().items()}  # noqa
    assert shapes(gpu_built) == shapes(cpu_built)
    for variable in gpu_built.weights:
        variable.assign(np.random.default_rng(4).normal(0, 0.3, variable.shape))
    prefix = checkpoints.make_checkpoint(gpu_built).write(str(tmp_path / "model.ckpt-1"))
    checkpoints.restore(checkpoints.make_checkpoint(cpu_built), prefix)
    assert checkpoints.fingerprint(cpu_built) == checkpoints.fingerprint(gpu_built)

"""The GRU loop with a hand-written gradient (samplernn/gru_scan.py) against
TensorFlow's automatic gradient of the per-step function the sampler uses."""

import numpy as np
import pytest
import tensorflow as tf

from samplernn import gru_scan as gru_scan_module
from samplernn.gru_scan import gru_scan
from samplernn.layers import gru_step


def reference(x, h0, kernel, bias):
    """``tf.scan`` over :func:`gru_step`, differentiated by TensorFlow."""
    def step(state, x_t):
        return gru_step(x_t, state, lambda h: tf.matmul(h, kernel) + bias)

    (outputs,) = tf.scan(step, tf.transpose(x, [1, 0, 2]), initializer=(h0,))
    return tf.transpose(outputs, [1, 0, 2])


def value_and_gradients(function, x, h0, kernel, bias, weights):
    with tf.GradientTape() as tape:
        tape.watch([x, h0, kernel, bias])
        outputs = function(x, h0, kernel, bias)
        # A weighted sum, and the last output again (as the carried state is read).
        loss = tf.reduce_sum(outputs * weights) + tf.reduce_sum(outputs[:, -1] ** 2)
    return [outputs] + tape.gradient(loss, [x, h0, kernel, bias])


def random_case(steps, batch=3, units=8, seed=0):
    rng = np.random.default_rng(seed)

    def normal(*shape, scale=1.0):
        return tf.constant((rng.normal(size=shape) * scale).astype(np.float32))

    return (normal(batch, steps, 3 * units), normal(batch, units, scale=0.5),
            normal(units, 3 * units, scale=units ** -0.5), normal(3 * units, scale=0.3),
            normal(batch, steps, units))


@pytest.mark.parametrize("steps", [1, 7, 40])
def test_outputs_and_every_gradient_match_tensorflows(steps):
    case = random_case(steps)
    expected = value_and_gradients(reference, *case)
    got = value_and_gradients(gru_scan, *case)
    for name, want, have in zip(["outputs", "x", "h0", "kernel", "bias"], expected, got):
        np.testing.assert_allclose(have.numpy(), want.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_the_loop_past_the_unrolled_length_matches_too(monkeypatch):
    """Sequences longer than MAX_UNROLLED_STEPS run as tf.scan, forward and back."""
    monkeypatch.setattr(gru_scan_module, "MAX_UNROLLED_STEPS", 4)
    case = random_case(9, seed=1)        # a length no other test traces
    for want, have in zip(value_and_gradients(reference, *case),
                          value_and_gradients(gru_scan, *case)):
        np.testing.assert_allclose(have.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)


def test_bfloat16_runs_and_stays_close():
    """Mixed precision computes the loop in bfloat16: same shapes, values near float32's."""
    case = random_case(5, seed=2)
    low = [tf.cast(t, tf.bfloat16) for t in case]
    got = value_and_gradients(gru_scan, *low)
    expected = value_and_gradients(reference, *case)
    for want, have in zip(expected, got):
        assert have.dtype == tf.bfloat16
        np.testing.assert_allclose(tf.cast(have, tf.float32).numpy(), want.numpy(),
                                   rtol=0.1, atol=0.1)

"""A GRU over a whole sequence with a hand-written gradient (the CPU training path).

The same "reset after" GRU as :func:`samplernn.layers.gru_step`, for training.
TensorFlow's automatic gradient of a ``tf.scan`` loop runs one backward step per
forward step, each with as many small ops as the forward step and a stack push
and pop per intermediate, and it forms the recurrent kernel's gradient step by
step. Here, for a loop whose cost on a CPU is per-op overhead, not arithmetic:

- forward: the step of :func:`samplernn.layers.gru_step` in a loop that keeps only
  its outputs;
- backward: the gates of every step recomputed at once from the outputs (one
  ``[time * batch, units] x [units, 3 * units]`` product) with ``C_t``, the local
  derivatives of ``h_t`` with respect to its pre-activations; then a loop of only
  what must be sequential, the gradient that ``h_t`` passes to ``h_{t-1}``:
  ``dh_{t-1} = dh_t z_t + ([dh_t dh_t dh_t] * C_t) U^T``;
  then the kernel, bias and input gradients of every step at once (the kernel's
  as one ``[units, time * batch] x [time * batch, 3 * units]`` product).

Both halves are XLA-compiled (:mod:`samplernn.compiling`) and, up to
``MAX_UNROLLED_STEPS`` steps, unrolled, so XLA fuses each step's gate arithmetic.
The gradient is the exact gradient of the forward (``tests/test_gru_scan.py``
checks it against TensorFlow's automatic one).

Shapes: ``x [batch, time, 3 * units]`` (inputs already projected, input bias
included; gates ordered z, r, h), ``h0 [batch, units]``, ``kernel [units, 3 * units]``,
``bias [3 * units]`` -> ``outputs [batch, time, units]``.
"""

from __future__ import annotations

import tensorflow as tf

from samplernn.compiling import compiled

GATES = 3  # z, r, h
MAX_UNROLLED_STEPS = 256  # longer loops (or unknown lengths) run as tf.scan


def _time_major(x):
    """``[batch, time, ...]`` <-> ``[time, batch, ...]``."""
    return tf.transpose(x, [1, 0, 2])


def _gates(x, recurrent):
    """The gates from the projected input ``x [..., 3u]`` and the recurrent product
    ``recurrent = h_prev U + b [..., 3u]`` -> ``z, r, n, recurrent_n``, each ``[..., u]``
    (``recurrent_n``: the part the reset gate scales)."""
    units = x.shape[-1] // GATES
    x_zr, x_n = tf.split(x, [2 * units, units], axis=-1)
    recurrent_zr, recurrent_n = tf.split(recurrent, [2 * units, units], axis=-1)
    z, r = tf.split(tf.sigmoid(x_zr + recurrent_zr), 2, axis=-1)
    n = tf.tanh(x_n + r * recurrent_n)
    return z, r, n, recurrent_n


def _forward(x, h0, kernel, bias):
    """The loop ``h_t = n_t + z_t (h_{t-1} - n_t)`` over ``x [batch, time, 3u]``;
    returns ``[batch, time, u]``."""
    def step(h, x_t):
        z, _, n, _ = _gates(x_t, tf.matmul(h, kernel) + bias)
        return n + z * (h - n)

    x = _time_major(x)
    steps = x.shape[0]
    if steps is None or steps > MAX_UNROLLED_STEPS:
        return _time_major(tf.scan(step, x, initializer=h0))
    outputs, h = [], h0
    for x_t in tf.unstack(x, num=steps):
        h = step(h, x_t)
        outputs.append(h)
    return tf.stack(outputs, axis=1)


def _backward_loop(d_outputs, c_recurrent, z, kernel):
    """What each ``h_t`` passes back to ``h_{t-1}``: ``passed [time, batch, units]``,
    ``passed[0]`` the gradient of ``h0`` (inputs time-major)."""
    def back_step(d_from_next, inputs):
        d_output, c_t, z_t = inputs
        d_h = d_output + d_from_next                                       # dL/dh_t
        d_recurrent = tf.concat([d_h] * GATES, axis=-1) * c_t
        return d_h * z_t + tf.matmul(d_recurrent, kernel, transpose_b=True)

    steps = d_outputs.shape[0]
    if steps is None or steps > MAX_UNROLLED_STEPS:
        return tf.scan(back_step, (d_outputs, c_recurrent, z),
                       initializer=tf.zeros_like(d_outputs[0]), reverse=True)
    passed, d_from_next = [None] * steps, tf.zeros_like(d_outputs[0])
    for t in reversed(range(steps)):
        d_from_next = back_step(d_from_next, (d_outputs[t], c_recurrent[t], z[t]))
        passed[t] = d_from_next
    return tf.stack(passed)


def _backward(x, h0, kernel, bias, outputs, d_outputs):
    """The gradients of ``x, h0, kernel, bias`` from those of the outputs
    (``x``, ``outputs``, ``d_outputs`` batch-major, as :func:`gru_scan` takes them)."""
    x, outputs, d_outputs = _time_major(x), _time_major(outputs), _time_major(d_outputs)
    units = kernel.shape[0]
    h_prev = tf.concat([h0[None], outputs[:-1]], axis=0)                 # [T, B, u]
    recurrent = tf.matmul(tf.reshape(h_prev, [-1, units]), kernel) + bias
    z, r, n, recurrent_n = _gates(x, tf.reshape(recurrent, tf.shape(x)))
    # Local derivatives of h_t with respect to the pre-activations, per unit:
    # d/d(z pre) = (h_prev - n) z (1 - z); d/d(n pre) = (1 - z)(1 - n^2);
    # d/d(r pre) = d(n pre) * recurrent_n * r (1 - r); d/d(recurrent_n) = d(n pre) * r.
    c_n = (1.0 - z) * (1.0 - n * n)
    c_z = (h_prev - n) * z * (1.0 - z)
    c_r = c_n * recurrent_n * r * (1.0 - r)
    c_recurrent = tf.concat([c_z, c_r, c_n * r], axis=-1)                 # [T, B, 3u]
    passed = _backward_loop(d_outputs, c_recurrent, z, kernel)
    d_h = d_outputs + tf.concat([passed[1:], tf.zeros_like(passed[:1])], axis=0)
    d_recurrent = tf.concat([d_h] * GATES, axis=-1) * c_recurrent         # [T, B, 3u]
    d_kernel = tf.matmul(tf.reshape(h_prev, [-1, units]),
                         tf.reshape(d_recurrent, [-1, GATES * units]), transpose_a=True)
    d_bias = tf.reduce_sum(d_recurrent, axis=[0, 1])
    # The input's z and r parts enter the gates as the recurrent ones do.
    d_x = tf.concat([d_recurrent[..., :2 * units], d_h * c_n], axis=-1)
    return _time_major(d_x), passed[0], d_kernel, d_bias


_forward_compiled, _backward_compiled = compiled(_forward), compiled(_backward)


@tf.custom_gradient
def gru_scan(x, h0, kernel, bias):
    """``outputs [batch, time, units]`` of the GRU (see the module docstring)."""
    # Not recorded by any tape (the gradient below replaces TensorFlow's): eagerly,
    # TensorFlow would otherwise prepare the compiled loop's own gradient.
    outputs = _forward_compiled(*(tf.stop_gradient(t) for t in (x, h0, kernel, bias)))

    def gradient(d_outputs):
        return _backward_compiled(x, h0, kernel, bias, outputs, d_outputs)

    return outputs, gradient

"""Building blocks: weight-normalized linear maps and recurrent layers.

The recurrent layers own their variables (weight-normalized kernels, a
learned initial state ``h0``) and one pure per-step function
(:func:`gru_step`, :func:`lstm_step`) shared by training and by the
incremental sampler, so the sampler is exactly the trained model. They run
the sequence one of two ways, with the same variables and the same result:

- ``scan`` (CPUs, TPUs, XLA): the input-to-hidden products of all time steps
  in one matrix product, then a loop of the hidden-to-hidden product and the
  gates: for a GRU, :func:`samplernn.gru_scan.gru_scan` (unrolled, XLA-compiled,
  with a hand-written gradient); for an LSTM, a ``tf.scan`` of :func:`lstm_step`.
- ``cudnn`` (GPUs): the effective kernels, computed once per call from ``v``
  and ``g``, and the initial state are handed to TensorFlow's fused cuDNN
  kernel through Keras's own GRU/LSTM backend functions (the GRU here is
  cuDNN's "reset after" form, gates in Keras's order). Gradients flow back
  to ``v``, ``g`` and ``h0`` through the cuDNN op's registered gradient.
  Where cuDNN cannot run, Keras says so and the layer falls back to ``scan``.
"""

from __future__ import annotations

import importlib

import keras
import tensorflow as tf

from samplernn.gru_scan import gru_scan

try:  # Keras's TensorFlow backend: the cuDNN GRU/LSTM that keras.layers.GRU/LSTM call
    # (a module whose name its package's ``rnn`` function shadows as an attribute)
    keras_tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
except ImportError:  # another Keras layout: no cuDNN path, the scan path still works
    keras_tf_rnn = None

RNN_IMPLEMENTATIONS = ("scan", "cudnn")
CUDNN_DTYPES = ("float16", "float32")  # other compute dtypes run cuDNN in float32


class Linear(keras.layers.Layer):
    """``y = x W + b`` over the last axis, with optional weight normalization.

    With weight normalization (Salimans & Kingma 2016) the kernel is
    ``W = g * V / ||V||``, the norm taken per output unit (over the input
    axis); ``g`` starts at the initial norms, so ``W`` starts equal to ``V``.
    ``V`` and ``g`` are read in float32 and the norms computed in float32
    whatever the compute precision; only the finished kernel is cast to it.

    Shapes: ``x [..., input_dim] -> y [..., units]``.
    """

    def __init__(self, input_dim: int, units: int, use_bias: bool = True,
                 weight_norm: bool = True, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.units, self.weight_norm = input_dim, units, weight_norm
        # Not autocast: the norms are taken in float32 (see kernel()).
        self.v = self.add_weight(shape=(input_dim, units), initializer=initializer,
                                 name="kernel", autocast=False)
        if weight_norm:
            initial_norms = tf.norm(tf.convert_to_tensor(self.v), axis=0)
            self.g = self.add_weight(shape=(units,), name="norm", autocast=False,
                                     initializer=lambda shape, dtype=None: initial_norms)
        self.b = self.add_weight(shape=(units,), initializer="zeros",
                                 name="bias") if use_bias else None
        self.built = True  # every weight is created above

    def kernel(self, dtype=None):
        """The effective kernel ``[input_dim, units]`` in ``dtype`` (default: the
        layer's compute dtype)."""
        v = tf.convert_to_tensor(self.v)                      # float32
        if self.weight_norm:
            v = v * (tf.convert_to_tensor(self.g) / tf.norm(v, axis=0))
        return tf.cast(v, dtype or self.compute_dtype)

    def bias(self):
        """The bias ``[units]``, or None."""
        return None if self.b is None else tf.convert_to_tensor(self.b)

    def kernel_with_bias(self):
        """``[input_dim + 1, units]`` float32: the kernel with the bias (zeros without
        one) as its last row, whatever the dtype policy (the sampler's form)."""
        bias = (tf.zeros([self.units]) if self.b is None
                else tf.cast(tf.convert_to_tensor(self.b), tf.float32))
        return tf.concat([self.kernel(tf.float32), bias[None]], axis=0)

    def call(self, x):
        # One 2-D product over all leading axes: a 3-D tf.matmul runs as a batched
        # product whose kernel gradient was 10-20% slower on a CPU.
        y = tf.tensordot(x, self.kernel(), axes=1)
        return y if self.b is None else bias_add(y, self.bias())


@tf.custom_gradient
def bias_add(y, bias):
    """``y [..., units] + bias [units]``, whose gradient for ``bias`` is one product with
    a row of ones: on a CPU, TensorFlow's own (a column reduction) was several times
    slower for the sample level's logits in a profile of the training step."""
    def gradient(d_y):
        rows = tf.reshape(d_y, [-1, d_y.shape[-1]])                       # [N, units]
        ones = tf.ones([1, tf.shape(rows)[0]], d_y.dtype)
        return d_y, tf.cast(tf.matmul(ones, rows)[0], bias.dtype)

    return tf.nn.bias_add(y, bias), gradient


# ------------------------------------------------------------ recurrent steps
def gru_step(x_projected, state, recurrent):
    """One GRU step (the cuDNN-compatible "reset after" form).

    Args:
        x_projected: ``[batch, 3 * units]``, the input already multiplied by
            the input kernel (plus its bias), gates ordered (z, r, h).
        state: ``(h,)`` with ``h [batch, units]``.
        recurrent: the hidden-to-hidden map, ``h -> h U + b`` ``[batch, 3 * units]``
            (a function, so the sampler can supply its own form of the same product).
    Returns:
        The new state ``(h,)``; ``h`` is also the step's output.
    """
    (h,) = state
    x_z, x_r, x_h = tf.split(x_projected, 3, axis=-1)
    h_z, h_r, h_h = tf.split(recurrent(h), 3, axis=-1)
    z = tf.sigmoid(x_z + h_z)
    r = tf.sigmoid(x_r + h_r)
    candidate = tf.tanh(x_h + r * h_h)
    return (z * h + (1.0 - z) * candidate,)


def lstm_step(x_projected, state, recurrent):
    """One LSTM step.

    Args:
        x_projected: ``[batch, 4 * units]``, gates ordered (i, f, c, o).
        state: ``(h, c)``, each ``[batch, units]``.
        recurrent: the hidden-to-hidden map, ``h -> h U`` ``[batch, 4 * units]``
            (the input bias covers the gates' bias).
    Returns:
        The new state ``(h, c)``; ``h`` is the step's output.
    """
    h, c = state
    gates = x_projected + recurrent(h)
    i, f, g, o = tf.split(gates, 4, axis=-1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


_CELLS = {
    # name: (step function, gates, state tensors, has a recurrent bias)
    "gru": (gru_step, 3, 1, True),
    "lstm": (lstm_step, 4, 2, False),
}
LSTM_FORGET_BIAS = 1.0  # the usual "unit forget bias" initialization


class Recurrent(keras.layers.Layer):
    """A GRU or LSTM layer with a learned (or zero) initial state.

    Shapes: inputs ``[batch, time, input_dim]`` and a state tuple of
    ``[batch, units]`` tensors -> outputs ``[batch, time, units]`` and the
    final state tuple.
    """

    def __init__(self, rnn_type: str, input_dim: int, units: int,
                 weight_norm: bool = True, learn_h0: bool = True,
                 project_inputs_ahead: bool = True, use_cudnn: bool = False, **kwargs):
        """``use_cudnn``: run the sequence through cuDNN (see the module docstring;
        :func:`samplernn.devices.use_cudnn` decides). ``project_inputs_ahead``
        (scan path): project the inputs of all time steps in one product before
        the loop (the fast way on CPUs); False projects them step by step, for
        benchmarks/training.py to measure the difference."""
        super().__init__(**kwargs)
        self.project_inputs_ahead, self.use_cudnn = project_inputs_ahead, use_cudnn
        self.rnn_type = rnn_type
        self.step_fn, gates, self.num_states, recurrent_bias = _CELLS[rnn_type]
        self.units = units
        self.input_map = Linear(input_dim, gates * units, weight_norm=weight_norm,
                                name=f"{self.name}_input")
        self.recurrent_map = Linear(units, gates * units, use_bias=recurrent_bias,
                                    weight_norm=weight_norm, initializer="orthogonal",
                                    name=f"{self.name}_recurrent")
        if rnn_type == "lstm":
            forget = [0.0] * units + [LSTM_FORGET_BIAS] * units + [0.0] * (2 * units)
            self.input_map.b.assign(forget)
        self.h0 = self.add_weight(shape=(self.num_states, units), initializer="zeros",
                                  trainable=learn_h0, name="h0")
        self.built = True  # every weight is created above

    def linear_layers(self) -> list:
        """The layer's :class:`Linear` maps: input, then recurrent."""
        return [self.input_map, self.recurrent_map]

    def step(self, projected_input, state, recurrent):
        """One time step from the input already projected by ``input_map``
        (``[batch, gates * units]``); ``recurrent(h)`` applies ``recurrent_map``.
        Returns the new state tuple (its first element is the output)."""
        return self.step_fn(projected_input, state, recurrent)

    def initial_state(self, batch_size):
        """The state used at every reset: a tuple of ``[batch, units]`` tensors."""
        h0 = tf.convert_to_tensor(self.h0)
        return tuple(tf.broadcast_to(h0[i], [batch_size, self.units])
                     for i in range(self.num_states))

    def keras_weights(self):
        """The effective weights in the layout of ``keras.layers.GRU(reset_after=True)``
        / ``keras.layers.LSTM`` (and of Keras's cuDNN call): kernel
        ``[input_dim, gates * units]``, recurrent kernel ``[units, gates * units]``,
        bias ``[2, 3 * units]`` (GRU: input and recurrent rows) or ``[4 * units]`` (LSTM)."""
        bias = self.input_map.bias()
        if self.recurrent_map.b is not None:
            bias = tf.stack([bias, self.recurrent_map.bias()])
        return self.input_map.kernel(), self.recurrent_map.kernel(), bias

    def call(self, inputs, state):
        """``inputs [batch, time, input_dim]``, ``state`` -> ``outputs [batch, time,
        units]``, final state (float32 between windows, whatever the precision)."""
        if self.use_cudnn:
            result = self._call_cudnn(inputs, state)
            if result is not None:
                return result
        return self._call_scan(inputs, state)

    def _call_cudnn(self, inputs, state):
        """The cuDNN path, or None where Keras finds that cuDNN cannot run (no GPU)."""
        if keras_tf_rnn is None:
            return None
        dtype = inputs.dtype if inputs.dtype.name in CUDNN_DTYPES else tf.float32
        kernel, recurrent_kernel, bias = (tf.cast(w, dtype) for w in self.keras_weights())
        x, state = tf.cast(inputs, dtype), [tf.cast(s, dtype) for s in state]
        common = dict(mask=None, kernel=kernel, recurrent_kernel=recurrent_kernel, bias=bias,
                      activation=tf.tanh, recurrent_activation=tf.sigmoid,
                      return_sequences=True)
        try:
            if self.rnn_type == "gru":
                _, outputs, final = keras_tf_rnn.gru(x, state[0], reset_after=True, **common)
            else:
                _, outputs, final = keras_tf_rnn.lstm(x, state[0], state[1], **common)
        except NotImplementedError:
            return None
        return (tf.cast(outputs, inputs.dtype), tuple(tf.cast(s, tf.float32) for s in final))

    def _call_scan(self, inputs, state):
        """The ``tf.scan`` path: any device, XLA included."""
        if self.project_inputs_ahead:   # one product for all time steps
            projected = self.input_map(inputs)                 # [batch, time, gates*units]
        else:                           # for benchmarks/training.py only
            projected = inputs
        kernel, bias = self.recurrent_map.kernel(), self.recurrent_map.bias()
        # The state is float32 between windows, whatever the compute precision.
        state = tuple(tf.cast(s, projected.dtype) for s in state)
        if self.rnn_type == "gru" and self.project_inputs_ahead:
            outputs = gru_scan(projected, state[0], kernel, bias)    # [batch, time, units]
            return outputs, (tf.cast(outputs[:, -1], tf.float32),)
        input_map = (lambda x: x) if self.project_inputs_ahead else self.input_map

        def recurrent(h):
            return tf.matmul(h, kernel) if bias is None else tf.matmul(h, kernel) + bias

        def step(carry, x_t):
            return self.step_fn(input_map(x_t), carry, recurrent)

        time_major = tf.transpose(projected, [1, 0, 2])        # [time, batch, gates*units]
        states = tf.scan(step, time_major, initializer=state)
        outputs = tf.transpose(states[0], [1, 0, 2])           # [batch, time, units]
        return outputs, tuple(tf.cast(s[-1], tf.float32) for s in states)

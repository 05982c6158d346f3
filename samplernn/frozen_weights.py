"""The sampler's copy of a trained model's weights, frozen and ready for one-step use.

What is computed once per checkpoint (:meth:`samplernn.model.SampleRNN.sampler_weights`,
in float32 whatever policy the model was trained under):

- weight-normalized kernels, each with its bias as an extra last row, so no norm is
  taken per step and every product is a plain 2-D one;
- the sample-level MLP's first-layer tables ``[frame_size * q_levels, dim]``, so its
  first layer is ``frame_size`` gathers and a sum per sample.

Precision (``precision="bfloat16"``): the weights, tables included, are stored in
bfloat16, half the bytes to read per step, except the output layer's, which stay
float32 (see :mod:`samplernn.precision`, rule 5: the logits are float32 sums). A
bfloat16 product takes its input rounded to bfloat16 and returns a bfloat16 result,
widened to float32 at once.
"""

from __future__ import annotations

import tensorflow as tf

from samplernn.errors import UserError
from samplernn.precision import GENERATION_PRECISIONS

PRECISIONS = {name: tf.as_dtype(name) for name in GENERATION_PRECISIONS}  # stored weights


class FrozenWeights:
    """``{name: tf.Variable}`` of one model's sampler weights, and the product that reads
    them. :meth:`load` copies newer weights in without recompiling what reads them."""

    def __init__(self, model, precision: str = "float32"):
        if precision not in PRECISIONS:
            raise UserError(f"unknown --precision {precision!r}; choose one of "
                            f"{', '.join(PRECISIONS)}")
        self.model, self.precision, self.dtype = model, precision, PRECISIONS[precision]
        self.output_name = model.sample_mlp.output_map.name
        self.variables = {name: tf.Variable(tf.cast(value, self._stored_dtype(name)),
                                            trainable=False, name=name.replace("/", "_"))
                          for name, value in model.sampler_weights().items()}

    def _stored_dtype(self, name: str):
        """The dtype weight ``name`` is stored in: the output layer's stays float32."""
        return tf.float32 if name == self.output_name else self.dtype

    def load(self, model=None) -> None:
        """Copy the (current) weights of ``model`` (default: the one given first) in."""
        for name, value in (model or self.model).sampler_weights().items():
            self.variables[name].assign(tf.cast(value, self._stored_dtype(name)))

    def table(self, name: str):
        """A stored tensor read as it is (the first layer's ``tables``)."""
        return self.variables[name]

    def linear(self, name: str, x):
        """``x [..., in] -> x W + b [..., units]`` float32, as one 2-D product: the bias is
        the kernel's last row.

        (XLA on CPU fuses a separate bias add into the product and then runs it on one
        core; a plain product uses them all.)
        """
        weights = self.variables[name]
        rows = tf.cast(tf.reshape(x, [-1, x.shape[-1]]), weights.dtype)
        rows = tf.concat([rows, tf.ones([tf.shape(rows)[0], 1], weights.dtype)], axis=-1)
        out_shape = tf.concat([tf.shape(x)[:-1], tf.shape(weights)[-1:]], 0)
        return tf.reshape(tf.cast(tf.matmul(rows, weights), tf.float32), out_shape)

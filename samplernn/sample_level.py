"""The sample level, one lowest-tier frame at a time: the MLP once per sample, then a
draw, with frozen weights (:class:`samplernn.frozen_weights.FrozenWeights`).

One sample is three pieces, which benchmarks/sampler_profile.py times by replacing
each in a subclass: the first layer's table look-ups (:meth:`SampleLevel.first_layer`),
the rest of the MLP (:meth:`SampleLevel.head`) and the draw (:meth:`SampleLevel.choose`).

Sampling is Gumbel-max with a per-sequence temperature:
``argmax(logits / T + Gumbel noise)``, i.e. a draw from ``softmax(logits / T)``,
with stateless random numbers keyed on ``(random_seed, sample index)``, so a given
seed always gives the same audio.
"""

from __future__ import annotations

import tensorflow as tf

_TINY = 1e-20  # keeps log(-log(u)) finite in the Gumbel noise


def gumbel_noise(uniform):
    """Standard Gumbel noise from uniform numbers in (0, 1)."""
    return -tf.math.log(-tf.math.log(uniform))


def draw(logits, temperatures, noise_seed, noise=gumbel_noise):
    """One class per row from ``softmax(logits / T)`` by the Gumbel-max trick.

    Args:
        logits: ``[batch, q]``. temperatures: ``[batch]``.
        noise_seed: ``[2]`` int64, the stateless random seed.
        noise: maps uniform numbers to the noise added to the logits (only a
            test replaces it, to show that wrong noise is caught).
    Returns:
        ``[batch]`` int32 classes.
    """
    uniform = tf.random.stateless_uniform(tf.shape(logits), seed=noise_seed, minval=_TINY,
                                          maxval=1.0)
    return tf.argmax(logits / temperatures[:, None] + noise(uniform), axis=-1,
                     output_type=tf.int32)


class SampleLevel:
    """The sample-level MLP of ``model`` over frozen ``weights``; ``top`` is the top
    frame size, the length of the history of samples it is given."""

    def __init__(self, weights, model, top: int):
        self.weights, self.mlp, self.top = weights, model.sample_mlp, top
        self.frame_size, self.q_levels = model.config.sample_frame_size, model.config.q_levels

    def first_layer(self, history):
        """``history [B, top]`` -> the first layer's sum over the last ``frame_size``
        samples ``[B, dim]``: one row of the tables per position."""
        f0, q = self.frame_size, self.q_levels
        previous = history[:, self.top - f0:] + tf.range(f0, dtype=tf.int32) * q   # [B, F0]
        rows = tf.cast(tf.gather(self.weights.table("tables"), previous), tf.float32)
        return tf.reduce_sum(rows, axis=1)                                        # [B, dim]

    def head(self, first, conditioning):
        """First-layer sum and conditioning ``[B, dim]`` -> logits ``[B, q]`` (float32)."""
        h = tf.nn.relu(first + conditioning)
        for hidden in self.mlp.hidden:
            h = tf.nn.relu(self.weights.linear(hidden.name, h))
        return self.weights.linear(self.mlp.output_map.name, h)

    def choose(self, logits, temperatures, seed, index):
        """The class drawn for sample ``index`` (int64): ``[B]`` int32."""
        return draw(logits, temperatures, tf.stack([seed, index]))

    def block(self, conditioning, history, temperatures, seed, first_index, teacher, offset):
        """Run the MLP over one lowest-tier frame: ``conditioning [B, F0, dim]``.

        Sample ``j`` of the block has index ``first_index + offset + j`` (its random
        numbers' key). ``teacher`` (``[B, top]`` or None) replaces the sampled values
        from column ``offset`` on. Returns the updated ``history [B, top]`` and, when
        teacher-forced, the block's logits ``[B, F0, q]`` (else None).
        """
        f0, q = self.frame_size, self.q_levels

        def body(j, history, logits_array):
            logits = self.head(self.first_layer(history), conditioning[:, j])     # [B, q]
            if teacher is not None:
                chosen = teacher[:, offset + j]
                logits_array = logits_array.write(j, logits)
            else:
                chosen = self.choose(logits, temperatures, seed,
                                     first_index + offset + tf.cast(j, tf.int64))
            history = tf.concat([history[:, 1:], chosen[:, None]], axis=1)
            return j + 1, history, logits_array

        logits_array = tf.TensorArray(tf.float32, size=f0, element_shape=[None, q])
        _, history, logits_array = tf.while_loop(
            lambda j, *_: j < f0, body, (tf.constant(0), history, logits_array))
        if teacher is None:
            return history, None
        return history, tf.transpose(logits_array.stack(), [1, 0, 2])

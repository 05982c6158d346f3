"""The sample level, one lowest-tier frame at a time: the MLP once per sample, then a
draw, with frozen weights (:class:`samplernn.frozen_weights.FrozenWeights`).

One sample is three pieces, which benchmarks/sampler_profile.py times by replacing
each in a subclass: the first layer's table look-ups (:meth:`SampleLevel.first_layer`),
the rest of the MLP (:meth:`SampleLevel.head`) and the draw (:meth:`SampleLevel.choose`).

Sampling is Gumbel-max with a per-sequence temperature:
``argmax(logits / T + Gumbel noise)``, i.e. a draw from ``softmax(logits / T)``,
with stateless random numbers keyed on ``(random_seed, sample index)``, so a given
seed always gives the same audio.

The distribution's tail can be cut before the draw (:func:`truncate`): *min-p*
keeps the classes at least ``min_p`` times as likely as the likeliest one, *top-p*
(nucleus) the likeliest classes whose probabilities sum to ``top_p``. Both are
read from a variable (:attr:`SampleLevel.truncation`), so changing them needs no
recompilation; ``top_p = 1`` and ``min_p = 0`` keep every class.
"""

from __future__ import annotations

import tensorflow as tf

_TINY = 1e-20  # keeps log(-log(u)) finite in the Gumbel noise


def gumbel_noise(uniform):
    """Standard Gumbel noise from uniform numbers in (0, 1)."""
    return -tf.math.log(-tf.math.log(uniform))


NO_TRUNCATION = (1.0, 0.0)   # (top_p, min_p): every class kept


def truncate(scaled_logits, top_p, min_p):
    """``scaled_logits [batch, q]`` (already divided by the temperature) with the
    classes outside the top-p nucleus or under min-p set to -inf.

    ``min_p`` (float32 scalar in [0, 1)): a class is kept when its probability is at
    least ``min_p`` times the likeliest class's. ``top_p`` (in (0, 1]): the smallest
    set of likeliest classes whose probabilities sum to at least ``top_p`` is kept.
    The likeliest class is always kept.
    """
    dropped = tf.fill(tf.shape(scaled_logits), float("-inf"))
    likeliest = tf.reduce_max(scaled_logits, axis=-1, keepdims=True)
    kept = scaled_logits >= likeliest + tf.math.log(min_p)        # log(0) = -inf: all

    def nucleus():
        probabilities = tf.nn.softmax(scaled_logits)
        descending = tf.sort(probabilities, axis=-1, direction="DESCENDING")
        before = tf.cumsum(descending, axis=-1, exclusive=True)   # mass of likelier ones
        count = tf.reduce_sum(tf.cast(before < top_p, tf.int32), axis=-1, keepdims=True)
        smallest_kept = tf.gather(descending, tf.maximum(count, 1) - 1, batch_dims=1)
        return probabilities >= smallest_kept

    kept = tf.cond(top_p < 1.0, lambda: kept & nucleus(), lambda: kept)
    return tf.where(kept, scaled_logits, dropped)


def draw(logits, temperatures, noise_seed, noise=gumbel_noise, truncation=None):
    """One class per row from ``softmax(logits / T)`` by the Gumbel-max trick.

    Args:
        logits: ``[batch, q]``. temperatures: ``[batch]``.
        noise_seed: ``[2]`` int64, the stateless random seed.
        noise: maps uniform numbers to the noise added to the logits (only a
            test replaces it, to show that wrong noise is caught).
        truncation: ``[2]`` float32 ``(top_p, min_p)`` (:func:`truncate`), or None.
    Returns:
        ``[batch]`` int32 classes.
    """
    uniform = tf.random.stateless_uniform(tf.shape(logits), seed=noise_seed, minval=_TINY,
                                          maxval=1.0)
    scaled = logits / temperatures[:, None]
    if truncation is not None:
        scaled = truncate(scaled, truncation[0], truncation[1])
    return tf.argmax(scaled + noise(uniform), axis=-1, output_type=tf.int32)


class SampleLevel:
    """The sample-level MLP of ``model`` over frozen ``weights``; ``top`` is the top
    frame size, the length of the history of samples it is given."""

    def __init__(self, weights, model, top: int):
        self.weights, self.mlp, self.top = weights, model.sample_mlp, top
        self.frame_size, self.q_levels = model.config.sample_frame_size, model.config.q_levels
        # (top_p, min_p) of every draw; assigned between calls (set_truncation)
        self.truncation = tf.Variable(NO_TRUNCATION, dtype=tf.float32, trainable=False,
                                      name="truncation")

    def set_truncation(self, top_p: float = 1.0, min_p: float = 0.0) -> None:
        """The tail cut of the following draws (see :func:`truncate`)."""
        if not 0.0 < top_p <= 1.0 or not 0.0 <= min_p < 1.0:
            raise ValueError(f"need 0 < top_p <= 1 and 0 <= min_p < 1, got {top_p}, {min_p}")
        self.truncation.assign([top_p, min_p])

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

    def choose(self, logits, temperatures, seed, index, truncating: bool = False):
        """The class drawn for sample ``index`` (int64): ``[B]`` int32; the tail cut by
        :attr:`truncation` only when ``truncating`` (a Python bool: a loop traced without
        it does no work per sample for a cut that is off, 1.6x faster on a CPU)."""
        return draw(logits, temperatures, tf.stack([seed, index]),
                    truncation=self.truncation if truncating else None)

    def block(self, conditioning, history, temperatures, seed, first_index, teacher, offset,
              truncating: bool = False):
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
                                     first_index + offset + tf.cast(j, tf.int64), truncating)
            history = tf.concat([history[:, 1:], chosen[:, None]], axis=1)
            return j + 1, history, logits_array

        logits_array = tf.TensorArray(tf.float32, size=f0, element_shape=[None, q])
        _, history, logits_array = tf.while_loop(
            lambda j, *_: j < f0, body, (tf.constant(0), history, logits_array))
        if teacher is None:
            return history, None
        return history, tf.transpose(logits_array.stack(), [1, 0, 2])

"""The SampleRNN model (Mehri et al. 2017, arXiv 1612.07837).

A stack of frame-level tiers, one per entry of ``config.frame_sizes``, above
a sample-level MLP. Tier ``k`` (frame size ``F_k``) steps once per ``F_k``
samples; it reads the previous ``F_k`` samples as real values, adds the
conditioning upsampled from the tier above, runs its RNN stack, and upsamples
its output to the rate of the tier below (``F_k / F_{k-1}`` learned
projections, one per output position). The sample-level MLP predicts each
sample from the embeddings of the previous ``F_0`` samples plus the
conditioning of the lowest frame tier.

Shapes in a training window, with ``top = frame_sizes[-1]`` and ``S = seq_len``::

    inputs  int32 [batch, top + S]      quantized samples (classes)
    logits  float [batch, S, q_levels]  prediction for inputs[:, top:]

The RNN state is a nested structure ``states[tier][layer] = (h,)`` for GRU or
``(h, c)`` for LSTM, each ``[batch, dim]``, tiers ordered from the top down.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from samplernn.compiling import compiled
from samplernn.config import ModelConfig
from samplernn.layers import Linear, Recurrent

LN2 = math.log(2.0)


def scale_samples(classes, q_levels: int):
    """Quantized classes -> float32 values in [-1, 1] (the frame tiers' input)."""
    return tf.cast(classes, tf.float32) * (2.0 / (q_levels - 1)) - 1.0


class FrameTier(keras.layers.Layer):
    """One frame-level tier.

    Shapes: ``frames [batch, T, frame_size]`` (int classes) and
    ``conditioning [batch, T, dim]`` (or None for the top tier) ->
    ``[batch, T * upsample_ratio, dim]`` conditioning for the tier below.
    """

    def __init__(self, config: ModelConfig, frame_size: int, upsample_ratio: int,
                 project_inputs_ahead: bool = True, use_cudnn: bool = False, **kwargs):
        super().__init__(**kwargs)
        dim, wn = config.dim, config.weight_norm
        self.frame_size, self.upsample_ratio, self.dim = frame_size, upsample_ratio, dim
        self.q_levels, self.skip_conn = config.q_levels, config.skip_conn
        self.input_map = Linear(frame_size, dim, weight_norm=wn, name=f"{self.name}_frames")
        # With skip connections every layer after the first also sees the tier input.
        self.rnns = [Recurrent(config.rnn_type, dim if (i == 0 or not self.skip_conn) else 2 * dim,
                               dim, weight_norm=wn, learn_h0=config.learn_h0,
                               project_inputs_ahead=project_inputs_ahead, use_cudnn=use_cudnn,
                               name=f"{self.name}_rnn{i}")
                     for i in range(config.num_rnn_layers)]
        # ... and the tier output is the sum of one projection per layer.
        self.skip_maps = [Linear(dim, dim, use_bias=(i == 0), weight_norm=wn,
                                 name=f"{self.name}_skip{i}")
                          for i in range(config.num_rnn_layers)] if self.skip_conn else []
        self.upsample = Linear(dim, upsample_ratio * dim, weight_norm=wn,
                               name=f"{self.name}_upsample")
        self.built = True  # every weight is created above

    def initial_state(self, batch_size):
        return [rnn.initial_state(batch_size) for rnn in self.rnns]

    # What the incremental sampler (samplernn.sampler) reads of a tier, besides
    # its maps (input_map, rnns, skip_maps, upsample) and sizes: ``rnn_input``, the
    # one rule that differs between layers. It steps the same structure as ``call``
    # with frozen weights, and Sampler.teacher_forced_logits checks that the two agree.
    def rnn_input(self, layer: int, below, tier_input):
        """What layer ``layer`` reads: the layer below, plus the tier input if skipping."""
        if layer == 0 or not self.skip_conn:
            return below
        return tf.concat([below, tier_input], axis=-1)

    def linear_layers(self) -> list:
        """Every :class:`Linear` map of the tier, its RNNs' included."""
        return ([self.input_map] + [m for rnn in self.rnns for m in rnn.linear_layers()]
                + self.skip_maps + [self.upsample])

    def call(self, frames, conditioning, states):
        x = self.input_map(scale_samples(frames, self.q_levels))        # [B, T, dim]
        if conditioning is not None:
            x = x + conditioning
        below, outputs, new_states = x, [], []
        for i, rnn in enumerate(self.rnns):
            below, state = rnn(self.rnn_input(i, below, x), states[i])
            outputs.append(below)
            new_states.append(state)
        output = (tf.add_n([m(h) for m, h in zip(self.skip_maps, outputs)]) if self.skip_conn
                  else below)
        batch, steps = tf.shape(output)[0], tf.shape(output)[1]
        return (tf.reshape(self.upsample(output), [batch, steps * self.upsample_ratio, self.dim]),
                new_states)


class SampleMLP(keras.layers.Layer):
    """The sample-level tier.

    ``h = relu(sum_p E[x_p] W_p + conditioning)`` over the previous
    ``frame_size`` samples ``x_p`` (embedding ``E [q_levels, emb_size]``, first
    layer without bias), then two ReLU layers of ``dim`` and a linear map to
    ``q_levels`` logits. Because the first layer is linear in the embeddings,
    it is computed from per-position tables ``T_p = E W_p`` of shape
    ``[frame_size, q_levels, dim]``: ``frame_size`` gathers and a sum per
    sample instead of a ``frame_size * emb_size * dim`` matrix product.
    """

    def __init__(self, config: ModelConfig, **kwargs):
        super().__init__(**kwargs)
        dim, wn, q = config.dim, config.weight_norm, config.q_levels
        self.frame_size, self.emb_size, self.q_levels = (config.sample_frame_size,
                                                         config.emb_size, q)
        self.embedding = self.add_weight(shape=(q, config.emb_size), name="embedding",
                                         initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.first = Linear(self.frame_size * config.emb_size, dim, use_bias=False,
                            weight_norm=wn, initializer="he_uniform", name="sample_first")
        self.hidden = [Linear(dim, dim, weight_norm=wn, initializer="he_uniform",
                              name=f"sample_hidden{i}") for i in range(2)]
        self.output_map = Linear(dim, q, weight_norm=wn, name="sample_output")
        self.built = True  # every weight is created above

    def linear_layers(self) -> list:
        return [self.first, *self.hidden, self.output_map]

    def tables(self, dtype=None):
        """Per-position first-layer tables ``[frame_size, q_levels, dim]`` in ``dtype``
        (default: the compute dtype)."""
        return first_layer_tables(self.embedding, self.first.kernel(dtype), self.frame_size)

    def head(self, first_layer_sum, conditioning):
        """``[..., dim]`` (first layer, before ReLU) + conditioning -> logits ``[..., q]``."""
        h = tf.nn.relu(first_layer_sum + conditioning)
        for layer in self.hidden:
            h = tf.nn.relu(layer(h))
        return self.output_map(h)

    def call(self, inputs, conditioning):
        """``inputs [batch, top + S]`` classes, ``conditioning [batch, S, dim]``."""
        first = _first_layer_sum(tf.convert_to_tensor(self.embedding), self.first.kernel(),
                                 inputs, conditioning,
                                 frame_size=self.frame_size)
        return self.head(first, conditioning)


def first_layer_tables(embedding, kernel, frame_size: int):
    """``T_p = E W_p``: embedding ``[q_levels, emb_size]`` and first-layer kernel
    ``[frame_size * emb_size, dim]`` -> tables ``[frame_size, q_levels, dim]`` in the
    kernel's dtype."""
    kernel = tf.reshape(kernel, [frame_size, -1, kernel.shape[-1]])
    embedding = tf.cast(tf.convert_to_tensor(embedding), kernel.dtype)
    return tf.einsum("qe,fed->fqd", embedding, kernel)


def _first_layer_sum(embedding, kernel, inputs, conditioning, frame_size: int):
    """The sample level's first layer before its ReLU, without the conditioning:
    ``sum_p T_p[x_p]`` ``[batch, S, dim]`` (tables of :func:`first_layer_tables`) for
    ``inputs [batch, top + S]`` and ``conditioning [batch, S, dim]`` (read for its length).

    XLA-compiled (see :mod:`samplernn.compiling`): the tables, F gathers and their sum,
    forward and backward, are per-op overhead, about half as long compiled."""
    tables = first_layer_tables(embedding, kernel, frame_size)
    # Unstacked once: slicing tables[p] per position makes the backward pass
    # build a full-size gradient per position (this layer took twice as long at F = 32).
    per_position = tf.unstack(tables, num=frame_size)
    steps = tf.shape(conditioning)[1]
    top = tf.shape(inputs)[1] - steps
    # Position p of the window that precedes target j is inputs[:, top - F + j + p].
    starts = [top - frame_size + p for p in range(frame_size)]
    return tf.add_n([tf.gather(table, inputs[:, start:start + steps])
                     for table, start in zip(per_position, starts)])


_first_layer_sum = compiled(_first_layer_sum)   # frame_size: a Python int, traced as such


class SampleRNN(keras.Model):
    """The full model: frame tiers from the top down, then the sample-level MLP.

    ``project_inputs_ahead``, ``use_cudnn``: see :class:`samplernn.layers.Recurrent`
    (they choose how the RNNs run, not what they compute: the variables are the same).
    """

    def __init__(self, config: ModelConfig, project_inputs_ahead: bool = True,
                 use_cudnn: bool = False, **kwargs):
        super().__init__(name="samplernn", **kwargs)
        self.config = config
        sizes = config.frame_sizes
        # Tier k's output feeds tier k-1 (or, for k = 0, the sample level: F = 1).
        self.tiers = [FrameTier(config, sizes[k], sizes[k] // (sizes[k - 1] if k else 1),
                                project_inputs_ahead, use_cudnn, name=f"tier{k + 1}")
                      for k in reversed(range(len(sizes)))]
        self.sample_mlp = SampleMLP(config, name="sample_mlp")
        self.built = True  # every weight is created above

    def initial_states(self, batch_size):
        """The reset state of every tier: ``states[tier][layer]`` tuples."""
        return [tier.initial_state(batch_size) for tier in self.tiers]

    def call(self, inputs, states):
        """``inputs [batch, top + S]`` -> ``(logits [batch, S, q_levels], new states)``."""
        top = self.config.top_frame_size
        seq_len = tf.shape(inputs)[1] - top
        batch = tf.shape(inputs)[0]
        conditioning, new_states = None, []
        for tier, tier_states in zip(self.tiers, states):
            f = tier.frame_size
            frames = tf.reshape(inputs[:, top - f: top - f + seq_len], [batch, -1, f])
            conditioning, tier_new = tier(frames, conditioning, tier_states)
            new_states.append(tier_new)
        return self.sample_mlp(inputs, conditioning), new_states

    def linear_layers(self) -> list:
        """Every :class:`Linear` map of the model, tiers from the top down, then the
        sample level (each layer lists its own: a new map is listed where it is made)."""
        return [m for tier in self.tiers for m in tier.linear_layers()] + \
            self.sample_mlp.linear_layers()

    def sampler_weights(self) -> dict:
        """Every tensor the incremental sampler (:mod:`samplernn.sampler`) reads, in
        float32 whatever the dtype policy the model was built under:

        - ``{layer name: [input_dim + 1, units]}`` for every :class:`Linear` of
          :meth:`linear_layers`: the effective kernel with the bias as its last row;
        - ``"tables"``: the sample-level MLP's first-layer tables flattened to
          ``[frame_size * q_levels, dim]`` (row ``p * q_levels + class``).
        """
        weights = {}
        for layer in self.linear_layers():
            if layer.name in weights:
                raise RuntimeError(f"two Linear layers are named {layer.name}")
            weights[layer.name] = layer.kernel_with_bias()
        weights["tables"] = tf.reshape(self.sample_mlp.tables(tf.float32),
                                       [-1, self.config.dim])
        return weights

    def variables_by_path(self) -> dict:
        """Every variable under a unique, stable name (for checkpoints)."""
        named = {v.path: v for v in self.weights}
        if len(named) != len(self.weights):
            raise RuntimeError("two model variables share a path; layer names must be unique")
        return named


def build_model(config: ModelConfig, project_inputs_ahead: bool = True,
                use_cudnn: bool = False) -> SampleRNN:
    """A SampleRNN with all weights created (``use_cudnn``: see
    :func:`samplernn.devices.use_cudnn`)."""
    return SampleRNN(config, project_inputs_ahead, use_cudnn)


# ---------------------------------------------------------------------- losses
def _target_logits(logits, targets):
    """``logits [batch, S, q]`` at ``targets [batch, S]`` -> ``[batch, S]``."""
    return tf.gather(logits, targets, batch_dims=len(targets.shape))


def cross_entropy(logits, targets):
    """Mean negative log-likelihood in nats: ``[batch, S, q]``, ``[batch, S]`` -> scalar.

    Written as ``logsumexp(logits) - logits[target]``: the same value as
    ``tf.nn.sparse_softmax_cross_entropy_with_logits``, whose CPU kernel was slower
    in the training step than this XLA-compiled (:class:`samplernn.training.Trainer`
    compiles it; benchmarks/RESULTS.md, "The training step made faster")."""
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.reduce_logsumexp(logits, axis=-1) - _target_logits(logits, targets))


def accuracy(logits, targets):
    """Fraction of samples whose target is the most likely class: ``[batch, S, q]``,
    ``[batch, S]`` -> scalar in [0, 1].

    Where several classes share the largest logit (9% of samples under bfloat16,
    whose 8-bit mantissa makes ties common), only the first of them is the
    prediction, as with ``numpy.argmax``: a tie is not a hit for every class in it.
    """
    q_levels = tf.shape(logits)[-1]
    is_max = tf.equal(logits, tf.reduce_max(logits, axis=-1, keepdims=True))
    class_index = tf.range(q_levels, dtype=targets.dtype)
    first_max = tf.reduce_min(tf.where(is_max, class_index, tf.cast(q_levels, targets.dtype)),
                              axis=-1)
    return tf.reduce_mean(tf.cast(tf.equal(first_max, targets), tf.float32))


def nats_to_bits(nats):
    """Nats per sample -> bits per sample (the paper's unit)."""
    return nats / LN2

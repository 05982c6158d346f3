"""One frame tier, one frame: ``FrameTier.call`` for a single time step, with frozen
weights (:class:`samplernn.frozen_weights.FrozenWeights`) and the RNN states carried
explicitly.

The sampler reads a tier through its documented interface: ``frame_size``,
``upsample_ratio``, ``skip_conn``, ``dim``, ``q_levels``, its maps ``input_map``,
``rnns``, ``skip_maps``, ``upsample``, the rule ``rnn_input`` and each RNN's one-step
``Recurrent.step``.
"""

from __future__ import annotations

import tensorflow as tf

from samplernn.model import scale_samples


def rnn_step(weights, rnn, inputs, state):
    """One time step of ``rnn``: ``inputs [B, in]`` -> (output ``[B, units]``, new state)."""
    state = rnn.step(weights.linear(rnn.input_map.name, inputs), state,
                     lambda h: weights.linear(rnn.recurrent_map.name, h))
    return state[0], state


def tier_step(weights, tier, frame, conditioning, tier_states):
    """``frame [B, frame_size]`` int32 classes, ``conditioning [B, dim]`` from the tier
    above (None for the top tier), the tier's RNN states -> (``[B, upsample_ratio, dim]``
    conditioning for the tier below, new states)."""
    x = weights.linear(tier.input_map.name, scale_samples(frame, tier.q_levels))   # [B, dim]
    if conditioning is not None:
        x = x + conditioning
    below, outputs, new_states = x, [], []
    for i, rnn in enumerate(tier.rnns):
        below, state = rnn_step(weights, rnn, tier.rnn_input(i, below, x), tier_states[i])
        outputs.append(below)
        new_states.append(state)
    output = (tf.add_n([weights.linear(m.name, h) for m, h in zip(tier.skip_maps, outputs)])
              if tier.skip_conn else below)                                      # [B, dim]
    upsampled = tf.reshape(weights.linear(tier.upsample.name, output),
                           [-1, tier.upsample_ratio, tier.dim])
    return upsampled, new_states

"""Top frames, one after another: the frame tiers descend from the top tier to the
sample level once per top frame, in a compiled loop that makes many frames per call.

Each frame tier takes one RNN step per frame (:func:`samplernn.tier_step.tier_step`),
the sample level runs once per sample (:class:`samplernn.sample_level.SampleLevel`).
Nothing here runs Python per sample or per frame once compiled; states and history
carry from call to call. A warm-up over known frames (a seed) runs the tiers only.
"""

from __future__ import annotations

import tensorflow as tf

from samplernn.tier_step import tier_step


class FrameLoop:
    """Frames of ``model`` over frozen ``weights`` and a ``sample_level``; at most
    ``max_frames_per_call`` top frames per call of :meth:`frames`."""

    def __init__(self, weights, model, sample_level, max_frames_per_call: int):
        self.weights, self.tiers, self.sample_level = weights, model.tiers, sample_level
        self.top = model.config.top_frame_size
        self.max_frames_per_call = max_frames_per_call

    def frame(self, history, states, temperatures, seed, first_index, teacher=None,
              truncating: bool = False):
        """Generate (or teacher-force) one top frame of ``top`` samples.

        Args:
            history: ``[B, top]`` int32, the last ``top`` samples.
            states: nested RNN states, as ``model.initial_states``.
            temperatures: ``[B]`` float32. seed: int64 scalar.
            first_index: int64 scalar, index of the frame's first sample.
            teacher: ``[B, top]`` int32 or None.
            truncating: whether the draws read the sample level's truncation (a
                Python bool: each value is its own trace).
        Returns:
            ``(samples [B, top], new states, logits [B, top, q] or None)``.
        """
        states = [list(s) for s in states]
        logits = []

        def descend(k, conditioning, history, offset):
            frame = history[:, self.top - self.tiers[k].frame_size:]
            upsampled, states[k] = tier_step(self.weights, self.tiers[k], frame, conditioning,
                                             states[k])
            if k + 1 == len(self.tiers):          # the lowest frame tier
                history, block_logits = self.sample_level.block(
                    upsampled, history, temperatures, seed, first_index, teacher, offset,
                    truncating)
                logits.append(block_logits)
                return history
            step = self.tiers[k + 1].frame_size
            for j in range(self.tiers[k].upsample_ratio):
                history = descend(k + 1, upsampled[:, j], history, offset + j * step)
            return history

        history = descend(0, None, history, 0)
        return history, states, (tf.concat(logits, axis=1) if teacher is not None else None)

    def warmup_frame(self, history, states, teacher):
        """Advance the frame tiers over one known top frame ``teacher [B, top]`` that
        follows ``history [B, top]`` (no sample level): the new states."""
        states = [list(s) for s in states]

        def descend(k, conditioning, window, offset):
            size = self.tiers[k].frame_size
            frame = window[:, offset + self.top - size: offset + self.top]
            upsampled, states[k] = tier_step(self.weights, self.tiers[k], frame, conditioning,
                                             states[k])
            if k + 1 < len(self.tiers):
                step = self.tiers[k + 1].frame_size
                for j in range(self.tiers[k].upsample_ratio):
                    descend(k + 1, upsampled[:, j], window, offset + j * step)

        descend(0, None, tf.concat([history, teacher], axis=1), 0)
        return states

    def frames(self, history, states, temperatures, seed, first_index, num_frames,
               truncating: bool = False):
        """Generate ``num_frames`` top frames in one loop (one compiled call).

        The output has room for :attr:`max_frames_per_call` frames whatever
        ``num_frames`` is (at most that), so that XLA compiles the loop once:
        a size that depended on ``num_frames`` would be recompiled for every
        new value.

        Args: as :meth:`frame`; ``num_frames`` an int32 scalar.
        Returns:
            ``(frames [max_frames_per_call, B, top] int32, history [B, top], states)``,
            of which the first ``num_frames`` frames were generated.
        """
        batch = tf.shape(history)[0]
        produced = tf.zeros([self.max_frames_per_call, batch, self.top], tf.int32)

        def body(i, history, states, produced):
            start = first_index + tf.cast(i, tf.int64) * self.top
            history, states, _ = self.frame(history, states, temperatures, seed, start,
                                            truncating=truncating)
            produced = tf.tensor_scatter_nd_update(produced, [[i]], history[None])
            return i + 1, history, states, produced

        _, history, states, produced = tf.while_loop(
            lambda i, *_: i < num_frames, body, (tf.constant(0), history, states, produced))
        return produced, history, states

    def warm_up(self, history, states, frames):
        """Run the frame tiers over known frames ``[B, n, top]`` (a seed) that follow
        ``history``: the new ``(history, states)``."""

        def body(t, history, states):
            teacher = frames[:, t]
            return t + 1, teacher, self.warmup_frame(history, states, teacher)

        _, history, states = tf.while_loop(lambda t, *_: t < tf.shape(frames)[1], body,
                                           (tf.constant(0), history, states))
        return history, states

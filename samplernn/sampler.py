"""The fast incremental sampler: a trained SampleRNN run one step at a time.

Tensors in, tensors out; nothing here knows about files (see
:mod:`samplernn.generation` for WAV output, progress and plots).

Each frame tier takes one RNN step per frame (its state carried
explicitly), the sample-level MLP runs once per sample. One compiled call
(XLA) produces many top-tier frames (a loop over :meth:`Sampler._frame`, each
``top_frame_size`` samples) for every sequence in the batch; no Python runs
per sample or per frame, and states and history carry from call to call.

Precision (``precision="bfloat16"``): the weights, lookup tables included, are
stored in bfloat16, half the bytes to read per step, except the output
layer's, which stay float32 (see :mod:`samplernn.precision`, rule 5: the
logits are float32 sums). A bfloat16 product takes its input rounded to
bfloat16 and returns a bfloat16 result, widened to float32 at once;
everything between products (gates, states, sums, sampling) is float32.
The weights come from :meth:`samplernn.model.SampleRNN.sampler_weights`,
in float32 whatever policy the model was trained under.

What is computed once per checkpoint (``Sampler.load_weights``):
- weight-normalized kernels, so no norm is taken per step;
- the sample-level MLP's first-layer tables ``[frame_size, q_levels, dim]``,
  so its first layer is ``frame_size`` gathers and a sum per sample.

The sampler reads a model through one documented interface: its config,
``tiers`` (each with ``frame_size``, ``upsample_ratio``, ``skip_conn``, its maps
``input_map``, ``rnns``, ``skip_maps``, ``upsample`` and the rule
``rnn_input``), each RNN's one-step ``Recurrent.step``, the sample level's
``hidden`` and ``output_map``, and ``SampleRNN.sampler_weights`` (every
:class:`samplernn.layers.Linear` of ``linear_layers``, frozen). It steps the
structure of ``FrameTier.call`` one frame at a time with those frozen weights;
``Sampler.teacher_forced_logits`` checks that the sampler reproduces the
training model's logits.

Sampling is Gumbel-max with a per-sequence temperature:
``argmax(logits / T + Gumbel noise)``, i.e. a draw from ``softmax(logits / T)``,
with stateless random numbers keyed on ``(random_seed, sample index)``, so a
given seed always gives the same audio.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from samplernn import quantization
from samplernn.compiling import compiled
from samplernn.errors import UserError
from samplernn.generation_files import expand_temperatures
from samplernn.model import scale_samples
from samplernn.precision import GENERATION_PRECISIONS

_TINY = 1e-20  # keeps log(-log(u)) finite in the Gumbel noise
PRECISIONS = {name: tf.as_dtype(name) for name in GENERATION_PRECISIONS}  # stored weights
CALL_SECONDS = 0.2             # wall time aimed at per compiled generation call
MAX_CALL_AUDIO_SECONDS = 1.0   # audio per call at most


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


class Sampler:
    """Generates audio from a :class:`samplernn.model.SampleRNN`.

    The weights are copied into the sampler by :meth:`load_weights` (called
    on construction); call it again after training further, without
    recompiling.
    """

    def __init__(self, model, jit_compile: bool = True, precision: str = "float32"):
        if precision not in PRECISIONS:
            raise UserError(f"unknown --precision {precision!r}; choose one of "
                            f"{', '.join(PRECISIONS)}")
        self.model, self.config = model, model.config
        self.precision, self.weight_dtype = precision, PRECISIONS[precision]
        c = self.config
        self.top = c.top_frame_size
        self.max_frames_per_call = max(1, int(MAX_CALL_AUDIO_SECONDS * c.sample_rate) // self.top)
        self._weights = self._frozen(model)
        self._generate = compiled(self._frame, jit_compile)
        self._generate_frames = compiled(self.frames, jit_compile)
        self._warm_up = compiled(self.warm_up, jit_compile)

    # ---------------------------------------------------------------- weights
    def _stored_dtype(self, name: str):
        """The dtype weight ``name`` is stored in: the output layer's stays float32."""
        return tf.float32 if name == self.model.sample_mlp.output_map.name else self.weight_dtype

    def _frozen(self, model):
        """Every tensor the sampler needs, as variables: ``{name: tf.Variable}``."""
        return {name: tf.Variable(tf.cast(value, self._stored_dtype(name)), trainable=False,
                                  name=name.replace("/", "_"))
                for name, value in model.sampler_weights().items()}

    @property
    def weight_variables(self) -> dict:
        """``{name: tf.Variable}``: every tensor the compiled functions read."""
        return self._weights

    def load_weights(self, model=None) -> None:
        """Copy the (current) model weights into the sampler."""
        for name, value in (model or self.model).sampler_weights().items():
            self._weights[name].assign(tf.cast(value, self._stored_dtype(name)))

    def _linear(self, name, x):
        """``x [..., in] -> x W + b [..., units]`` as one 2-D product: the bias is the
        kernel's last row.

        (XLA on CPU fuses a separate bias add into the product and then runs
        it on one core; a plain product uses them all.)
        """
        weights = self._weights[name]
        rows = tf.cast(tf.reshape(x, [-1, x.shape[-1]]), weights.dtype)
        rows = tf.concat([rows, tf.ones([tf.shape(rows)[0], 1], weights.dtype)], axis=-1)
        out_shape = tf.concat([tf.shape(x)[:-1], tf.shape(weights)[-1:]], 0)
        return tf.reshape(tf.cast(tf.matmul(rows, weights), tf.float32), out_shape)

    # ------------------------------------------------------- one tier, one step
    def _rnn_step(self, rnn, inputs, state):
        """One time step of ``rnn``: ``inputs [B, in]`` -> output ``[B, units]``, state."""
        state = rnn.step(self._linear(rnn.input_map.name, inputs), state,
                         lambda h: self._linear(rnn.recurrent_map.name, h))
        return state[0], state

    def _tier_step(self, k, frame, conditioning, tier_states):
        """Tier ``k`` (0 = top): ``frame [B, F]`` classes -> ``[B, ratio, dim]`` and new states.

        ``FrameTier.call`` for one frame, with the frozen weights.
        """
        tier = self.model.tiers[k]
        x = self._linear(tier.input_map.name, scale_samples(frame, tier.q_levels))   # [B, dim]
        if conditioning is not None:
            x = x + conditioning
        below, outputs, new_states = x, [], []
        for i, rnn in enumerate(tier.rnns):
            below, state = self._rnn_step(rnn, tier.rnn_input(i, below, x), tier_states[i])
            outputs.append(below)
            new_states.append(state)
        output = (tf.add_n([self._linear(m.name, h) for m, h in zip(tier.skip_maps, outputs)])
                  if tier.skip_conn else below)                                  # [B, dim]
        upsampled = tf.reshape(self._linear(tier.upsample.name, output),
                               [-1, tier.upsample_ratio, tier.dim])
        return upsampled, new_states

    # ----------------------------------------------------------- sample level
    # One sample of the MLP in three pieces (benchmarks/sampler_profile.py times each by
    # replacing it): the first layer's table look-ups, the head, the draw.
    def _first_layer(self, history):
        """``history [B, top]`` -> the first layer's sum over the last ``F0`` samples
        ``[B, dim]``: one row of the tables per position."""
        f0, q = self.config.sample_frame_size, self.config.q_levels
        previous = history[:, self.top - f0:] + tf.range(f0, dtype=tf.int32) * q   # [B, F0]
        rows = tf.cast(tf.gather(self._weights["tables"], previous), tf.float32)  # [B, F0, dim]
        return tf.reduce_sum(rows, axis=1)

    def _head(self, first, conditioning):
        """First-layer sum and conditioning ``[B, dim]`` -> logits ``[B, q]`` (float32)."""
        h = tf.nn.relu(first + conditioning)
        for hidden in self.model.sample_mlp.hidden:
            h = tf.nn.relu(self._linear(hidden.name, h))
        return self._linear(self.model.sample_mlp.output_map.name, h)

    def _choose(self, logits, temperatures, seed, index):
        """The class drawn for sample ``index`` (int64): ``[B]`` int32."""
        return draw(logits, temperatures, tf.stack([seed, index]))

    def _sample_block(self, conditioning, history, temperatures, seed, first_index,
                      teacher, offset):
        """Run the MLP over one lowest-tier frame: ``conditioning [B, F0, dim]``.

        Returns the updated ``history [B, top]`` and the block's logits ``[B, F0, q]``.
        ``teacher`` (``[B, top]`` or None) replaces the sampled values.
        """
        f0, q = self.config.sample_frame_size, self.config.q_levels

        def body(j, history, logits_array):
            logits = self._head(self._first_layer(history), conditioning[:, j])    # [B, q]
            if teacher is not None:
                chosen = teacher[:, offset + j]
                logits_array = logits_array.write(j, logits)
            else:
                chosen = self._choose(logits, temperatures, seed,
                                      first_index + offset + tf.cast(j, tf.int64))
            history = tf.concat([history[:, 1:], chosen[:, None]], axis=1)
            return j + 1, history, logits_array

        logits_array = tf.TensorArray(tf.float32, size=f0, element_shape=[None, q])
        _, history, logits_array = tf.while_loop(
            lambda j, *_: j < f0, body, (tf.constant(0), history, logits_array))
        if teacher is None:
            return history, None
        return history, tf.transpose(logits_array.stack(), [1, 0, 2])

    # -------------------------------------------------------- one top frame
    def _frame(self, history, states, temperatures, seed, first_index, teacher=None):
        """Generate (or teacher-force) one top frame of ``top`` samples.

        Args:
            history: ``[B, top]`` int32, the last ``top`` samples.
            states: nested RNN states, as ``model.initial_states``.
            temperatures: ``[B]`` float32. seed: int64 scalar.
            first_index: int64 scalar, index of the frame's first sample.
            teacher: ``[B, top]`` int32 or None.
        Returns:
            ``(samples [B, top], new states, logits [B, top, q])``.
        """
        states = [list(s) for s in states]
        logits = []

        def descend(k, conditioning, history, offset):
            frame = history[:, self.top - self.model.tiers[k].frame_size:]
            upsampled, states[k] = self._tier_step(k, frame, conditioning, states[k])
            if k + 1 == len(self.model.tiers):          # the lowest frame tier
                history, block_logits = self._sample_block(
                    upsampled, history, temperatures, seed, first_index, teacher, offset)
                logits.append(block_logits)
                return history
            step = self.model.tiers[k + 1].frame_size
            for j in range(self.model.tiers[k].upsample_ratio):
                history = descend(k + 1, upsampled[:, j], history, offset + j * step)
            return history

        history = descend(0, None, history, 0)
        return history, states, (tf.concat(logits, axis=1) if teacher is not None else None)

    def _warmup_frame(self, history, states, teacher):
        """Advance the frame tiers over one known top frame (no MLP): new states."""
        states = [list(s) for s in states]

        def descend(k, conditioning, window, offset):
            size = self.model.tiers[k].frame_size
            frame = window[:, offset + self.top - size: offset + self.top]
            upsampled, states[k] = self._tier_step(k, frame, conditioning, states[k])
            if k + 1 < len(self.model.tiers):
                step = self.model.tiers[k + 1].frame_size
                for j in range(self.model.tiers[k].upsample_ratio):
                    descend(k + 1, upsampled[:, j], window, offset + j * step)

        descend(0, None, tf.concat([history, teacher], axis=1), 0)
        return states

    # --------------------------------------------------- many frames per call
    def frames(self, history, states, temperatures, seed, first_index, num_frames):
        """Generate ``num_frames`` top frames in one loop (one compiled call).

        The output has room for :attr:`max_frames_per_call` frames whatever
        ``num_frames`` is (at most that), so that XLA compiles the loop once:
        a size that depended on ``num_frames`` would be recompiled for every
        new value.

        Args: as :meth:`_frame`; ``num_frames`` an int32 scalar.
        Returns:
            ``(frames [max_frames_per_call, B, top] int32, history [B, top], states)``,
            of which the first ``num_frames`` frames were generated.
        """
        batch = tf.shape(history)[0]
        produced = tf.zeros([self.max_frames_per_call, batch, self.top], tf.int32)

        def body(i, history, states, produced):
            start = first_index + tf.cast(i, tf.int64) * self.top
            history, states, _ = self._frame(history, states, temperatures, seed, start)
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
            return t + 1, teacher, self._warmup_frame(history, states, teacher)

        _, history, states = tf.while_loop(lambda t, *_: t < tf.shape(frames)[1], body,
                                           (tf.constant(0), history, states))
        return history, states

    # ------------------------------------------------------------- public API
    def initial(self, num_seqs: int, seed_classes: np.ndarray = None):
        """Starting ``(history [B, top], states)``: silence, or warmed up on a seed.

        ``seed_classes [n]`` (quantized, ``n >= top``) is cut to a whole number
        of top frames (dropping its start); the first frame becomes the
        history and the frame tiers then run over every later frame.
        """
        states = self.model.initial_states(num_seqs)
        if seed_classes is None:
            silence = quantization.silence_class(self.config.q_type, self.config.q_levels)
            return tf.fill([num_seqs, self.top], silence), states
        usable = len(seed_classes) // self.top * self.top
        frames = np.asarray(seed_classes[len(seed_classes) - usable:], np.int32)
        frames = np.tile(frames.reshape(1, -1, self.top), [num_seqs, 1, 1])
        return self._warm_up(tf.constant(frames[:, 0]), states, tf.constant(frames[:, 1:]))

    def generate(self, num_seqs: int, num_samples, temperatures, random_seed: int = 0,
                 seed_classes: np.ndarray = None):
        """Yield blocks of generated classes ``[num_seqs, n]`` until ``num_samples``
        samples per sequence have been produced; ``num_samples=None`` never stops
        (memory stays flat: only the state is kept).

        Each block is one compiled call of many top frames. The first call makes
        one frame, so that the first audio comes as soon as compilation is done;
        later calls are sized from the measured speed to take about
        :data:`CALL_SECONDS` each (at most :data:`MAX_CALL_AUDIO_SECONDS` of
        audio), so that progress and Ctrl-C stay responsive while the per-call
        overhead all but disappears.
        """
        temperatures = tf.constant(expand_temperatures(temperatures, num_seqs), tf.float32)
        history, states = self.initial(num_seqs, seed_classes)
        seed = tf.constant(random_seed, tf.int64)
        frames_per_call, done, first_call = 1, 0, True
        while num_samples is None or done < num_samples:
            frames = frames_per_call
            if num_samples is not None:
                frames = min(frames, -(-(num_samples - done) // self.top))
            started = time.perf_counter()
            produced, history, states = self._generate_frames(
                history, states, temperatures, seed, tf.constant(done, tf.int64),
                tf.constant(frames, tf.int32))
            block = np.transpose(produced.numpy()[:frames], [1, 0, 2]).reshape(num_seqs, -1)
            seconds = time.perf_counter() - started
            if not first_call:   # the first call's time is mostly compilation
                frames_per_call = int(np.clip(frames * CALL_SECONDS / max(seconds, 1e-6),
                                              1, self.max_frames_per_call))
            first_call = False
            if num_samples is not None:
                block = block[:, : num_samples - done]
            done += block.shape[1]
            yield block

    def teacher_forced(self, inputs):
        """Logits for ``inputs [B, top + n * top]`` fed as if generated: yields one
        ``[B, top, q]`` tensor per top frame.

        Starts from the model's initial state, exactly like a training window
        after a reset, so the logits must match ``model(inputs, initial_states)``.
        """
        inputs = tf.constant(inputs, tf.int32)
        batch = int(inputs.shape[0])
        history, states = inputs[:, :self.top], self.model.initial_states(batch)
        ones, zero = tf.ones([batch]), tf.constant(0, tf.int64)
        for start in range(self.top, int(inputs.shape[1]) - self.top + 1, self.top):
            teacher = inputs[:, start:start + self.top]
            history, states, frame_logits = self._generate(history, states, ones, zero, zero,
                                                           teacher)
            yield frame_logits

    def teacher_forced_logits(self, inputs: np.ndarray) -> np.ndarray:
        """All of :meth:`teacher_forced` as one array ``[B, n * top, q]``."""
        return np.concatenate([l.numpy() for l in self.teacher_forced(inputs)], axis=1)


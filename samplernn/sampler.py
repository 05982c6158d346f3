"""The fast incremental sampler: a trained SampleRNN run one step at a time.

Tensors in, tensors out; nothing here knows about files (see
:mod:`samplernn.generation` for WAV output, progress and plots). A reader can take
it in four parts, each in its own module:

- :mod:`samplernn.frozen_weights`: the model's weights, computed once per checkpoint
  (weight norms applied, biases folded in, the first layer as tables), in float32 or
  bfloat16;
- :mod:`samplernn.tier_step`: one frame tier's step for one frame;
- :mod:`samplernn.sample_level`: the sample-level MLP over one lowest frame, and the
  Gumbel-max draw;
- :mod:`samplernn.frame_loop`: top frames one after another in a compiled loop, and
  the warm-up over a seed.

:class:`Sampler` puts them together and is what generate.py, export and training's
audio use: :meth:`Sampler.generate` yields blocks of generated samples, sizing each
compiled call from the measured speed; :meth:`Sampler.teacher_forced_logits` checks
that the sampler reproduces the training model's logits.

The sampler reads a model through one documented interface: its config, ``tiers``
(see :mod:`samplernn.tier_step`), the sample level's ``hidden`` and ``output_map``,
``initial_states`` and ``SampleRNN.sampler_weights`` (every
:class:`samplernn.layers.Linear` of ``linear_layers``, frozen).
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from samplernn import quantization
from samplernn.compiling import compiled
from samplernn.frame_loop import FrameLoop
from samplernn.frozen_weights import FrozenWeights
from samplernn.generation_files import expand_temperatures
from samplernn.sample_level import SampleLevel

CALL_SECONDS = 0.2             # wall time aimed at per compiled generation call
MAX_CALL_AUDIO_SECONDS = 1.0   # audio per call at most


class Sampler:
    """Generates audio from a :class:`samplernn.model.SampleRNN`.

    The weights are copied into the sampler on construction (``precision``: how they
    are stored); :meth:`load_weights` copies newer ones without recompiling.
    ``sample_level`` is the class of the sample level (a benchmark replaces parts of it).
    """

    def __init__(self, model, jit_compile: bool = True, precision: str = "float32",
                 sample_level=SampleLevel):
        self.model, self.config = model, model.config
        self.top = self.config.top_frame_size
        self.weights = FrozenWeights(model, precision)
        self.precision = precision
        self.max_frames_per_call = max(
            1, int(MAX_CALL_AUDIO_SECONDS * self.config.sample_rate) // self.top)
        self.loop = FrameLoop(self.weights, model, sample_level(self.weights, model, self.top),
                              self.max_frames_per_call)
        self._generate = compiled(self.loop.frame, jit_compile)
        self._generate_frames = compiled(self.loop.frames, jit_compile)
        self._warm_up = compiled(self.loop.warm_up, jit_compile)

    @property
    def weight_variables(self) -> dict:
        """``{name: tf.Variable}``: every tensor the compiled functions read."""
        return self.weights.variables

    def load_weights(self, model=None) -> None:
        """Copy the (current) model weights into the sampler."""
        self.weights.load(model)

    # ------------------------------------------------------------- public API
    def initial(self, num_seqs: int, seed_classes: np.ndarray = None):
        """Starting ``(history [B, top], states)``: silence, or warmed up on a seed.

        ``seed_classes`` (quantized) is ``[n]``, the same seed for every sequence, or
        ``[k, n]``, seed ``i % k`` for sequence ``i`` (``n >= top``). It is cut to a
        whole number of top frames (dropping its start); the first frame becomes the
        history and the frame tiers then run over every later frame.
        """
        states = self.model.initial_states(num_seqs)
        if seed_classes is None:
            silence = quantization.silence_class(self.config.q_type, self.config.q_levels)
            return tf.fill([num_seqs, self.top], silence), states
        seeds = np.atleast_2d(np.asarray(seed_classes, np.int32))
        usable = seeds.shape[1] // self.top * self.top
        seeds = seeds[np.arange(num_seqs) % len(seeds), seeds.shape[1] - usable:]
        frames = seeds.reshape(num_seqs, -1, self.top)
        return self._warm_up(tf.constant(frames[:, 0]), states, tf.constant(frames[:, 1:]))

    def generate(self, num_seqs: int, num_samples, temperatures, random_seed: int = 0,
                 seed_classes: np.ndarray = None, top_p: float = 1.0, min_p: float = 0.0):
        """Yield blocks of generated classes ``[num_seqs, n]`` until ``num_samples``
        samples per sequence have been produced; ``num_samples=None`` never stops
        (memory stays flat: only the state is kept). ``top_p`` and ``min_p`` cut the
        tail of every draw (:func:`samplernn.sample_level.truncate`).

        Each block is one compiled call of many top frames. The first call makes
        one frame, so that the first audio comes as soon as compilation is done;
        later calls are sized from the measured speed to take about
        :data:`CALL_SECONDS` each (at most :data:`MAX_CALL_AUDIO_SECONDS` of
        audio), so that progress and Ctrl-C stay responsive while the per-call
        overhead all but disappears.
        """
        temperatures = tf.constant(expand_temperatures(temperatures, num_seqs), tf.float32)
        self.loop.sample_level.set_truncation(top_p, min_p)
        truncating = top_p < 1.0 or min_p > 0.0   # a second trace only when a cut is asked
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
                tf.constant(frames, tf.int32), truncating)
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
        return np.concatenate([logits.numpy() for logits in self.teacher_forced(inputs)],
                              axis=1)


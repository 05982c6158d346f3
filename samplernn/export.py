"""A trained sampler as a TensorFlow SavedModel that runs without this package.

The SavedModel holds the sampler's weights (weight-normalized kernels and the
sample-level tables, as :class:`samplernn.sampler.Sampler` uses them), the
generation state and three functions, also exported as signatures::

    reset(batch_size: int32 [], seed: int64 [])  -> {"batch_size": int32 []}
        Initial state for ``batch_size`` sequences (learned h0, silent
        history); seeds the sampling.
    generate(num_samples: int32 [], temperature: float32 [batch_size])
            -> {"audio": float32 [batch_size, num_samples]}
        Audio in [-1, 1] continuing from where the previous call stopped. Two
        calls of n samples give the same audio as one call of 2n.
    truncate(top_p: float32 [], min_p: float32 []) -> {"top_p", "min_p"}
        Cuts the tail of the following draws (nucleus and min-p sampling,
        :func:`samplernn.sample_level.truncate`); exported with the run's
        recorded values (``generate.py``'s defaults), 1 and 0 keep every value.
    prime(audio: float32 [batch, n]) -> {"samples_used": int32 []}
        Starts ``batch`` sequences afresh from the learned initial state and
        warms them up on seed audio (at the model's rate), exactly as
        ``generate.py --seed`` does: the seed is cut to whole top frames
        (dropping its start), n must be at least one top frame. The batch
        size is the audio's (whatever ``reset`` set); the random seed stays
        the one ``reset`` set.

and, readable with TensorFlow alone: ``sample_rate`` (int32 variable),
``config_json`` and ``package_version`` (string variables), also written as
``samplernn.json`` beside the model. Random numbers are keyed on the seed and
the sample index exactly as in ``generate.py``, so the same checkpoint, seed
and temperature give the same audio.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import tensorflow as tf

from samplernn import quantization
from samplernn.compiling import compiled
from samplernn.fileio import check_new_directory, current_umask, temporary_prefix, write_error
from samplernn.sampler import Sampler

METADATA_FILE = "samplernn.json"


class ExportedSampler(tf.Module):
    """The sampler of one model with its state held in variables (see module docs)."""

    def __init__(self, sampler: Sampler, version: str):
        super().__init__(name="samplernn_sampler")
        config = sampler.config
        self._sampler, self._top = sampler, config.top_frame_size
        self._q_type, self._q_levels = config.q_type, config.q_levels
        self.weights = dict(sampler.weight_variables)   # tracked: saved with the model
        self.sample_rate = tf.Variable(config.sample_rate, dtype=tf.int32, trainable=False)
        self.config_json = tf.Variable(json.dumps(config.to_dict()), trainable=False)
        self.package_version = tf.Variable(version, trainable=False)
        # The reset state of one sequence, and the current state of the batch.
        initial = sampler.model.initial_states(1)
        self.initial_rows = tf.nest.map_structure(
            lambda s: tf.Variable(s[0], trainable=False), initial)
        self.states = tf.nest.map_structure(
            lambda s: tf.Variable(tf.zeros([0, s.shape[-1]]), shape=[None, s.shape[-1]],
                                  trainable=False), initial)
        self.history = tf.Variable(tf.zeros([0, self._top], tf.int32), shape=[None, self._top],
                                   trainable=False)
        # Generated but not yet returned: generation runs in whole top frames.
        self.pending = tf.Variable(tf.zeros([0, 0], tf.int32), shape=[None, None],
                                   trainable=False)
        self.position = tf.Variable(0, dtype=tf.int64, trainable=False)  # next frame's index
        self.seed = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.truncation = sampler.loop.sample_level.truncation   # (top_p, min_p), tracked
        self._frames = compiled(sampler.loop.frames)
        self._warm_up = compiled(sampler.loop.warm_up)

    def _initial_states(self, batch_size):
        """The learned initial state (h0) of ``batch_size`` sequences."""
        return tf.nest.map_structure(lambda row: tf.tile(row[None], [batch_size, 1]),
                                     self.initial_rows)

    def _set_state(self, history, states) -> None:
        self.history.assign(history)
        tf.nest.map_structure(lambda variable, value: variable.assign(value), self.states,
                              states)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int64)],
                 autograph=False)
    def reset(self, batch_size, seed):
        silence = quantization.silence_class(self._q_type, self._q_levels)
        self._set_state(tf.fill([batch_size, self._top], silence),
                        self._initial_states(batch_size))
        self.pending.assign(tf.zeros([batch_size, 0], tf.int32))
        self.position.assign(0)
        self.seed.assign(seed)
        return {"batch_size": batch_size}

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([None], tf.float32)], autograph=False)
    def generate(self, num_samples, temperature):
        tf.debugging.assert_equal(
            tf.shape(temperature)[0], tf.shape(self.history)[0],
            "generate() needs one temperature per sequence: as many as the batch size "
            "given to reset() (or the rows of the audio given to prime())")
        needed = tf.maximum(num_samples - tf.shape(self.pending)[1], 0)
        num_frames = (needed + self._top - 1) // self._top
        per_call = self._sampler.max_frames_per_call
        # Chunks of at most per_call frames, each [samples, batch] (time first, to concat).
        chunks = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False,
                                element_shape=tf.TensorShape([None, None]))

        def body(done, history, states, chunks):
            frames = tf.minimum(num_frames - done, per_call)
            start = self.position + tf.cast(done * self._top, tf.int64)
            produced, history, states = self._frames(history, states, temperature, self.seed,
                                                     start, frames, True)   # truncate() applies
            # [frames, batch, top] -> [frames, top, batch] -> [frames * top, batch]
            samples = tf.reshape(tf.transpose(produced[:frames], [0, 2, 1]),
                                 [-1, tf.shape(history)[0]])
            return done + frames, history, states, chunks.write(chunks.size(), samples)

        states = tf.nest.map_structure(tf.convert_to_tensor, self.states)
        _, history, states, chunks = tf.while_loop(
            lambda done, *_: done < num_frames, body,
            (tf.constant(0), tf.convert_to_tensor(self.history), states, chunks))
        self._set_state(history, states)
        self.position.assign_add(tf.cast(num_frames * self._top, tf.int64))
        batch = tf.shape(self.history)[0]
        new = tf.cond(num_frames > 0, lambda: tf.transpose(chunks.concat()),
                      lambda: tf.zeros([batch, 0], tf.int32))
        generated = tf.concat([self.pending, new], axis=1)
        self.pending.assign(generated[:, num_samples:])
        audio = quantization.dequantize_tf(generated[:, :num_samples], self._q_type,
                                           self._q_levels)
        return {"audio": audio}

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.float32)],
                 autograph=False)
    def truncate(self, top_p, min_p):
        tf.debugging.assert_positive(top_p, "truncate() needs 0 < top_p <= 1")
        tf.debugging.assert_less_equal(top_p, 1.0, "truncate() needs 0 < top_p <= 1")
        tf.debugging.assert_non_negative(min_p, "truncate() needs 0 <= min_p < 1")
        tf.debugging.assert_less(min_p, 1.0, "truncate() needs 0 <= min_p < 1")
        self.truncation.assign(tf.stack([top_p, min_p]))
        return {"top_p": top_p, "min_p": min_p}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)], autograph=False)
    def prime(self, audio):
        usable = tf.shape(audio)[1] // self._top * self._top
        tf.debugging.assert_positive(usable, "prime() needs at least one top frame of audio")
        classes = quantization.quantize_tf(audio[:, tf.shape(audio)[1] - usable:],
                                           self._q_type, self._q_levels)
        frames = tf.reshape(classes, [tf.shape(audio)[0], -1, self._top])
        states = self._initial_states(tf.shape(audio)[0])   # from h0, as generate.py
        history, states = self._warm_up(frames[:, 0], states, frames[:, 1:])
        self._set_state(history, states)
        self.pending.assign(tf.zeros([tf.shape(audio)[0], 0], tf.int32))
        self.position.assign(0)
        return {"samples_used": usable}


def export(sampler: Sampler, output_dir: str, version: str, top_p: float = 1.0,
           min_p: float = 0.0) -> str:
    """Write the SavedModel of ``sampler`` to ``output_dir`` (which must not exist, or
    be empty), its draws cut by ``top_p`` and ``min_p`` until ``truncate()`` says
    otherwise; it appears there only once complete. Returns ``output_dir``."""
    check_new_directory(output_dir, "--output_dir")
    sampler.loop.sample_level.set_truncation(top_p, min_p)
    module = ExportedSampler(sampler, version)
    module.reset(tf.constant(1), tf.constant(0, tf.int64))   # give the state a shape
    parent = os.path.dirname(os.path.abspath(output_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=temporary_prefix(), dir=parent)
    try:
        tf.saved_model.save(module, staging, signatures={
            "reset": module.reset, "generate": module.generate, "prime": module.prime,
            "truncate": module.truncate})
        metadata = {"sample_rate": sampler.config.sample_rate,
                    "config": sampler.config.to_dict(), "package_version": version}
        with open(os.path.join(staging, METADATA_FILE), "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=2)
        os.chmod(staging, 0o777 & ~current_umask())
        if os.path.isdir(output_dir):
            os.rmdir(output_dir)    # empty, checked above
        os.replace(staging, output_dir)
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(e, (OSError, tf.errors.OpError)):
            raise write_error(output_dir, e, "SavedModel") from None
        raise
    return output_dir

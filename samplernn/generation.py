"""Fast incremental generation from a trained SampleRNN.

The sampler runs the trained model one step at a time: each frame tier takes
one RNN step per frame (its state carried explicitly), the sample-level MLP
runs once per sample. One compiled call (XLA) produces a whole top-tier frame
(``top_frame_size`` samples) for every sequence in the batch; no Python runs
per sample.

What is computed once per checkpoint (``Sampler.load_weights``):
- weight-normalized kernels, so no norm is taken per step;
- the sample-level MLP's first-layer tables ``[frame_size, q_levels, dim]``,
  so its first layer is ``frame_size`` gathers and a sum per sample.

The per-step recurrences are the very functions the training model uses
(``samplernn.layers.gru_step`` / ``lstm_step``), and ``Sampler.teacher_forced_logits``
checks that the sampler reproduces the training model's logits.

Sampling is Gumbel-max with a per-sequence temperature:
``argmax(logits / T + Gumbel noise)``, i.e. a draw from ``softmax(logits / T)``,
with stateless random numbers keyed on ``(random_seed, sample index)``, so a
given seed always gives the same audio.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import numpy as np
import tensorflow as tf

from samplernn import quantization
from samplernn.cli import clock
from samplernn.errors import UserError
from samplernn.layers import gru_step, lstm_step
from samplernn.model import scale_samples

log = logging.getLogger("samplernn")

_STEP_FUNCTIONS = {"gru": gru_step, "lstm": lstm_step}
_TINY = 1e-20  # keeps log(-log(u)) finite in the Gumbel noise


def expand_temperatures(temperatures, num_seqs: int) -> list:
    """One temperature per sequence: extra values dropped, the last one repeated."""
    temperatures = list(temperatures) or [0.75]
    for t in temperatures:
        if not t > 0:
            raise UserError(f"--temperature values must be positive, got {t}")
    return (temperatures + [temperatures[-1]] * num_seqs)[:num_seqs]


def sequence_paths(output_path: str, temperatures: list, numbered: bool = None) -> list:
    """File names for a batch: ``out.wav`` for one sequence, else ``out_<i>_t<temp>.wav``."""
    numbered = len(temperatures) > 1 if numbered is None else numbered
    if not numbered:
        return [output_path]
    stem, ext = os.path.splitext(output_path)
    return [f"{stem}_{i}_t{t:g}{ext or '.wav'}" for i, t in enumerate(temperatures, start=1)]


class Sampler:
    """Generates audio from a :class:`samplernn.model.SampleRNN`.

    The weights are copied into the sampler by :meth:`load_weights` (called
    on construction); call it again after training further, without
    recompiling.
    """

    def __init__(self, model, jit_compile: bool = True):
        self.model, self.config = model, model.config
        c = self.config
        self.step_fn = _STEP_FUNCTIONS[c.rnn_type]
        self.top = c.top_frame_size
        self._weights = self._frozen(model)
        self._generate = tf.function(self._frame, jit_compile=jit_compile)
        self._warm_up = tf.function(self._warmup_frame, jit_compile=jit_compile)

    # ---------------------------------------------------------------- weights
    @staticmethod
    def _frozen(model):
        """Every tensor the sampler needs, as variables: ``{name: tf.Variable}``."""
        values = _effective_weights(model)
        return {name: tf.Variable(value, trainable=False, name=name.replace("/", "_"))
                for name, value in values.items()}

    def load_weights(self, model=None) -> None:
        """Copy the (current) model weights into the sampler."""
        for name, value in _effective_weights(model or self.model).items():
            self._weights[name].assign(value)

    def _linear(self, name, x):
        """``x W + b`` as one product: the bias is the kernel's last row.

        (XLA on CPU fuses a separate bias add into the product and then runs
        it on one core; a plain product uses them all.)
        """
        ones = tf.ones(tf.concat([tf.shape(x)[:-1], [1]], 0), x.dtype)
        return tf.matmul(tf.concat([x, ones], axis=-1), self._weights[name])

    # ------------------------------------------------------- one tier, one step
    def _tier_step(self, k, frame, conditioning, tier_states):
        """Tier ``k`` (0 = top): ``frame [B, F]`` classes -> ``[B, ratio, dim]`` and new states."""
        tier = self.model.tiers[k]
        name = tier.name
        x = self._linear(f"{name}_frames", scale_samples(frame, self.config.q_levels))
        if conditioning is not None:
            x = x + conditioning
        below, outputs, new_states = x, [], []
        for i, state in enumerate(tier_states):
            rnn_input = tier.rnn_input(i, below, x)
            projected = self._linear(f"{name}_rnn{i}_input", rnn_input)
            state = self.step_fn(projected, state,
                                 lambda h, n=f"{name}_rnn{i}_recurrent": self._linear(n, h))
            below = state[0]
            outputs.append(below)
            new_states.append(state)
        if tier.skip_conn:
            output = tf.add_n([self._linear(f"{name}_skip{i}", h) for i, h in enumerate(outputs)])
        else:
            output = outputs[-1]
        upsampled = self._linear(f"{name}_upsample", output)
        return tf.reshape(upsampled, [-1, tier.upsample_ratio, tier.dim]), new_states

    # ----------------------------------------------------------- sample level
    def _sample_block(self, conditioning, history, temperatures, seed, first_index,
                      teacher, offset):
        """Run the MLP over one lowest-tier frame: ``conditioning [B, F0, dim]``.

        Returns the updated ``history [B, top]`` and the block's logits ``[B, F0, q]``.
        ``teacher`` (``[B, top]`` or None) replaces the sampled values.
        """
        f0, q = self.config.sample_frame_size, self.config.q_levels
        tables = self._weights["tables"]                          # [F0 * q, dim]
        table_offsets = tf.range(f0, dtype=tf.int32) * q          # row of position p
        batch = tf.shape(history)[0]

        def body(j, history, logits_array):
            previous = history[:, self.top - f0:] + table_offsets      # [B, F0]
            first = tf.reduce_sum(tf.gather(tables, previous), axis=1)  # [B, dim]
            h = tf.nn.relu(first + conditioning[:, j])
            for i in range(2):
                h = tf.nn.relu(self._linear(f"sample_hidden{i}", h))
            logits = self._linear("sample_output", h)                  # [B, q]
            if teacher is not None:
                chosen = teacher[:, offset + j]
            else:
                noise_seed = tf.stack([seed, first_index + offset + tf.cast(j, tf.int64)])
                u = tf.random.stateless_uniform([batch, q], seed=noise_seed,
                                                minval=_TINY, maxval=1.0)
                gumbel = -tf.math.log(-tf.math.log(u))
                chosen = tf.argmax(logits / temperatures[:, None] + gumbel, axis=-1,
                                   output_type=tf.int32)
            history = tf.concat([history[:, 1:], chosen[:, None]], axis=1)
            if teacher is not None:
                logits_array = logits_array.write(j, logits)
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
        history = tf.constant(frames[:, 0])
        for t in range(1, frames.shape[1]):
            teacher = tf.constant(frames[:, t])
            states = self._warm_up(history, states, teacher)
            history = teacher
        return history, states

    def generate(self, num_seqs: int, num_samples: int, temperatures, random_seed: int = 0,
                 seed_classes: np.ndarray = None):
        """Yield blocks of generated classes ``[num_seqs, top]`` until ``num_samples``
        samples per sequence have been produced (the last block may be shorter)."""
        temperatures = tf.constant(expand_temperatures(temperatures, num_seqs), tf.float32)
        history, states = self.initial(num_seqs, seed_classes)
        seed = tf.constant(random_seed, tf.int64)
        for start in range(0, num_samples, self.top):
            history, states, _ = self._generate(history, states, temperatures, seed,
                                                tf.constant(start, tf.int64))
            yield history.numpy()[:, : num_samples - start]

    def teacher_forced_logits(self, inputs: np.ndarray) -> np.ndarray:
        """Logits for ``inputs [B, top + n * top]`` fed as if generated: ``[B, n*top, q]``.

        Starts from the model's initial state, exactly like a training window
        after a reset, so the result must match ``model(inputs, initial_states)``.
        """
        inputs = tf.constant(inputs, tf.int32)
        batch = int(inputs.shape[0])
        history, states = inputs[:, :self.top], self.model.initial_states(batch)
        ones, zero = tf.ones([batch]), tf.constant(0, tf.int64)
        logits = []
        for start in range(self.top, int(inputs.shape[1]), self.top):
            teacher = inputs[:, start:start + self.top]
            history, states, frame_logits = self._generate(history, states, ones, zero, zero,
                                                           teacher)
            logits.append(frame_logits.numpy())
        return np.concatenate(logits, axis=1)


def _effective_weights(model) -> dict:
    """``{name: tensor}``: every Linear's effective kernel with its bias, and the MLP tables."""
    linears = [model.sample_mlp.first, *model.sample_mlp.hidden, model.sample_mlp.output_map]
    for tier in model.tiers:
        linears += [tier.input_map, tier.upsample, *tier.skip_maps]
        linears += [m for rnn in tier.rnns for m in (rnn.input_map, rnn.recurrent_map)]
    weights = {}
    for layer in linears:  # kernel and bias as one [input_dim + 1, units] matrix
        bias = layer.bias() if layer.b is not None else tf.zeros([layer.units])
        weights[layer.name] = tf.concat([layer.kernel(), bias[None]], axis=0)
    weights["tables"] = tf.reshape(model.sample_mlp.tables(), [-1, model.config.dim])
    return weights


# --------------------------------------------------------------- audio files
class ProgressBar:
    """``Generated 2.0/10.0 s | elapsed 0:00:04 | ETA 0:00:16 | 0.50x real time``."""

    def __init__(self, total_seconds: float, stream=None, interval: float = 0.5):
        self.total, self.stream, self.interval = total_seconds, stream or sys.stderr, interval
        self.start = time.perf_counter()
        self._last = 0.0

    def update(self, done_seconds: float, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self.start
        speed = done_seconds / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done_seconds) / speed if speed > 0 else float("inf")
        eta_text = clock(eta) if np.isfinite(eta) else "?"
        print(f"\rGenerated {done_seconds:.1f}/{self.total:.1f} s | elapsed {clock(elapsed)} "
              f"| ETA {eta_text} | {speed:.2f}x real time", end="\n" if final else "",
              file=self.stream, flush=True)


def write_generated(sampler: Sampler, paths: list, seconds: float, temperatures: list,
                    sample_rate: int = None, random_seed: int = 0, seed_classes=None,
                    include_seed: bool = False, show_progress: bool = True) -> list:
    """Generate ``len(paths)`` sequences of ``seconds`` and stream them to WAV files.

    ``sample_rate`` is the rate written in the files (the model's by default).
    Returns the paths written.
    """
    from samplernn.audio import WavStreamWriter

    config = sampler.config
    sample_rate = sample_rate or config.sample_rate
    num_samples = int(round(seconds * config.sample_rate))
    if num_samples <= 0:
        raise UserError(f"the duration must be positive, got {seconds} s")
    writers = [WavStreamWriter(path, sample_rate) for path in paths]
    progress = ProgressBar(seconds) if show_progress else None
    decode = lambda classes: quantization.dequantize(classes, config.q_type, config.q_levels)  # noqa: E731
    try:
        if include_seed and seed_classes is not None:
            for writer in writers:
                writer.write(decode(seed_classes))
        done = 0
        for block in sampler.generate(len(paths), num_samples, temperatures, random_seed,
                                      seed_classes):
            audio = decode(block)
            for writer, row in zip(writers, audio):
                writer.write(row)
            done += block.shape[1]
            if progress:
                progress.update(done / config.sample_rate)
        if progress:
            progress.update(done / config.sample_rate, final=True)
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    for writer in writers:
        writer.close()
    return paths


def plot_generated(paths: list, sample_rate: int) -> list:
    """Write ``<wav stem>.png`` (waveform and log-mel spectrogram) beside each WAV."""
    import soundfile

    from samplernn import plots

    pngs = []
    for path in paths:
        audio = soundfile.read(path, dtype="float32")[0]
        png_path = os.path.splitext(path)[0] + ".png"
        plots.write_png(png_path, plots.waveform_and_spectrogram_png(
            audio, sample_rate, os.path.basename(path)))
        pngs.append(png_path)
    return pngs


def load_seed(path: str, config, seed_offset: int = 0) -> np.ndarray:
    """Quantized seed audio from ``path`` at the model's rate, from ``seed_offset``."""
    from samplernn.audio import load_audio

    if seed_offset < 0:
        raise UserError(f"--seed_offset must be 0 or more, got {seed_offset}")
    audio = load_audio(path, config.sample_rate)[seed_offset:]
    if len(audio) < config.top_frame_size:
        raise UserError(f"seed file {path} is too short: it needs at least --seed_offset "
                        f"({seed_offset}) + {config.top_frame_size} samples (one top frame) "
                        f"at {config.sample_rate} Hz")
    return quantization.quantize(audio, config.q_type, config.q_levels)


class TrainingAudioWriter:
    """Called after each checkpoint save during training: writes
    ``<output_dir>/<id>_e=<epoch>_<i>_t<temperature>.wav`` files and, given a
    ``summary_writer``, logs each to TensorBoard as audio and as a log-mel
    spectrogram beside one of ``reference_audio`` (a real excerpt)."""

    def __init__(self, model, config, output_dir, run_id, max_files, seconds, temperatures,
                 seed_file=None, seed_offset=0, random_seed=0, summary_writer=None,
                 reference_audio=None):
        self.model, self.config, self.output_dir, self.run_id = model, config, output_dir, run_id
        self.num_files, self.seconds, self.random_seed = max_files or 0, seconds, random_seed
        self.temperatures = expand_temperatures(temperatures, self.num_files) if self.num_files else []
        self.seed_classes = load_seed(seed_file, config, seed_offset) if seed_file else None
        self.summary_writer, self.reference_audio = summary_writer, reference_audio
        self.sampler = None

    def __call__(self, epoch: int, checkpoint_prefix: str) -> None:
        if not self.num_files:
            return
        if self.sampler is None:
            self.sampler = Sampler(self.model)
        else:
            self.sampler.load_weights(self.model)
        base = os.path.join(self.output_dir, f"{self.run_id}_e={epoch}.wav")
        paths = sequence_paths(base, self.temperatures, numbered=True)
        write_generated(self.sampler, paths, self.seconds, self.temperatures,
                        random_seed=self.random_seed + epoch, seed_classes=self.seed_classes,
                        show_progress=False)
        log.info("Generated %s", ", ".join(paths))
        if self.summary_writer is not None:
            self._summarize(epoch, paths)

    def _summarize(self, epoch: int, paths: list) -> None:
        import soundfile

        from samplernn import plots

        rate = self.config.sample_rate
        with self.summary_writer.as_default(step=epoch):
            for index, (path, temperature) in enumerate(zip(paths, self.temperatures), start=1):
                audio = soundfile.read(path, dtype="float32")[0]
                tag = f"generated/{index}_t{temperature:g}"
                tf.summary.audio(tag, audio[None, :, None], rate,
                                 description=f"epoch {epoch}, temperature {temperature:g}")
                panels = {f"generated (t={temperature:g})": audio}
                if self.reference_audio is not None:
                    panels["real (validation excerpt)"] = self.reference_audio
                png = plots.spectrograms_png(panels, rate)
                tf.summary.image(f"spectrogram/{index}_t{temperature:g}",
                                 tf.image.decode_png(png)[None])
        self.summary_writer.flush()

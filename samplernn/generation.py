"""Generated audio as files, streams and sound: the sampler's output put to use.

:class:`samplernn.sampler.Sampler` produces quantized samples block by block;
:func:`write_generated` decodes each block and hands it to *sinks* (WAV files
written as the audio is generated, a WAV stream on standard output, the
sound card), shows progress, and stops cleanly on Ctrl-C or SIGTERM, finishing
every file with the audio generated so far. Also here: plots of generated
files and the audio written during training. File names and seeds, which need
no model, are in :mod:`samplernn.generation_files`.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
import tensorflow as tf

from samplernn import quantization
from samplernn.errors import UserError
from samplernn.generation_files import (OUTPUT_EXTENSION, expand_temperatures, load_seed,
                                        sequence_paths)
from samplernn.interrupts import NEVER
from samplernn.progress import GenerationProgress
from samplernn.sampler import Sampler

log = logging.getLogger("samplernn")

# ------------------------------------------------------------------ writing
@dataclasses.dataclass
class GenerationResult:
    seconds: float              # generated per sequence (the seed not counted)
    interrupted: bool = False   # stopped by Ctrl-C
    listener_gone: bool = False  # the reader of a stream closed it
    written: bool = True        # False: stopped before any audio, and no file was left


def wav_file_sinks(paths: list, sample_rate: int) -> list:
    """One :class:`samplernn.audio.WavStreamWriter` per path."""
    from samplernn.audio import WavStreamWriter

    sinks = []
    try:
        for path in paths:
            sinks.append(WavStreamWriter(path, sample_rate))
    except BaseException:   # no temporary file of the ones opened stays behind
        for sink in sinks:
            sink.abort()
        raise
    return sinks


class TeeSink:
    """A sink that sends every block to two sinks (a file and the sound card, say)."""

    def __init__(self, first, second):
        self.sinks = (first, second)

    def write(self, audio: np.ndarray) -> None:
        for sink in self.sinks:
            sink.write(audio)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    def abort(self) -> None:
        for sink in self.sinks:
            sink.abort()


def write_generated(sampler: Sampler, sinks: list, seconds, temperatures: list,
                    random_seed: int = 0, seed_classes=None, include_seed: bool = False,
                    progress: GenerationProgress = None, interrupt=NEVER,
                    top_p: float = 1.0, min_p: float = 0.0) -> GenerationResult:
    """Generate ``len(sinks)`` sequences of ``seconds`` (None: until interrupted) and
    stream sequence ``i`` to ``sinks[i]``, each draw's tail cut by ``top_p`` and
    ``min_p`` (:func:`samplernn.sample_level.truncate`). ``seed_classes``: see
    :meth:`Sampler.initial`; with ``include_seed`` a one-row seed starts every file.

    A sink has ``write(audio [n] float32)``, ``close()`` (finish it as complete)
    and ``abort()`` (drop it). A sink may be None (that sequence is discarded).
    On Ctrl-C (``interrupt.requested``, checked between compiled calls) every
    sink is closed with the audio generated so far, or aborted if there is none
    (no empty file is left); on an error it is aborted.
    """
    config = sampler.config
    rate = config.sample_rate
    num_samples = None if seconds is None else int(round(seconds * rate))
    if num_samples is not None and num_samples <= 0:
        raise UserError(f"the duration must be positive, got {seconds} s")
    live = [sink for sink in sinks if sink is not None]

    def decode(classes):
        return quantization.dequantize(classes, config.q_type, config.q_levels)

    result = GenerationResult(seconds=0.0)
    done = 0
    try:
        if include_seed and seed_classes is not None:
            for sink in live:
                sink.write(decode(seed_classes))
        blocks = sampler.generate(len(sinks), num_samples, temperatures, random_seed,
                                  seed_classes, top_p=top_p, min_p=min_p)
        for block in blocks if not interrupt.requested else ():
            audio = decode(block)
            for sink, row in zip(sinks, audio):
                if sink is not None:
                    sink.write(row)
            done += block.shape[1]
            if progress:
                progress.update(done / rate)
            if interrupt.requested:
                break
    except BrokenPipeError:
        result.listener_gone = True
    except BaseException:
        for sink in live:
            sink.abort()
        raise
    result.interrupted = interrupt.requested
    seeded = include_seed and seed_classes is not None
    result.written = bool(done or seeded)
    for sink in live:
        if interrupt.requested and not result.written:   # nothing to keep
            sink.abort()
        else:
            sink.close()
    if progress:
        progress.update(done / rate, final=True)
    result.seconds = done / rate
    return result


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


class TrainingAudioWriter:
    """Called after each checkpoint save during training: writes
    ``<output_dir>/<id>_e=<epoch>_<i>_t<temperature>.wav`` files and, given a
    ``summary_writer``, logs each to TensorBoard as audio and as a log-mel
    spectrogram beside one of ``reference_audio`` (a real excerpt), with the
    sampler's weights in ``precision`` (see :mod:`samplernn.sampler`). Ctrl-C
    (``interrupt``) cuts the files short; they are still valid WAV files."""

    def __init__(self, model, config, output_dir, run_id, max_files, seconds, temperatures,
                 seed_file=None, seed_offset=0, random_seed=0, summary_writer=None,
                 reference_audio=None, interrupt=NEVER, precision="float32", prime=None,
                 truncation=None, window_bounds=None):
        self.model, self.config, self.output_dir, self.run_id = model, config, output_dir, run_id
        self.num_files, self.seconds, self.random_seed = max_files or 0, seconds, random_seed
        self.temperatures = (expand_temperatures(temperatures, self.num_files)
                             if self.num_files else [])
        # Primed as generate.py primes: the seed file, else the run's excerpts (float audio).
        self.seed_classes = load_seed(seed_file, config, seed_offset) if seed_file else None
        if self.seed_classes is None and prime:
            self.seed_classes = quantization.quantize(np.stack(prime), config.q_type,
                                                      config.q_levels)
        self.truncation = truncation or {}
        self.window_bounds = window_bounds   # samplernn.windows.WindowBounds of the corpus
        self.summary_writer, self.reference_audio = summary_writer, reference_audio
        self._reference_notes = None   # samplernn.notes.measure of reference_audio
        self.interrupt, self.precision = interrupt, precision
        self.sampler = None

    def __call__(self, epoch: int, checkpoint_prefix: str) -> None:
        if not self.num_files or self.interrupt.requested:
            return
        if self.sampler is None:
            self.sampler = Sampler(self.model, precision=self.precision)
        else:
            self.sampler.load_weights(self.model)
        base = os.path.join(self.output_dir, f"{self.run_id}_e={epoch}{OUTPUT_EXTENSION}")
        paths = sequence_paths(base, self.temperatures, numbered=True)
        result = write_generated(self.sampler, wav_file_sinks(paths, self.config.sample_rate),
                                 self.seconds, self.temperatures,
                                 random_seed=self.random_seed + epoch,
                                 seed_classes=self.seed_classes, interrupt=self.interrupt,
                                 **self.truncation)
        if not result.written:
            log.info("Stopped before any audio of epoch %d was generated: no file written",
                     epoch)
            return
        log.info("Generated %s%s", ", ".join(paths),
                 f" (cut short at {result.seconds:.2f} s by Ctrl-C)" if result.interrupted else "")
        if self.summary_writer is not None and not result.interrupted:
            self._summarize(epoch, paths)

    def _summarize(self, epoch: int, paths: list) -> None:
        import soundfile

        from samplernn import notes, plots, windows

        rate = self.config.sample_rate
        with self.summary_writer.as_default(step=epoch):
            if self.reference_audio is not None:   # the measures of notes, real and generated
                if self._reference_notes is None:    # the excerpt never changes: measured once
                    self._reference_notes = notes.measure(self.reference_audio, rate)
                for name, value in self._reference_notes.items():
                    tf.summary.scalar(f"notes_real/{name}", value)
            for index, (path, temperature) in enumerate(zip(paths, self.temperatures), start=1):
                audio = soundfile.read(path, dtype="float32")[0]
                tag = f"generated/{index}_t{temperature:g}"
                tf.summary.audio(tag, audio[None, :, None], rate,
                                 description=f"epoch {epoch}, temperature {temperature:g}")
                for name, value in notes.measure(audio, rate).items():
                    tf.summary.scalar(f"notes/{index}_t{temperature:g}/{name}", value)
                if self.window_bounds is not None:   # does it keep playing? (2-s windows)
                    measured = windows.window_measures(audio, rate)
                    if measured:
                        long_form = windows.judge(measured, self.window_bounds)
                        tf.summary.scalar(f"alive/{index}_t{temperature:g}/alive_share",
                                          long_form.alive_share)
                        collapse = long_form.first_collapse_seconds
                        tf.summary.scalar(f"alive/{index}_t{temperature:g}/first_collapse_s",
                                          len(audio) / rate if collapse is None else collapse)
                panels = {f"generated (t={temperature:g})": audio}
                if self.reference_audio is not None:
                    panels["real (validation excerpt)"] = self.reference_audio
                png = plots.spectrograms_png(panels, rate)
                tf.summary.image(f"spectrogram/{index}_t{temperature:g}",
                                 tf.image.decode_png(png)[None])
        self.summary_writer.flush()

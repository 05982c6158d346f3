"""Negative log-likelihood of audio files under a trained model, in bits per sample.

Each file is scored as one sequence, the way training sees a sequence: the
RNN state starts from the model's initial state, and carries across windows
of ``seq_len`` samples. The first ``top_frame_size`` samples of a file are
context only, and so is a tail shorter than one top frame; every other sample
is scored. Files are scored ``batch_size`` at a time, padded to the longest
one, with the padding masked out of the sums.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import tensorflow as tf

from samplernn import quantization

log = logging.getLogger("samplernn")


@dataclasses.dataclass
class FileScore:
    path: str
    samples: int
    nats: float

    @property
    def bits_per_sample(self) -> float:
        return self.nats / self.samples / math.log(2)


@dataclasses.dataclass
class Evaluation:
    files: list

    @property
    def samples(self) -> int:
        return sum(f.samples for f in self.files)

    @property
    def bits_per_sample(self) -> float:
        return sum(f.nats for f in self.files) / self.samples / math.log(2)

    def to_dict(self) -> dict:
        return {"bits_per_sample": self.bits_per_sample, "samples": self.samples,
                "files": [{"path": f.path, "samples": f.samples,
                           "bits_per_sample": f.bits_per_sample} for f in self.files]}


def pad_sequences(sequences: list, config):
    """Sequences of classes in one batch: ``(padded [B, top + L] int32, mask [B, L]
    float32, scored samples per sequence)``; the padding is silence, masked out."""
    top = config.top_frame_size
    scored = [(len(s) - top) // top * top for s in sequences]
    length = top + max(scored)
    silence = quantization.silence_class(config.q_type, config.q_levels)
    padded = np.full((len(sequences), length), silence, np.int32)
    mask = np.zeros((len(sequences), length - top), np.float32)
    for row, (samples, count) in enumerate(zip(sequences, scored)):
        padded[row, :top + count] = samples[:top + count]
        mask[row, :count] = 1.0
    return padded, mask, scored


def masked_nats(logits, targets, mask):
    """Summed negative log-likelihood per row: ``[B, S, q]``, ``[B, S]``, ``[B, S]`` -> ``[B]``."""
    nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets,
                                                          logits=tf.cast(logits, tf.float32))
    return tf.reduce_sum(nats * mask, axis=1)


class Scorer:
    """Scores batches of quantized sequences with one model (the training computation)."""

    def __init__(self, model):
        self.model, self.config = model, model.config
        self._window = tf.function(self._window_nats, reduce_retracing=True)

    def _window_nats(self, inputs, mask, states):
        """``inputs [B, top + S]``, ``mask [B, S]`` -> (summed nats ``[B]``, new states)."""
        logits, states = self.model(inputs, states)
        return masked_nats(logits, inputs[:, self.config.top_frame_size:], mask), states

    def score(self, sequences: list) -> list:
        """``[int array [n_i]]`` -> ``[(scored samples, summed nats)]`` per sequence."""
        top, seq_len = self.config.top_frame_size, self.config.seq_len
        padded, mask, scored = pad_sequences(sequences, self.config)
        states = self.model.initial_states(len(sequences))
        totals = np.zeros(len(sequences))
        for start in range(0, padded.shape[1] - top, seq_len):
            width = min(seq_len, padded.shape[1] - top - start)
            nats, states = self._window(tf.constant(padded[:, start:start + top + width]),
                                        tf.constant(mask[:, start:start + width]), states)
            totals += nats.numpy()
        return list(zip(scored, totals))


class SamplerScorer:
    """Scores like :class:`Scorer`, but with the generation sampler's own numerics
    (its weight precision), teacher-forced one top frame at a time."""

    def __init__(self, sampler):
        self.sampler, self.config = sampler, sampler.config

    def score(self, sequences: list) -> list:
        top = self.config.top_frame_size
        padded, mask, scored = pad_sequences(sequences, self.config)
        totals = np.zeros(len(sequences))
        for frame, logits in enumerate(self.sampler.teacher_forced(padded)):
            columns = slice(frame * top, (frame + 1) * top)
            totals += masked_nats(logits, padded[:, top:][:, columns], mask[:, columns]).numpy()
        return list(zip(scored, totals))


def evaluate_files(model, files: dict, batch_size: int = 8, max_samples: int = None,
                   scorer=None) -> Evaluation:
    """Score ``{path: quantized samples}`` with ``scorer`` (default: the model's
    :class:`Scorer`); files too short to score are skipped."""
    minimum = 2 * model.config.top_frame_size
    usable = {}
    for path, samples in files.items():
        samples = samples[:max_samples] if max_samples else samples
        if len(samples) < minimum:
            log.warning("warning: skipping %s: %d samples is too short to score (needs %d)",
                        path, len(samples), minimum)
        else:
            usable[path] = samples
    scorer, results = scorer or Scorer(model), []
    paths = list(usable)
    for first in range(0, len(paths), batch_size):
        batch = paths[first:first + batch_size]
        for path, (samples, nats) in zip(batch, scorer.score([usable[p] for p in batch])):
            results.append(FileScore(path, int(samples), float(nats)))
    return Evaluation(results)

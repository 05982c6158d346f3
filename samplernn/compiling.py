"""Compiled TensorFlow functions: one rule for the whole package.

Graph functions are traced without AutoGraph (every loop here is written as
``tf.scan``/``tf.while_loop`` or unrolled in Python, and branches depend only on
Python values, so AutoGraph would change nothing but the cost of tracing:
about 40% of a tiny model's first sampler call) and, by default, compiled with
XLA. XLA pays where a piece's time is per-op overhead rather than arithmetic: the
sampler's per-sample loop, the recurrent loops of training
(:mod:`samplernn.gru_scan`) and the sample level's table look-ups
(:class:`samplernn.model.SampleMLP`) and the loss (benchmarks/RESULTS.md, "The
training step made faster"). The
large matrix products of training stay outside XLA, where TensorFlow's own
(oneDNN) kernels are faster on CPUs.
"""

from __future__ import annotations

import tensorflow as tf


def compiled(function, jit_compile: bool = True):
    """``function`` as a ``tf.function`` traced without AutoGraph, XLA-compiled
    unless ``jit_compile`` is False. Called inside another ``tf.function`` it stays
    one compiled piece of that graph (its gradient is compiled too)."""
    return tf.function(function, jit_compile=jit_compile, autograph=False)

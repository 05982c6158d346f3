"""Quantization of audio in [-1, 1] to integer classes in [0, q_levels - 1].

Three companding laws, each a monotonic map ``compress: [-1, 1] -> [-1, 1]``
followed by uniform quantization of the compressed value:

    linear   compress(x) = x              (no per-file normalization: the
                                           waveform's DC and dynamics are kept)
    mu-law   compress(x) = sign(x) ln(1 + mu|x|) / ln(1 + mu),  mu = q_levels - 1
    a-law    compress(x) = sign(x) A|x| / (1 + ln A)             for |x| <  1/A
                           sign(x) (1 + ln(A|x|)) / (1 + ln A)  for |x| >= 1/A,
             with A = 87.6 (the ITU G.711 value)

Level k stands for the compressed value ``2k / (q_levels - 1) - 1``.

Implementation: because every law is monotonic, encoding is a search among
the ``q_levels - 1`` decision boundaries (computed once in float64, stored
as float32), and decoding is a lookup in a table of ``q_levels`` values. Both
the NumPy and the TensorFlow versions use the same tables and only compare
and gather, so they agree bit for bit. Out-of-range input lands in the first
or last level (clipped, never wrapped).
"""

from __future__ import annotations

import functools

import numpy as np

A_LAW_A = 87.6

def _expand_linear(y, q_levels):
    return y


def _expand_mu_law(y, q_levels):
    mu = q_levels - 1.0
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def _expand_a_law(y, q_levels):
    scale = 1.0 + np.log(A_LAW_A)
    magnitude = np.abs(y) * scale
    x = np.where(magnitude < 1.0, magnitude / A_LAW_A,
                 np.exp(np.minimum(magnitude, scale) - 1.0) / A_LAW_A)
    return np.sign(y) * x


# The inverse of each law's compress function, from [-1, 1] to [-1, 1].
_EXPANDERS = {"linear": _expand_linear, "mu-law": _expand_mu_law, "a-law": _expand_a_law}


@functools.lru_cache(maxsize=None)
def _tables(q_type: str, q_levels: int):
    """(boundaries [q_levels - 1], levels [q_levels]) as float32 arrays."""
    if q_type not in _EXPANDERS:
        raise ValueError(f"unknown quantization type {q_type!r}; "
                         f"expected one of {sorted(_EXPANDERS)}")
    expand = _EXPANDERS[q_type]
    step = 2.0 / (q_levels - 1)
    k = np.arange(q_levels, dtype=np.float64)
    levels = expand(k * step - 1.0, q_levels)
    boundaries = expand((k[1:] - 0.5) * step - 1.0, q_levels)
    return boundaries.astype(np.float32), levels.astype(np.float32)


def storage_dtype(q_levels: int):
    """Smallest NumPy integer type that holds every class index."""
    return np.uint8 if q_levels <= 256 else np.int32


# ------------------------------------------------------------------------ NumPy
def quantize(audio: np.ndarray, q_type: str, q_levels: int) -> np.ndarray:
    """Float audio (any shape, nominally in [-1, 1]) -> int32 classes, same shape."""
    boundaries, _ = _tables(q_type, q_levels)
    audio = np.asarray(audio, dtype=np.float32)
    return np.searchsorted(boundaries, audio, side="right").astype(np.int32)


def dequantize(classes: np.ndarray, q_type: str, q_levels: int) -> np.ndarray:
    """Int classes (any shape) -> float32 audio in [-1, 1], same shape."""
    _, levels = _tables(q_type, q_levels)
    return levels[np.clip(np.asarray(classes), 0, q_levels - 1)]


def silence_class(q_type: str, q_levels: int) -> int:
    """The class that digital silence (0.0) quantizes to."""
    return int(quantize(np.zeros(1), q_type, q_levels)[0])


# ------------------------------------------------------------------- TensorFlow
def quantize_tf(audio, q_type: str, q_levels: int):
    """TF version of :func:`quantize`; identical results."""
    import tensorflow as tf

    boundaries, _ = _tables(q_type, q_levels)
    audio = tf.convert_to_tensor(audio, dtype=tf.float32)
    flat = tf.reshape(audio, [1, -1])
    classes = tf.searchsorted(tf.constant(boundaries[None, :]), flat, side="right",
                              out_type=tf.int32)
    return tf.reshape(classes, tf.shape(audio))


def dequantize_tf(classes, q_type: str, q_levels: int):
    """TF version of :func:`dequantize`; identical results."""
    import tensorflow as tf

    _, levels = _tables(q_type, q_levels)
    classes = tf.clip_by_value(tf.cast(classes, tf.int32), 0, q_levels - 1)
    return tf.gather(tf.constant(levels), classes)

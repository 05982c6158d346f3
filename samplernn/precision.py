"""Precision: which float type computes what, in training and in generation.

Two separate choices, both made here:

- **Training** (``train.py --mixed_precision``) picks a Keras dtype policy:
  ``float32``, ``mixed_bfloat16`` or ``mixed_float16`` (the last with loss
  scaling). ``True`` chooses per device (:func:`choose_policy`); ``bfloat16``
  or ``float16`` force a policy whatever the device (for tests, and for users
  who measured that it pays).
- **Generation** (``generate.py --precision``) picks the dtype in which the
  sampler *stores* its weights: ``float32`` or ``bfloat16``.

The cast rules, the same everywhere:

1. Every variable is float32, under any policy.
2. A ``Linear`` reads ``v`` and ``g`` in float32 and takes the weight-norm
   norms in float32; only the finished kernel is cast, to the dtype asked for
   (the layer's compute dtype in training).
3. RNN states are float32 between training windows; logits are cast to
   float32 before the softmax and the loss.
4. The sampler's weights come from one function of the model,
   :meth:`samplernn.model.SampleRNN.sampler_weights`, always in float32
   whatever the training policy, and are then stored in the generation dtype.
5. In generation every sum between products (gates, states, the
   first-layer sum, sampling) is float32. With bfloat16 weights a product
   takes its input rounded to bfloat16 and its result is rounded to bfloat16
   (what TensorFlow's bfloat16 products return) before it is widened to
   float32 again; the output layer keeps float32 weights and a float32
   product, so the logits are float32 sums whatever the precision.

This module imports neither TensorFlow nor Keras at load time, so scripts can
check their flags before TensorFlow loads; the two functions that need Keras
import it when called.
"""

from __future__ import annotations

import argparse

FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
MIXED_FLOAT16 = "mixed_float16"
TRAINING_POLICIES = (FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16)
COMPUTE_DTYPES = {FLOAT32: "float32", MIXED_BFLOAT16: "bfloat16", MIXED_FLOAT16: "float16"}
# --mixed_precision values that force a policy (True chooses per device, False is float32).
FORCED_POLICIES = {"bfloat16": MIXED_BFLOAT16, "float16": MIXED_FLOAT16}

GENERATION_PRECISIONS = ("float32", "bfloat16")   # the sampler's stored weights
GENERATION_PRECISION = "float32"   # bfloat16 was slower on every CPU measured (RESULTS.md)

BFLOAT16_GPU_CAPABILITY = (8, 0)   # Ampere and later compute in bfloat16 natively

# How the start line names each precision.
DESCRIPTIONS = {FLOAT32: "float32", MIXED_BFLOAT16: "bfloat16",
                MIXED_FLOAT16: "float16 (loss scaling)",
                "bfloat16": "bfloat16 weights, float32 sums"}   # the last: generation


def parse_mixed_precision(text: str):
    """``--mixed_precision``: ``True``/``False`` (also yes/no, 1/0), or a forced
    ``bfloat16``/``float16``. Returns True, False or the forced policy's name."""
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    if value in FORCED_POLICIES:
        return FORCED_POLICIES[value]
    if value in FORCED_POLICIES.values():   # the policy's own name, as a resume prints it
        return value
    raise argparse.ArgumentTypeError(
        f"expected True, False, bfloat16 or float16, got {text!r}")


def choose_policy(devices, mixed_precision):
    """The Keras dtype policy for ``--mixed_precision`` on ``devices`` (a
    :class:`samplernn.devices.Devices`), and a note when the request could not
    be honoured (else None).

    ``True``: bfloat16 on TPUs, on GPUs of compute capability 8.0 and up and on
    CPUs with bfloat16 instructions; float16 with loss scaling on older GPUs;
    float32 on CPUs without bfloat16 (emulated there, and slower). A policy
    name (from :data:`FORCED_POLICIES`) is used as it is.
    """
    if mixed_precision in TRAINING_POLICIES:
        return mixed_precision, None
    if not mixed_precision:
        return FLOAT32, None
    if devices.kind == "TPU":
        return MIXED_BFLOAT16, None
    if devices.kind == "GPU":
        capability = devices.compute_capability or (0, 0)
        if tuple(capability) >= BFLOAT16_GPU_CAPABILITY:
            return MIXED_BFLOAT16, None
        return MIXED_FLOAT16, None
    if devices.cpu_bfloat16:
        return MIXED_BFLOAT16, None
    return FLOAT32, ("--mixed_precision: this CPU has no bfloat16 instructions "
                     "(--mixed_precision bfloat16 forces it)")


def compute_dtype(policy: str) -> str:
    """The dtype most of the model computes in under ``policy``."""
    return COMPUTE_DTYPES[policy]


def set_policy(policy: str) -> None:
    """Build models from now on under Keras dtype policy ``policy``."""
    import keras

    keras.mixed_precision.set_global_policy(policy)


def with_loss_scaling(optimizer):
    """Wrap ``optimizer`` for float16 training (bfloat16 has float32's range: no need)."""
    import keras

    if keras.mixed_precision.global_policy().compute_dtype == "float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer

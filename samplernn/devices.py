"""Where the work runs: the devices, the compute precision and the RNN path.

Every script prints one line from :func:`start_line` when it starts, e.g.::

    Device: 1 x GPU (NVIDIA A100-SXM4-40GB), strategy: one device, precision: bfloat16, RNN: cuDNN

What the devices are is found here; which precision they compute in is
chosen from that in :mod:`samplernn.precision`.

The recurrent layers use cuDNN (:func:`use_cudnn`) when a GPU is visible and
the step is not XLA-compiled (cuDNN's RNN has no XLA kernel).

TensorFlow's own start-up messages are hidden (:func:`samplernn.cli.quiet_tensorflow`),
so a GPU that TensorFlow fails to set up is named here instead
(:func:`gpu_problem`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import tensorflow as tf

from samplernn import precision
from samplernn.layers import CUDNN_DTYPES, keras_tf_rnn

CPU_BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # /proc/cpuinfo flags (x86, Arm)
NVIDIA_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0")
HIDDEN_ON_PURPOSE = ("", "-1")     # CUDA_VISIBLE_DEVICES values that hide every GPU


@dataclasses.dataclass(frozen=True)
class Devices:
    """What this process computes on.

    ``kind`` is ``"GPU"``, ``"TPU"`` or ``"CPU"``; ``count`` the devices of
    that kind this process uses; ``names`` the GPU models;
    ``compute_capability`` the lowest among the GPUs; ``cpu_cores`` the cores
    this process may use; ``gpu_problem`` why a GPU that is present is not used.
    """

    kind: str
    count: int = 1
    names: tuple = ()
    compute_capability: tuple = None
    cpu_bfloat16: bool = False
    cpu_cores: int = 1
    gpu_problem: str = None


def find_devices(strategy: tf.distribute.Strategy = None) -> Devices:
    """The devices ``strategy`` (default: one device) runs on. Call it after the
    strategy exists: listing GPUs' details starts TensorFlow's runtime."""
    strategy = strategy or tf.distribute.get_strategy()
    try:
        local_replicas = len(strategy.extended.worker_devices)
    except RuntimeError:     # the default strategy: one device
        local_replicas = 1
    common = dict(cpu_bfloat16=cpu_has_bfloat16(), cpu_cores=usable_cores())
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return Devices("TPU", strategy.num_replicas_in_sync, **common)
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return Devices("CPU", local_replicas,
                       gpu_problem=gpu_problem(nvidia_gpu_present(),
                                               tf.test.is_built_with_cuda()), **common)
    details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
    capabilities = [d["compute_capability"] for d in details if d.get("compute_capability")]
    names = tuple(dict.fromkeys(d.get("device_name", "unknown GPU") for d in details))
    return Devices("GPU", local_replicas, names,
                   min(capabilities) if capabilities else None, **common)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def cpu_has_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes in bfloat16 natively (Linux; elsewhere: False)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            flags = {flag for line in f if line.lower().startswith(("flags", "features"))
                     for flag in line.split(":", 1)[-1].split()}
    except OSError:
        return False
    return any(flag in flags for flag in CPU_BFLOAT16_FLAGS)


def nvidia_gpu_present() -> bool:
    """An NVIDIA driver is installed and no one hid the GPUs on purpose."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in HIDDEN_ON_PURPOSE:
        return False
    return (any(os.path.exists(path) for path in NVIDIA_DEVICE_FILES)
            or shutil.which("nvidia-smi") is not None)


def gpu_problem(gpu_present: bool, built_with_cuda: bool):
    """Why TensorFlow sees no GPU although one is present, or None."""
    if not gpu_present:
        return None
    if not built_with_cuda:
        return ("an NVIDIA GPU is present, but this TensorFlow has no CUDA support: "
                "pip install 'tensorflow[and-cuda]'")
    return ("an NVIDIA GPU is present, but TensorFlow could not set it up (CUDA or cuDNN "
            "libraries missing or mismatched: pip install 'tensorflow[and-cuda]'; run with "
            "SAMPLERNN_TF_LOGS=1 to see TensorFlow's messages)")


def choose_cudnn(gpu_count: int, jit_compile: bool, keras_has_cudnn: bool) -> bool:
    """cuDNN for the RNNs: a GPU, no XLA (cuDNN's RNN op has no XLA kernel), and
    Keras's cuDNN functions found."""
    return gpu_count > 0 and not jit_compile and keras_has_cudnn


def use_cudnn(jit_compile: bool = False) -> bool:
    """:func:`choose_cudnn` for this process (starts TensorFlow's runtime)."""
    return choose_cudnn(len(tf.config.list_logical_devices("GPU")), jit_compile,
                        keras_tf_rnn is not None)


def describe_strategy(strategy: tf.distribute.Strategy = None) -> str:
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return f"multi-worker ({replicas} replicas)"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return f"TPU ({replicas} replicas)"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return f"mirrored ({replicas} replicas)"
    return "one device"


def start_line(devices: Devices, strategy: str, policy: str, cudnn: bool = None,
               note: str = None) -> str:
    """``Device: 1 x GPU (name), strategy: one device, precision: bfloat16[, RNN: cuDNN]``,
    then what went wrong with a GPU, or ``note``."""
    if devices.kind == "GPU":
        what = f"{devices.count} x GPU ({', '.join(devices.names)})"
    elif devices.kind == "CPU":
        what = f"{devices.count} x CPU ({devices.cpu_cores} cores)"
    else:
        what = f"{devices.count} x {devices.kind}"
    line = f"Device: {what}, strategy: {strategy}, precision: {precision.DESCRIPTIONS[policy]}"
    if devices.kind == "GPU" and cudnn is not None:
        if not cudnn:
            line += ", RNN: loop (cuDNN is not used with --jit_compile)"
        elif precision.COMPUTE_DTYPES.get(policy, "float32") in CUDNN_DTYPES:
            line += ", RNN: cuDNN"
        else:
            line += ", RNN: cuDNN in float32"
    extras = [text for text in (note, devices.gpu_problem) if text]
    return line + "".join(f"; {text}" for text in extras)

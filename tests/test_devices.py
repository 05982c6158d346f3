"""Device detection, the precision per device, the RNN path and the start line."""

import pytest

from samplernn import devices, precision
from samplernn.devices import Devices

A100 = Devices("GPU", 1, ("NVIDIA A100-SXM4-40GB",), (8, 0))
T4 = Devices("GPU", 2, ("Tesla T4",), (7, 5))
PLAIN_CPU = Devices("CPU", 1, cpu_cores=2)
BF16_CPU = Devices("CPU", 1, cpu_bfloat16=True, cpu_cores=2)


@pytest.mark.parametrize("lines, expected", [
    (["flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n"], True),     # AMD Zen 4
    (["flags\t\t: fpu avx2 amx_bf16 amx_tile\n"], True),                     # Intel AMX
    (["Features\t: fp asimd bf16 i8mm\n"], True),                           # Arm
    (["flags\t\t: fpu sse2 avx2 fma\n", "flags\t\t: fpu sse2 avx2 fma\n"], False),
    (["model name\t: a CPU with bf16 in its name\n"], False),               # not a flag
])
def test_cpu_bfloat16_from_cpuinfo_flags(tmp_path, lines, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\n" + "".join(lines))
    assert devices.cpu_has_bfloat16(str(cpuinfo)) is expected
    assert devices.cpu_has_bfloat16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize("found, policy, noted", [
    (A100, "mixed_bfloat16", False),
    (T4, "mixed_float16", False),
    (Devices("GPU", 1, ("unknown",), None), "mixed_float16", False),
    (Devices("TPU", 8), "mixed_bfloat16", False),
    (BF16_CPU, "mixed_bfloat16", False),
    (PLAIN_CPU, "float32", True),
])
def test_mixed_precision_is_chosen_per_device(found, policy, noted):
    assert precision.choose_policy(found, False) == ("float32", None)
    chosen, note = precision.choose_policy(found, True)
    assert chosen == policy and (note is not None) == noted
    if noted:
        assert "no bfloat16 instructions" in note
    # A forced policy holds on any device.
    for text, forced in (("bfloat16", "mixed_bfloat16"), ("float16", "mixed_float16")):
        assert precision.choose_policy(found, precision.parse_mixed_precision(text)) == (
            forced, None)


def test_cudnn_needs_a_gpu_no_xla_and_keras_cudnn_functions():
    assert devices.choose_cudnn(1, jit_compile=False, keras_has_cudnn=True)
    assert not devices.choose_cudnn(0, jit_compile=False, keras_has_cudnn=True)
    assert not devices.choose_cudnn(2, jit_compile=True, keras_has_cudnn=True)
    assert not devices.choose_cudnn(1, jit_compile=False, keras_has_cudnn=False)
    assert devices.use_cudnn() is False   # this machine has no GPU


def test_start_lines():
    assert (devices.start_line(A100, "one device", "mixed_bfloat16", cudnn=True) ==
            "Device: 1 x GPU (NVIDIA A100-SXM4-40GB), strategy: one device, "
            "precision: bfloat16, RNN: cuDNN in float32")
    assert (devices.start_line(T4, "mirrored (2 replicas)", "mixed_float16", cudnn=True) ==
            "Device: 2 x GPU (Tesla T4), strategy: mirrored (2 replicas), "
            "precision: float16 (loss scaling), RNN: cuDNN")
    assert devices.start_line(A100, "one device", "float32", cudnn=False).endswith(
        "RNN: loop (cuDNN is not used with --jit_compile)")
    _, note = precision.choose_policy(PLAIN_CPU, True)
    assert (devices.start_line(PLAIN_CPU, "one device", "float32", cudnn=False, note=note) ==
            "Device: 1 x CPU (2 cores), strategy: one device, precision: float32; "
            "--mixed_precision: this CPU has no bfloat16 instructions (--mixed_precision "
            "bfloat16 forces it)")


def test_a_gpu_that_tensorflow_cannot_use_is_named_in_the_start_line():
    assert devices.gpu_problem(gpu_present=False, built_with_cuda=True) is None
    assert "no CUDA support" in devices.gpu_problem(True, built_with_cuda=False)
    problem = devices.gpu_problem(True, built_with_cuda=True)
    assert "could not set it up" in problem and "SAMPLERNN_TF_LOGS=1" in problem
    line = devices.start_line(Devices("CPU", 1, cpu_cores=2, gpu_problem=problem),
                              "one device", "float32")
    assert line.startswith("Device: 1 x CPU (2 cores)") and line.endswith(problem)


def test_gpus_hidden_on_purpose_are_not_a_problem(monkeypatch, tmp_path):
    fake_smi = tmp_path / "nvidia-smi"
    fake_smi.write_text("#!/bin/sh\n")
    fake_smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert devices.nvidia_gpu_present()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not devices.nvidia_gpu_present()


def test_this_machine():
    found = devices.find_devices()
    assert found.kind == "CPU" and found.count == 1 and found.cpu_cores >= 1
    assert devices.describe_strategy() == "one device"

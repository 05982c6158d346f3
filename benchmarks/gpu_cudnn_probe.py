"""The cuDNN GRU kernel at the default model's tier shapes, in each precision,
against a step-by-step loop: evidence for the GPU choices in README "Speed".

    python benchmarks/gpu_cudnn_probe.py          # needs an NVIDIA GPU and PyTorch

Why PyTorch: the GPU machines lent to this project have PyTorch but no
TensorFlow (and no network to install it). PyTorch's ``nn.GRU`` calls the
same cuDNN RNN kernel that TensorFlow's ``CudnnRNNV3`` does, so this measures
that kernel, not our training step: it shows which precision cuDNN's GRU
runs fastest in, and how far a loop of per-step products (what the ``scan``
path does) is behind it. Each case is forward and backward over one window
of the default config (dim 1024, 4 layers, batch 64; the tiers step 16 and
64 times per 1,024-sample window); times are medians of 20 runs after 5
warm-up runs.
"""

import json
import statistics
import time

DIM, LAYERS, BATCH = 1024, 4, 64
TIER_STEPS = {"top tier (64-sample frames)": 16, "lower tier (16-sample frames)": 64}
WARMUP, RUNS = 5, 20


def timed(function, torch) -> float:
    for _ in range(WARMUP):
        function()
    torch.cuda.synchronize()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        function()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    import torch

    device = torch.device("cuda")
    print(f"GPU: {torch.cuda.get_device_name(0)}, compute capability "
          f"{torch.cuda.get_device_capability(0)}, cuDNN {torch.backends.cudnn.version()}, "
          f"PyTorch {torch.__version__}")
    results = []
    for tier, steps in TIER_STEPS.items():
        for dtype_name, dtype, tf32 in (("float32 (TF32 off)", torch.float32, False),
                                        ("float32 (TF32 on)", torch.float32, True),
                                        ("float16", torch.float16, True),
                                        ("bfloat16", torch.bfloat16, True)):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32
            gru = torch.nn.GRU(DIM, DIM, LAYERS, batch_first=True).to(device, dtype)
            gru.flatten_parameters()   # one contiguous weight buffer, as TensorFlow packs it
            cells = [torch.nn.GRUCell(DIM, DIM).to(device, dtype) for _ in range(LAYERS)]
            x = torch.randn(BATCH, steps, DIM, device=device, dtype=dtype, requires_grad=True)
            h0 = torch.zeros(LAYERS, BATCH, DIM, device=device, dtype=dtype, requires_grad=True)

            def fused():
                out, _ = gru(x, h0)
                out.float().sum().backward()

            def loop():
                layer_input = x
                for layer, cell in enumerate(cells):
                    h, outputs = h0[layer], []
                    for t in range(steps):
                        h = cell(layer_input[:, t], h)
                        outputs.append(h)
                    layer_input = torch.stack(outputs, dim=1)
                layer_input.float().sum().backward()

            try:
                fused_s = timed(fused, torch)
            except RuntimeError as e:   # a dtype cuDNN's RNN does not take
                fused_s = None
                print(f"{tier}, {dtype_name}: cuDNN GRU failed: {str(e).splitlines()[0]}")
            loop_s = timed(loop, torch)
            samples = BATCH * 1024
            row = {"tier": tier, "precision": dtype_name,
                   "cudnn_ms": None if fused_s is None else 1000 * fused_s,
                   "loop_ms": 1000 * loop_s,
                   "loop_over_cudnn": None if fused_s is None else loop_s / fused_s,
                   "window_samples_per_s_cudnn": None if fused_s is None else samples / fused_s}
            results.append(row)
            print(json.dumps(row), flush=True)
    print(f"{'tier':<32}{'precision':<20}{'cuDNN ms':>10}{'loop ms':>10}{'loop/cuDNN':>12}")
    for r in results:
        cudnn = f"{r['cudnn_ms']:.2f}" if r["cudnn_ms"] is not None else "failed"
        ratio = f"{r['loop_over_cudnn']:.1f}x" if r["loop_over_cudnn"] else "-"
        print(f"{r['tier']:<32}{r['precision']:<20}{cudnn:>10}{r['loop_ms']:>10.2f}{ratio:>12}")


if __name__ == "__main__":
    main()

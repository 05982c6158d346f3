"""Training throughput: samples per second and peak memory.

    python benchmarks/training.py                      # the cases of benchmarks/RESULTS.md
    python benchmarks/training.py --cases small:32:plain --steps 5

A case is ``config:batch_size:variant`` (config: ``default``, ``small`` or a
config JSON path); variants: ``plain`` (what train.py
runs by default), ``jit`` (the step compiled with XLA, ``--jit_compile True``),
``mixed`` (``--mixed_precision True``: the precision it picks for this device,
see samplernn/devices.py), ``bfloat16`` (bfloat16 whatever the device) and
``per_step_inputs`` (input projections computed inside the recurrent loop, one
time step at a time, instead of in one product ahead of it). Throughput = batch_size x seq_len /
median step time, after two warm-up steps; each case runs in its own process,
on whatever device is present (a GPU runs the RNNs through cuDNN, as train.py
does, except with ``jit``); each row names the device, precision and RNN path.
The last column, "% limit", is the step's matrix products (benchmarks/compute.py)
at this host's measured float32 matrix-product rate, over the step's time.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.compute import host_matmul_flops, training_flops  # noqa: E402
from benchmarks.generation import case_config  # noqa: E402
from benchmarks.harness import device_name, peak_memory_mb, run_isolated  # noqa: E402

DEFAULT_CASES = [f"{config}:32:{variant}" for config in ("default", "small")
                 for variant in ("plain", "jit", "mixed", "bfloat16", "per_step_inputs")]
WARMUP_STEPS = 2


def run_case(case: str, steps: int) -> dict:
    from samplernn.cli import quiet_tensorflow

    quiet_tensorflow()
    import keras
    import numpy as np
    import tensorflow as tf

    from samplernn import devices, optimizers, precision, training
    from samplernn.config import ModelConfig
    from samplernn.model import build_model

    name, batch, variant = case.split(":")
    batch = int(batch)
    policy, _ = precision.choose_policy(devices.find_devices(), variant == "mixed")
    precision.set_policy("mixed_bfloat16" if variant == "bfloat16" else policy)
    config = ModelConfig.from_dict(case_config(name))
    cudnn = devices.use_cudnn(jit_compile=variant == "jit")
    model = build_model(config, project_inputs_ahead=variant != "per_step_inputs",
                        use_cudnn=cudnn)
    optimizer = precision.with_loss_scaling(optimizers.make_optimizer("adam", 1e-3))
    trainer = training.Trainer(model, optimizer, jit_compile=variant == "jit")
    rng = np.random.default_rng(0)
    inputs = tf.constant(rng.integers(0, config.q_levels,
                                      (batch, config.top_frame_size + config.seq_len)), tf.int32)
    targets = inputs[:, config.top_frame_size:]
    states = model.initial_states(batch)
    times = []
    for step in range(WARMUP_STEPS + steps):
        start = time.perf_counter()
        loss, _, states = trainer.train_step(inputs, targets, tf.constant(step == 0), states)
        float(loss)
        times.append(time.perf_counter() - start)
    median = float(np.median(times[WARMUP_STEPS:]))
    return {"case": case, "sec_per_step": median, "step_flops": training_flops(config, batch),
            "samples_per_second": batch * config.seq_len / median,
            "peak_memory_mb": peak_memory_mb(), "device": device_name(),
            "precision": keras.mixed_precision.global_policy().name,
            "rnn": "cuDNN" if cudnn else "scan"}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after warm-up")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import json

        print(json.dumps(run_case(args.one, args.steps)))
        return
    rate = host_matmul_flops()
    print(f"host float32 matrix products: {rate / 1e9:.0f} GFLOP/s")
    print(f"{'case':<28}{'sec/step':>10}{'samples/s':>12}{'peak MB':>10}  {'precision':<16}"
          f"{'RNN':<7}{'% limit':>8}  device")
    for case in args.cases:
        r = run_isolated(__file__, case, "--steps", args.steps)
        limit = 100 * r["step_flops"] / rate / r["sec_per_step"]
        print(f"{r['case']:<28}{r['sec_per_step']:>10.3f}{r['samples_per_second']:>12,.0f}"
              f"{r['peak_memory_mb']:>10,.0f}  {r['precision']:<16}{r['rnn']:<7}{limit:>7.0f}%"
              f"  {r['device']}", flush=True)


if __name__ == "__main__":
    main()

"""Generation speed: samples per second, real-time factor and peak memory.

    python benchmarks/generation.py            # the four cases of benchmarks/RESULTS.md
    python benchmarks/generation.py --seconds 2 --cases small:16

Each case runs in its own process (so its peak memory is its own), generates
``--seconds`` of audio per sequence after a warm-up call that compiles the
sampler, and reports the total over the batch. Beside each figure it prints an
arithmetic limit: multiply-adds per sample over this machine's measured
matrix-multiply rate and, for one sequence, the bytes of weights read per
sample over the measured bandwidth of a large matrix-vector product.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.harness import peak_memory_mb, run_isolated  # noqa: E402

SAMPLE_RATE = 16000
BYTES_PER_WEIGHT = 4
CONFIGS = {
    "default": {},
    "small": {"dim": 256, "num_rnn_layers": 2, "seq_len": 512, "frame_sizes": [16, 64]},
}
DEFAULT_CASES = ["default:1", "default:16", "small:1", "small:16"]


def multiply_adds_per_sample(config) -> float:
    """Multiply-adds of one generated sample (per sequence), tiers amortized per frame."""
    gates = {"gru": 3, "lstm": 4}[config.rnn_type]
    dim = config.dim
    total = 2 * dim * dim + dim * config.q_levels          # sample MLP hidden + output
    sizes = (1,) + tuple(config.frame_sizes)
    for lower, size in zip(sizes, sizes[1:]):
        per_frame = size * dim                             # frame input map
        for layer in range(config.num_rnn_layers):
            input_dim = 2 * dim if (config.skip_conn and layer) else dim
            per_frame += (input_dim + dim) * gates * dim   # input and recurrent kernels
        if config.skip_conn:
            per_frame += config.num_rnn_layers * dim * dim
        per_frame += dim * (size // lower) * dim           # upsampling projections
        total += per_frame / size
    return total


def measure_machine():
    """(matmul multiply-adds per second, matrix-vector bytes per second)."""
    import tensorflow as tf

    n = 2048
    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    matmul = tf.function(lambda a, b: tf.matmul(a, b))
    matmul(a, b).numpy()
    start, repeats = time.perf_counter(), 10
    for _ in range(repeats):
        matmul(a, b).numpy()
    mac_rate = repeats * n ** 3 / (time.perf_counter() - start)
    weights = tf.random.normal([4096, 8192])
    vector = tf.random.normal([1, 4096])
    matvec = tf.function(lambda v, w: tf.matmul(v, w))
    matvec(vector, weights).numpy()
    start, repeats = time.perf_counter(), 50
    for _ in range(repeats):
        matvec(vector, weights).numpy()
    bandwidth = repeats * 4096 * 8192 * BYTES_PER_WEIGHT / (time.perf_counter() - start)
    return mac_rate, bandwidth


def run_case(name: str, num_seqs: int, seconds: float) -> dict:
    from samplernn.cli import quiet_tensorflow

    quiet_tensorflow()
    from samplernn.config import ModelConfig
    from samplernn.generation import Sampler
    from samplernn.model import build_model

    config = ModelConfig.from_dict({**CONFIGS[name], "sample_rate": SAMPLE_RATE})
    sampler = Sampler(build_model(config))
    for _ in sampler.generate(num_seqs, 4 * config.top_frame_size, [1.0]):
        pass  # compile
    samples = int(seconds * SAMPLE_RATE)
    start = time.perf_counter()
    for _ in sampler.generate(num_seqs, samples, [1.0]):
        pass
    elapsed = time.perf_counter() - start
    mac_rate, bandwidth = measure_machine()
    macs = multiply_adds_per_sample(config)
    result = {
        "case": f"{name}:{num_seqs}",
        "samples_per_second": num_seqs * samples / elapsed,
        "real_time_factor": num_seqs * samples / elapsed / SAMPLE_RATE,
        "peak_memory_mb": peak_memory_mb(),
        "multiply_adds_per_sample": macs,
        "compute_limit": mac_rate / macs,
    }
    if num_seqs == 1:
        result["bandwidth_limit"] = bandwidth / (macs * BYTES_PER_WEIGHT)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES,
                        help="config:num_seqs pairs; configs: " + ", ".join(CONFIGS))
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="audio seconds generated per sequence")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        name, num_seqs = args.one.split(":")
        print(json.dumps(run_case(name, int(num_seqs), args.seconds)))
        return
    print(f"{'case':<12}{'samples/s':>12}{'x real time':>13}{'peak MB':>10}"
          f"{'MACs/sample':>13}{'compute limit':>15}{'memory limit':>14}")
    for case in args.cases:
        r = run_isolated(__file__, case, "--seconds", args.seconds)
        memory_limit = f"{r['bandwidth_limit']:>14,.0f}" if "bandwidth_limit" in r else f"{'-':>14}"
        print(f"{r['case']:<12}{r['samples_per_second']:>12,.0f}{r['real_time_factor']:>13.2f}"
              f"{r['peak_memory_mb']:>10,.0f}{r['multiply_adds_per_sample']:>13,.0f}"
              f"{r['compute_limit']:>15,.0f}{memory_limit}", flush=True)


if __name__ == "__main__":
    main()

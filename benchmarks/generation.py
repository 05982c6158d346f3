"""Generation speed: samples per second, real-time factor and peak memory.

    python benchmarks/generation.py            # the four cases of benchmarks/RESULTS.md
    python benchmarks/generation.py --seconds 2 --cases small:16 small:1:exported

A case is ``config:num_seqs``, ``config:num_seqs:bfloat16`` (the sampler's
weights in bfloat16, ``generate.py --precision bfloat16``) or
``config:num_seqs:exported`` (the SavedModel written by export.py, loaded with
tf.saved_model.load and run through its ``generate`` function, as another
program would). Each case runs in its own
process (so its peak memory is its own), generates ``--seconds`` of audio per
sequence after a warm-up call that compiles the sampler, and reports the
total over the batch. Beside each figure it prints the compute limit:
multiply-adds per sample over this machine's measured matrix-multiply rate
(in the sampler's weight precision).

(An earlier version also printed a "memory limit" from the bandwidth of a
large matrix-vector product. It was not a limit: the per-sample weights of a
one-sequence run fit in the CPU's last-level cache, so the measured speed
exceeded it. It was dropped.)
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.harness import device_name, peak_memory_mb, run_isolated  # noqa: E402

SAMPLE_RATE = 16000
CONFIGS = {
    "default": {},
    "small": {"dim": 256, "num_rnn_layers": 2, "seq_len": 512, "frame_sizes": [16, 64]},
}
DEFAULT_CASES = ["default:1", "default:16", "small:1", "small:16"]


def case_config(name: str) -> dict:
    """A benchmark case's config keys: a name in CONFIGS, or a config JSON file's path."""
    if name in CONFIGS:
        return CONFIGS[name]
    if name.endswith(".json") and os.path.isfile(name):
        with open(name) as f:
            return json.load(f)
    raise SystemExit(f"unknown config {name!r}: use one of {', '.join(CONFIGS)} "
                     "or the path of a config JSON file")


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


def measure_matmul_rate(dtype: str = "float32") -> float:
    """Multiply-adds per second of a large matrix product in ``dtype`` on this device."""
    import tensorflow as tf

    n = 2048
    a, b = (tf.cast(tf.random.normal([n, n]), dtype) for _ in range(2))
    matmul = tf.function(lambda a, b: tf.matmul(a, b))
    matmul(a, b).numpy()
    start, repeats = time.perf_counter(), 10
    for _ in range(repeats):
        matmul(a, b).numpy()
    return repeats * n ** 3 / (time.perf_counter() - start)


def exported_generator(sampler, num_seqs: int):
    """``generate(num_samples)`` through a SavedModel of ``sampler``, as a client runs it."""
    import tempfile

    import tensorflow as tf

    from samplernn.export import export

    directory = os.path.join(tempfile.mkdtemp(), "exported")
    export(sampler, directory, "benchmark")
    model = tf.saved_model.load(directory)
    model.reset(tf.constant(num_seqs), tf.constant(0, tf.int64))
    temperatures = tf.ones([num_seqs])
    return lambda samples: model.generate(tf.constant(samples), temperatures)["audio"].numpy()


def run_case(case: str, seconds: float) -> dict:
    from samplernn.cli import quiet_tensorflow

    quiet_tensorflow()
    from samplernn.config import ModelConfig
    from samplernn.model import build_model
    from samplernn.sampler import Sampler

    name, num_seqs, *variant = case.split(":")
    num_seqs = int(num_seqs)
    config = ModelConfig.from_dict({**case_config(name), "sample_rate": SAMPLE_RATE})
    precision = "bfloat16" if variant == ["bfloat16"] else "float32"
    sampler = Sampler(build_model(config), precision=precision)
    if variant == ["exported"]:
        generate = exported_generator(sampler, num_seqs)
    else:
        def generate(samples):
            for _ in sampler.generate(num_seqs, samples, [1.0]):
                pass
    generate(4 * config.top_frame_size)   # compile
    samples = int(seconds * SAMPLE_RATE)
    start = time.perf_counter()
    generate(samples)
    elapsed = time.perf_counter() - start
    macs = multiply_adds_per_sample(config)
    return {
        "case": case,
        "samples_per_second": num_seqs * samples / elapsed,
        "real_time_factor": num_seqs * samples / elapsed / SAMPLE_RATE,
        "peak_memory_mb": peak_memory_mb(),
        "multiply_adds_per_sample": macs,
        "compute_limit": measure_matmul_rate(precision) / macs,
        "device": device_name(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES,
                        help="config:num_seqs[:bfloat16|:exported]; configs: "
                             + ", ".join(CONFIGS) + " or a config JSON path")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="audio seconds generated per sequence")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one, args.seconds)))
        return
    print(f"{'case':<20}{'samples/s':>12}{'x real time':>13}{'peak MB':>10}"
          f"{'MACs/sample':>13}{'compute limit':>15}{'% of limit':>12}  device")
    for case in args.cases:
        r = run_isolated(__file__, case, "--seconds", args.seconds)
        share = 100 * r["samples_per_second"] / r["compute_limit"]
        print(f"{r['case']:<20}{r['samples_per_second']:>12,.0f}{r['real_time_factor']:>13.2f}"
              f"{r['peak_memory_mb']:>10,.0f}{r['multiply_adds_per_sample']:>13,.0f}"
              f"{r['compute_limit']:>15,.0f}{share:>11.1f}%  {r['device']}", flush=True)


if __name__ == "__main__":
    main()

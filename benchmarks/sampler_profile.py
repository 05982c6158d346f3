"""Where one-sequence generation time goes: microseconds per sample, part by part.

    python benchmarks/sampler_profile.py                       # small and default, batch 1
    python benchmarks/sampler_profile.py --configs small --seconds 2 --num_seqs 16

Times the compiled sampler as generate.py runs it (``Sampler.frames``: many top
frames per call) for the sampler as it is and for variants in which one part
is replaced by a stand-in that keeps the data flowing but costs next to
nothing. A part's cost is the variant's saving against ``full``:

    full          the sampler as it is
    no_draw       the draw (random numbers, Gumbel noise, argmax over
                  logits / T) replaced by an argmax of the logits
    no_products   the sample-level MLP's three matrix products (two hidden
                  layers, the output layer) replaced by a slice of the first layer
    no_lookup     the first layer's table look-ups (a gather of F0 rows and
                  their sum) replaced by a broadcast of the last sample
    tiers_only    the whole sample level replaced by one argmax per lowest
                  frame: what is left is the frame tiers and the frame loop
    empty_samples the sample loop kept, each sample's work removed: the
                  loop's own cost per sample (with tiers_only subtracted)

Each case runs in its own process; figures are the best of ``--repeats`` timed
calls after a compiling warm-up.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.generation import SAMPLE_RATE, case_config  # noqa: E402
from benchmarks.harness import device_name, run_isolated  # noqa: E402

VARIANTS = ("full", "no_draw", "no_products", "no_lookup", "tiers_only", "empty_samples")
SECONDS = {"small": 1.0, "default": 0.25}    # audio per timed call, per sequence


def variant_sampler(name: str, model):
    """A Sampler of ``model`` with the part named by ``name`` replaced (see module docs)."""
    import tensorflow as tf

    from samplernn.sample_level import SampleLevel
    from samplernn.sampler import Sampler

    q = model.config.q_levels

    class Variant(SampleLevel):
        def choose(self, logits, temperatures, *args, **kwargs):
            if name == "no_draw":
                return tf.argmax(logits, axis=-1, output_type=tf.int32)
            return super().choose(logits, temperatures, *args, **kwargs)

        def head(self, first, conditioning):
            if name == "no_products":
                return (first + conditioning)[:, :q]
            return super().head(first, conditioning)

        def first_layer(self, history):
            if name == "no_lookup":
                last = tf.cast(history[:, -1:], tf.float32)
                return tf.broadcast_to(last, [tf.shape(history)[0], model.config.dim])
            return super().first_layer(history)

        def block(self, conditioning, history, temperatures, seed, first_index,
                  teacher, offset, truncating=False):
            f0 = self.frame_size
            if name == "tiers_only":
                chosen = tf.argmax(conditioning[:, :, :q], axis=-1, output_type=tf.int32)
                return tf.concat([history[:, f0:], chosen], axis=1), None
            if name == "empty_samples":
                def body(j, history):
                    chosen = tf.cast(conditioning[:, j, 0] > 0, tf.int32)
                    return j + 1, tf.concat([history[:, 1:], chosen[:, None]], axis=1)

                _, history = tf.while_loop(lambda j, *_: j < f0, body,
                                           (tf.constant(0), history))
                return history, None
            return super().block(conditioning, history, temperatures, seed,
                                 first_index, teacher, offset, truncating)

    return Sampler(model, sample_level=Variant)


def run_case(case: str, seconds: float, repeats: int) -> dict:
    from samplernn.cli import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    from samplernn.config import ModelConfig
    from samplernn.model import build_model

    config_name, num_seqs, variant = case.split(":")
    num_seqs = int(num_seqs)
    config = ModelConfig.from_dict({**case_config(config_name), "sample_rate": SAMPLE_RATE})
    sampler = variant_sampler(variant, build_model(config))
    top = config.top_frame_size
    frames = max(1, min(sampler.max_frames_per_call, int(seconds * SAMPLE_RATE) // top))
    history, states = sampler.initial(num_seqs)
    arguments = (history, states, tf.ones([num_seqs]), tf.constant(0, tf.int64),
                 tf.constant(0, tf.int64), tf.constant(frames, tf.int32))
    sampler._generate_frames(*arguments)[0].numpy()        # compile
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        sampler._generate_frames(*arguments)[0].numpy()
        best = min(best, time.perf_counter() - start)
    return {"case": case, "us_per_sample": 1e6 * best / (frames * top),
            "samples_per_second": num_seqs * frames * top / best, "device": device_name()}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["small", "default"])
    parser.add_argument("--num_seqs", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--seconds", type=float, default=None,
                        help="audio per timed call (default: 1 s small, 0.25 s default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        seconds = args.seconds or SECONDS.get(args.one.split(":")[0], 0.5)
        print(json.dumps(run_case(args.one, seconds, args.repeats)))
        return
    print(f"{'case':<28}{'us/sample':>11}{'samples/s':>12}{'saving vs full':>16}  device")
    for config_name in args.configs:
        full = None
        for variant in args.variants:
            extra = ["--repeats", args.repeats] + (["--seconds", args.seconds]
                                                   if args.seconds else [])
            r = run_isolated(__file__, f"{config_name}:{args.num_seqs}:{variant}", *extra)
            full = r["us_per_sample"] if variant == "full" else full
            saving = "" if full is None or variant == "full" else f"{full - r['us_per_sample']:.1f}"
            print(f"{r['case']:<28}{r['us_per_sample']:>11.2f}{r['samples_per_second']:>12,.0f}"
                  f"{saving:>16}  {r['device']}", flush=True)


if __name__ == "__main__":
    main()

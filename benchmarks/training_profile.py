"""Where a training step's time goes, piece by piece.

    python benchmarks/training_profile.py                         # demo, notes, default
    python benchmarks/training_profile.py --cases demo.config.json:16 --steps 20

A case is ``config:batch_size`` (config: ``default``, ``small`` or a config JSON
path). Each piece is its own compiled function (``tf.function``, as the training
step is), timed as the median of ``--steps`` calls after two warm-up calls,
on the same random window:

- ``tier<k> fwd`` / ``tier<k> fwd+bwd``: frame tier k (1 = top) over the window,
  alone, and with the gradient of a weighted sum of its output (its recurrent
  loop forward, then backward);
- ``mlp+loss fwd`` / ``mlp+loss fwd+bwd``: the sample-level MLP and the
  cross-entropy, given the conditioning;
- ``loss``: the cross-entropy alone, on fixed logits;
- ``optimizer``: Adam's update of every variable with fixed gradients (clipping
  after the cross-replica sum included, as in training);
- ``train step``: the whole compiled step (what train.py runs);
- ``input pipeline``: the next window of a real ``TrainingData`` stream
  (synthetic corpus), no training;
- ``fit per step``: ``training.fit`` over one epoch of that stream, per step:
  the step, the pipeline and the Python between steps.

The pieces overlap (fwd+bwd includes fwd) and do not add up exactly to the step:
the step fuses some work and TensorFlow runs independent ops in parallel.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.generation import case_config  # noqa: E402
from benchmarks.harness import device_name, run_isolated  # noqa: E402

DEFAULT_CASES = ["demo.config.json:16", "notes.config.json:16", "default:32"]
WARMUP_CALLS = 2


def median_seconds(function, calls: int) -> float:
    import numpy as np

    times = []
    for call in range(WARMUP_CALLS + calls):
        start = time.perf_counter()
        result = function()
        _ = [float(t.numpy().ravel()[0]) for t in _flat(result)]   # wait for the device
        times.append(time.perf_counter() - start)
    return float(np.median(times[WARMUP_CALLS:]))


def _flat(result):
    import tensorflow as tf

    return [t for t in tf.nest.flatten(result) if hasattr(t, "numpy")][:1]


def run_case(case: str, steps: int, jit: bool = False) -> dict:
    from samplernn.cli import quiet_tensorflow

    quiet_tensorflow()
    import numpy as np
    import tensorflow as tf

    from samplernn import checkpoints, optimizers, training
    from samplernn.config import ModelConfig
    from samplernn.data import TrainingData, split_sequences
    from samplernn.model import build_model, cross_entropy

    name, batch = case.split(":")
    batch = int(batch)
    config = ModelConfig.from_dict(case_config(name))
    model = build_model(config)
    optimizer = optimizers.make_optimizer("adam", 1e-3)
    trainer = training.Trainer(model, optimizer, jit_compile=jit)

    def compiled(function):
        return tf.function(function, jit_compile=jit)

    rng = np.random.default_rng(0)
    top, seq_len = config.top_frame_size, config.seq_len
    inputs = tf.constant(rng.integers(0, config.q_levels, (batch, top + seq_len)), tf.int32)
    targets = inputs[:, top:]
    states = model.initial_states(batch)
    timings = {}

    # Each frame tier, forward and forward + backward, on its real inputs.
    conditioning = None
    for k, tier in enumerate(model.tiers):
        f = tier.frame_size
        frames = tf.reshape(inputs[:, top - f: top - f + seq_len], [batch, -1, f])
        tier_states = states[k]
        below = conditioning
        out, _ = tier(frames, below, tier_states)
        weights = tf.constant(rng.normal(size=out.shape), tf.float32)

        def forward(tier=tier, frames=frames, below=below, tier_states=tier_states):
            return tier(frames, below, tier_states)[0]

        def backward(tier=tier, frames=frames, below=below, tier_states=tier_states,
                     weights=weights):
            with tf.GradientTape() as tape:
                out, _ = tier(frames, below, tier_states)
                total = tf.reduce_sum(out * weights)
            return tape.gradient(total, tier.trainable_variables)

        timings[f"tier{k + 1} fwd"] = median_seconds(compiled(forward), steps)
        timings[f"tier{k + 1} fwd+bwd"] = median_seconds(compiled(backward), steps)
        conditioning = out

    mlp = model.sample_mlp

    def mlp_forward():
        return cross_entropy(mlp(inputs, conditioning), targets)

    def mlp_backward():
        with tf.GradientTape() as tape:
            loss = cross_entropy(mlp(inputs, conditioning), targets)
        return tape.gradient(loss, mlp.trainable_variables)

    timings["mlp+loss fwd"] = median_seconds(compiled(mlp_forward), steps)
    timings["mlp+loss fwd+bwd"] = median_seconds(compiled(mlp_backward), steps)
    logits = tf.constant(rng.normal(size=(batch, seq_len, config.q_levels)), tf.float32)
    timings["loss"] = median_seconds(compiled(lambda: cross_entropy(logits, targets)), steps)

    variables = model.trainable_variables
    gradients = [tf.constant(rng.normal(size=v.shape) * 1e-3, tf.float32) for v in variables]

    def update():
        optimizer.apply_gradients(zip(gradients, variables))
        return optimizer.iterations

    timings["optimizer"] = median_seconds(compiled(update), steps)
    reset = tf.constant(False)
    timings["train step"] = median_seconds(
        lambda: trainer.train_step(inputs, targets, reset, states)[0], steps)

    # The input pipeline and the loop, on a synthetic corpus of this shape.
    sequence_length = top + seq_len * 4
    sequences = rng.integers(0, config.q_levels, (batch * 8, sequence_length)).astype(np.int32)
    data = TrainingData(split_sequences(sequences, batch, 0), 4, config, batch)
    stream = iter(data.train_dataset(0).repeat())
    timings["input pipeline"] = median_seconds(lambda: next(stream)[0], steps)
    progress = checkpoints.Progress()
    training.fit(trainer, data, 1, progress)            # compiles for this stream
    start = time.perf_counter()
    training.fit(trainer, data, 2, progress)
    timings["fit per step"] = (time.perf_counter() - start) / data.train_steps_per_epoch
    return {"case": case, "samples_per_step": batch * seq_len, "timings": timings,
            "device": device_name()}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES)
    parser.add_argument("--steps", type=int, default=10, help="timed calls per piece")
    parser.add_argument("--jit", action="store_true",
                        help="compile every piece, and the step, with XLA (--jit_compile True)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import json

        print(json.dumps(run_case(args.one, args.steps, args.jit)))
        return
    for case in args.cases:
        r = run_isolated(__file__, case, "--steps", args.steps, *(["--jit"] if args.jit else []))
        step = r["timings"]["train step"]
        print(f"{r['case']} ({r['samples_per_step']} samples per step, {r['device']}): "
              f"train step {1000 * step:.1f} ms, {r['samples_per_step'] / step:,.0f} samples/s")
        for piece, seconds in r["timings"].items():
            print(f"  {piece:<20}{1000 * seconds:>9.2f} ms  {100 * seconds / step:>5.0f}%")


if __name__ == "__main__":
    main()

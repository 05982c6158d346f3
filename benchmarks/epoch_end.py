"""How long the end of an epoch's stream takes, with tf.data's autotuning on and off.

    python benchmarks/epoch_end.py                       # epochs of 3 and 50 s, 3 times each
    python benchmarks/epoch_end.py --data_dir /tmp/study/music64/train --seconds 50

Training reads one window per step; at an epoch's end the stream runs out and
its iterator is freed. With tf.data's autotuning on, that end can wait for the
tuning thread's next wake-up, and the thread sleeps longer and longer between
passes (up to 60 s). This reads a whole epoch's training stream slowly, as
training steps would (a sleep per window, so the figures do not depend on the
CPU), in about the given time, and prints the time to the last window and from
it to the loop's end: ``off`` is the stream as samplernn/data.py builds it,
``on`` the stream as it was before (an autotuned prefetch buffer, autotuning
on). Whether a given end waits varies with the thread's schedule, so each read
is repeated.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.harness import REPO_ROOT  # noqa: E402


def end_time(pipeline, autotune: bool, seconds: float) -> tuple:
    """Read one epoch's stream to its end in about ``seconds`` (a sleep per window):
    (seconds to the last window, seconds from it to the loop's end, freeing included)."""
    import tensorflow as tf

    from samplernn import data

    fixed_buffer = data.PREFETCH_WINDOWS
    if autotune:   # the stream as it was: an autotuned prefetch buffer, autotuning on
        data.PREFETCH_WINDOWS = tf.data.AUTOTUNE
    try:
        stream = pipeline.train_dataset(0)
    finally:
        data.PREFETCH_WINDOWS = fixed_buffer
    if autotune:
        options = tf.data.Options()
        options.autotune.enabled = True
        stream = stream.with_options(options)
    pause = seconds / pipeline.train_steps_per_epoch
    started = time.perf_counter()
    for _ in stream:            # as training.fit reads it
        time.sleep(pause)
        last = time.perf_counter()
    return last - started, time.perf_counter() - last


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[3, 50],
                        help="how long each read of a whole epoch's stream lasts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data_dir", help="a corpus to stream, read as train.py would with "
                        "demo.config.json and --batch_size 8 (default: a synthetic one)")
    args = parser.parse_args()
    from samplernn.cli import quiet_tensorflow

    quiet_tensorflow()
    import numpy as np

    from samplernn import data
    from samplernn.config import ModelConfig

    if args.data_dir:
        from samplernn.config import load_config

        config = load_config(os.path.join(REPO_ROOT, "demo.config.json"), sample_rate=16000)
        pipeline = data.TrainingData.from_directory(args.data_dir, config, 8, num_val_batches=0)
    else:
        config = ModelConfig.from_dict({"frame_sizes": [4, 16], "seq_len": 64, "dim": 16})
        windows = 1000
        length = config.top_frame_size + windows * config.seq_len
        sequences = np.arange(4 * length).reshape(4, length) % config.q_levels
        pipeline = data.TrainingData(data.split_sequences(sequences, 4, num_val_batches=0),
                                     windows, config, 4)
    print(f"{'autotune':>8} {'read (s)':>9} {'end (s)':>8}")
    for seconds in args.seconds:
        for autotune in [False, True] * args.repeats:
            read, end = end_time(pipeline, autotune, seconds)
            print(f"{'on' if autotune else 'off':>8} {read:9.2f} {end:8.3f}", flush=True)


if __name__ == "__main__":
    main()

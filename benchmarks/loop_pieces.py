"""Cost of one piece of the sample-level step inside an XLA-compiled loop, at batch 1.

    python benchmarks/loop_pieces.py                  # every piece
    python benchmarks/loop_pieces.py uniform_threefry product

Each piece runs ITERATIONS times in one ``tf.while_loop`` (jit-compiled), its
result carried into the loop's output so that XLA cannot remove it; the figure is
the best of three timed calls, in microseconds per iteration.
"""

import sys
import time

import numpy as np
import tensorflow as tf

ITERATIONS = 20_000
DIM = 256            # the small benchmark model's dim and q_levels
REPEATS = 3

rng = np.random.default_rng(0)
kernel = tf.Variable(rng.standard_normal((DIM, DIM)).astype(np.float32) * 0.05)
kernel_with_bias = tf.Variable(rng.standard_normal((DIM + 1, DIM)).astype(np.float32) * 0.05)
bias = tf.Variable(rng.standard_normal((DIM,)).astype(np.float32))


def uniform(index, alg):
    seed = tf.stack([tf.constant(1, tf.int64), tf.cast(index, tf.int64)])
    return tf.random.stateless_uniform([1, DIM], seed=seed, minval=1e-20, maxval=1.0, alg=alg)


# Each piece: (index, h [1, DIM]) -> (new h [1, DIM], an int32 scalar to carry).
PIECES = {
    "empty": lambda i, h: (h, 0),
    "product": lambda i, h: (tf.nn.relu(tf.matmul(h, kernel)) * 0.1, 0),
    "product_bias_add": lambda i, h: (tf.nn.relu(tf.matmul(h, kernel) + bias) * 0.1, 0),
    "product_bias_row": lambda i, h: (tf.nn.relu(tf.matmul(
        tf.concat([h, tf.ones([1, 1])], axis=1), kernel_with_bias)) * 0.1, 0),
    "product_as_reduce": lambda i, h: (tf.nn.relu(
        tf.reduce_sum(h[0][:, None] * kernel, axis=0)[None] + bias) * 0.1, 0),
    "argmax": lambda i, h: (h, tf.argmax(h[0] + tf.cast(i, tf.float32), output_type=tf.int32)),
    "uniform_auto_select": lambda i, h: (h + 1e-9 * uniform(i, "auto_select"), 0),
    "uniform_philox": lambda i, h: (h + 1e-9 * uniform(i, "philox"), 0),
    "uniform_threefry": lambda i, h: (h + 1e-9 * uniform(i, "threefry"), 0),
}


def looped(piece):
    def run():
        def body(i, h, carried):
            h, value = piece(i, h)
            return i + 1, h, carried + value
        _, h, carried = tf.while_loop(lambda i, *_: i < ITERATIONS, body,
                                      (tf.constant(0), tf.fill([1, DIM], 0.01), tf.constant(0)))
        return tf.cast(carried, tf.float32) + tf.reduce_sum(h)
    return tf.function(run, jit_compile=True, autograph=False)


def main():
    names = sys.argv[1:] or list(PIECES)
    for name in names:
        function = looped(PIECES[name])
        function().numpy()   # compile
        best = float("inf")
        for _ in range(REPEATS):
            started = time.perf_counter()
            function().numpy()
            best = min(best, time.perf_counter() - started)
        print(f"{name:22s} {best / ITERATIONS * 1e6:7.2f} us/iteration", flush=True)


if __name__ == "__main__":
    main()

"""How much arithmetic a training step needs, and how fast this host multiplies
matrices: together, the "% of compute limit" of benchmarks/training.py.

The count is of multiply-adds in the matrix products of one training window
(``batch`` rows of ``seq_len`` samples), forward; training counts three times that
(the backward pass computes two products per forward one). Gathers, element-wise
work, the softmax and the optimizer are left out: the limit is what the products
alone would take at the host's matrix-product rate.
"""

from __future__ import annotations

import time

TRAINING_PASSES = 3      # forward, and two products per forward one backward
FLOPS_PER_MAC = 2
GATES = {"gru": 3, "lstm": 4}
MATMUL_SIZE = 2048       # a square float32 product big enough to run at full speed


def forward_macs(config, batch: int) -> int:
    """Multiply-adds of one forward pass over a window: frame tiers, then the MLP."""
    dim, sizes, seq_len = config.dim, config.frame_sizes, config.seq_len
    gates = GATES[config.rnn_type]
    total = 0
    for k, frame in enumerate(sizes):
        ratio = frame // (sizes[k - 1] if k else 1)
        per_step = frame * dim + ratio * dim * dim               # input map, upsampling
        for layer in range(config.num_rnn_layers):
            width = 2 * dim if (config.skip_conn and layer) else dim
            per_step += width * gates * dim + dim * gates * dim  # input and recurrent maps
        if config.skip_conn:
            per_step += config.num_rnn_layers * dim * dim
        total += batch * (seq_len // frame) * per_step
    per_sample = 2 * dim * dim + dim * config.q_levels           # hidden layers, output
    tables = config.q_levels * config.emb_size * config.sample_frame_size * dim
    return total + batch * seq_len * per_sample + tables


def training_flops(config, batch: int) -> float:
    """Floating-point operations of the products of one training step."""
    return float(TRAINING_PASSES * FLOPS_PER_MAC * forward_macs(config, batch))


def host_matmul_flops(repeats: int = 5) -> float:
    """This host's float32 matrix-product rate (FLOP/s), best of ``repeats``
    ``MATMUL_SIZE``-square products with NumPy (all cores, as TensorFlow uses)."""
    import numpy as np

    a = np.random.default_rng(0).random((MATMUL_SIZE, MATMUL_SIZE), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return FLOPS_PER_MAC * MATMUL_SIZE ** 3 / best

"""Run by tests/test_distribute.py in a fresh process (logical devices must be set
before TensorFlow starts): for each scenario, train a few steps on one device and
with MirroredStrategy over two logical CPUs from the same weights; print one JSON
line, ``{scenario: figures}``.

    python tests/mirrored_check.py DEMO_DIR

Scenarios (optimizer, learning rate, element-wise clip, steps):
- ``adam``: Adam at 3e-3, clip 1.0, 6 steps; the usual training.
- ``clip``: SGD at 1.0, clip 1e-4, 3 steps; the clip binds on most elements.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from conftest import tiny_config  # noqa: E402
from samplernn import distribute, optimizers, training  # noqa: E402
from samplernn.data import TrainingData  # noqa: E402
from samplernn.model import build_model  # noqa: E402

WEIGHTS_APART = 1e-4
SCENARIOS = {"adam": ("adam", 3e-3, 1.0, 6), "clip": ("sgd", 1.0, 1e-4, 3)}


def train(strategy, data, config, initial_weights, optimizer_name, learning_rate, steps):
    with strategy.scope():
        model = build_model(config)
        optimizer = optimizers.make_optimizer(optimizer_name, learning_rate, momentum=0.0)
    for name, variable in model.variables_by_path().items():
        variable.assign(initial_weights[name])
    trainer = training.Trainer(model, optimizer, strategy=strategy)
    before = trainer.evaluate(data)["loss"]
    states = trainer.initial_states(data.batch_size)
    dataset = data.distributed(strategy, lambda shard: data.train_dataset(0, shard))
    losses = []
    for (inputs, targets, reset), _ in zip(dataset, range(steps)):
        loss, _, states = trainer.train_step(inputs, targets, reset, states)
        losses.append(float(loss))
    weights = {k: v.numpy() for k, v in model.variables_by_path().items()}
    return losses, weights, before, trainer.evaluate(data)


def scenario(data, config, optimizer_name, learning_rate, clip, steps):
    """One device and two mirrored replicas from the same weights: their figures."""
    optimizers.GRADIENT_CLIP_VALUE = clip   # read when the optimizer is made
    initial = {k: v.numpy() for k, v in build_model(config).variables_by_path().items()}
    setting = (optimizer_name, learning_rate, steps)
    single_losses, single_weights, single_before, single_eval = train(
        tf.distribute.get_strategy(), data, config, initial, *setting)
    mirrored = distribute.make_strategy("mirrored")
    mirrored_losses, mirrored_weights, _, mirrored_eval = train(mirrored, data, config,
                                                                initial, *setting)
    differences = np.concatenate([np.abs(single_weights[k] - mirrored_weights[k]).ravel()
                                  for k in single_weights])
    difference = float(differences.max())
    # Elements that moved by the most clipping allows at every step: the clip binds.
    most = steps * learning_rate * clip
    moves = np.concatenate([np.abs(single_weights[k] - initial[k]).ravel() for k in initial])
    return {"replicas": mirrored.num_replicas_in_sync, "single": single_losses,
            "mirrored": mirrored_losses, "max_weight_difference": difference,
            "weights_apart": int(np.sum(differences > WEIGHTS_APART)),
            "weights": int(differences.size),
            "single_val_before": single_before, "single_val": single_eval["loss"],
            "mirrored_val": mirrored_eval["loss"],
            "largest_move": float(moves.max()) / most,
            "elements_at_clip": int(np.sum(moves > 0.999 * most))}


def main():
    config = tiny_config()
    data = TrainingData.from_directory(sys.argv[1], config, batch_size=4, num_val_batches=1)
    print(json.dumps({name: scenario(data, config, *setting)
                      for name, setting in SCENARIOS.items()}))


if __name__ == "__main__":
    main()

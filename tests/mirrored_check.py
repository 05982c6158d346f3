"""Run by tests/test_distribute.py in a fresh process (logical devices must be set
before TensorFlow starts): train a few steps on one device and with
MirroredStrategy over two logical CPUs from the same weights; print JSON.

    python tests/mirrored_check.py DEMO_DIR [OPTIMIZER LEARNING_RATE CLIP STEPS]
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
from samplernn import distribute, training  # noqa: E402
from samplernn.data import TrainingData  # noqa: E402
from samplernn.model import build_model  # noqa: E402

OPTIMIZER, LEARNING_RATE, CLIP, STEPS = (sys.argv[2:] + ["adam", "3e-3", "1.0", "6"][
    len(sys.argv) - 2:])[:4]
LEARNING_RATE, STEPS = float(LEARNING_RATE), int(STEPS)
training.GRADIENT_CLIP_VALUE = float(CLIP)


def train(strategy, data, config, initial_weights):
    with strategy.scope():
        model = build_model(config)
        optimizer = training.make_optimizer(OPTIMIZER, LEARNING_RATE, momentum=0.0)
    for name, variable in model.variables_by_path().items():
        variable.assign(initial_weights[name])
    trainer = training.Trainer(model, optimizer, strategy=strategy)
    states = trainer.initial_states(data.batch_size)
    dataset = data.distributed(strategy, lambda shard: data.train_dataset(0, shard))
    losses = []
    for (inputs, targets, reset), _ in zip(dataset, range(STEPS)):
        loss, _, states = trainer.train_step(inputs, targets, reset, states)
        losses.append(float(loss))
    weights = {k: v.numpy() for k, v in model.variables_by_path().items()}
    return losses, weights, trainer.evaluate(data)


def main():
    data_dir = sys.argv[1]
    config = tiny_config()
    data = TrainingData.from_directory(data_dir, config, batch_size=4, num_val_batches=1)
    initial = {k: v.numpy() for k, v in build_model(config).variables_by_path().items()}
    single_losses, single_weights, single_eval = train(tf.distribute.get_strategy(), data,
                                                       config, initial)
    mirrored = distribute.make_strategy("mirrored")
    mirrored_losses, mirrored_weights, mirrored_eval = train(mirrored, data, config, initial)
    difference = max(float(np.max(np.abs(single_weights[k] - mirrored_weights[k])))
                     for k in single_weights)
    # Elements that moved by the most clipping allows at every step: the clip binds.
    most = STEPS * LEARNING_RATE * training.GRADIENT_CLIP_VALUE
    moves = np.concatenate([np.abs(single_weights[k] - initial[k]).ravel() for k in initial])
    print(json.dumps({"replicas": mirrored.num_replicas_in_sync, "single": single_losses,
                      "mirrored": mirrored_losses, "max_weight_difference": difference,
                      "single_val": single_eval["loss"], "mirrored_val": mirrored_eval["loss"],
                      "largest_move": float(moves.max()) / most,
                      "elements_at_clip": int(np.sum(moves > 0.999 * most))}))


if __name__ == "__main__":
    main()

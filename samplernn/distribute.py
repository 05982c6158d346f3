"""Training on several devices or machines with ``tf.distribute``.

Strategies (``train.py --strategy``):

    auto          one device, or MirroredStrategy when several GPUs are visible
    mirrored      MirroredStrategy over all local GPUs (or all logical CPU
                  devices when there is no GPU)
    multi_worker  MultiWorkerMirroredStrategy, configured from TF_CONFIG
    tpu           TPUStrategy (e.g. a Colab TPU)

``--batch_size`` stays the global batch: each replica trains on
``batch_size / replicas`` of the rows, and carries and resets the RNN state
of its own rows. Only the chief writes into the user's directories
(checkpoints, logs, audio); other workers save their checkpoints, as
TensorFlow requires every worker to, into temporary directories they remove.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile

import tensorflow as tf

from samplernn.errors import UserError

STRATEGIES = ("auto", "mirrored", "multi_worker", "tpu")


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name not in STRATEGIES:
        raise UserError(f"unknown --strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    # Nothing here may start TensorFlow's runtime before MultiWorkerMirroredStrategy
    # exists (listing physical devices does not; listing logical ones does).
    if name == "auto":
        several_gpus = len(tf.config.list_physical_devices("GPU")) > 1
        return tf.distribute.MirroredStrategy() if several_gpus else tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("--strategy multi_worker needs the TF_CONFIG environment variable "
                            "(see README: Training on several machines)")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as e:
            raise UserError(f"TF_CONFIG is not valid JSON: {e.msg}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as e:
        raise UserError(f"--strategy tpu: no TPU found ({str(e).splitlines()[0]}); on Colab "
                        f"choose a TPU runtime, or use --strategy auto") from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the one worker that writes checkpoints, logs and audio."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def per_replica_batch_size(strategy: tf.distribute.Strategy, batch_size: int) -> int:
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UserError(f"--batch_size {batch_size} does not divide among {replicas} replicas; "
                        f"use a multiple of {replicas}")
    return batch_size // replicas


class ThrowawayCheckpoints:
    """What a non-chief worker saves to: a temporary directory, removed after each save.

    Has the ``save(checkpoint_number)`` method of ``tf.train.CheckpointManager``.
    """

    directory = "(a temporary directory)"

    def __init__(self, checkpoint: tf.train.Checkpoint):
        self.checkpoint = checkpoint

    def save(self, checkpoint_number: int) -> str:
        directory = tempfile.mkdtemp(prefix="samplernn-worker-")
        try:
            return self.checkpoint.write(os.path.join(directory, f"model.ckpt-{checkpoint_number}"))
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(directory)

"""The optimizers: Keras's Adam, SGD and RMSprop, clipped after the replicas' sum.

Adam's update on one device runs as TensorFlow's fused ``ResourceApplyAdam``
kernel, one op per variable instead of Keras's dozen (the same arithmetic:
``tests/test_model.py`` checks it against Keras's own update).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from samplernn.errors import UserError

GRADIENT_CLIP_VALUE = 1.0          # element-wise clipping, as PRiSM and the paper's code do
OPTIMIZERS = ("adam", "sgd", "rmsprop")


class ClipAfterSum:
    """Optimizer mixin: clip each gradient element after the cross-replica sum.

    Keras clips in ``apply`` (``_clip_gradients``), before its TensorFlow
    backend sums the replicas' gradients (``_all_reduce_sum_gradients``), so
    with R replicas each clips its own share and the bound on the sum is R
    times looser: training on several replicas then differs from one device
    whenever clipping binds. This mixin moves the clip after the sum (on one
    device the "sum" is the gradient itself), so every replica count trains alike.
    """

    def __init__(self, *args, clip_value: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_value = clip_value

    def _clip_gradients(self, grads):
        return grads  # Keras's hook before the sum: clipping happens below instead

    def _all_reduce_sum_gradients(self, grads_and_vars):
        summed = super()._all_reduce_sum_gradients(grads_and_vars)
        bound = self.clip_value
        return [(None if g is None else tf.clip_by_value(g, -bound, bound), v)
                for g, v in summed]


class FusedAdam(keras.optimizers.Adam):
    """Keras's Adam whose per-variable update is one fused kernel on one device.

    Keras writes the update as about a dozen small ops per variable (powers, casts,
    two moment updates, the step); for the demo model's 38 variables that was a
    tenth of the training step on a CPU. ``ResourceApplyAdam`` computes the same
    ``m``, ``v`` and ``lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + eps)``
    in one op. Under a ``tf.distribute`` strategy, and with ``amsgrad``, Keras's
    own update runs.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))


def _clipped(optimizer_class):
    return type(optimizer_class.__name__, (ClipAfterSum, optimizer_class), {})


_OPTIMIZER_CLASSES = {"adam": _clipped(FusedAdam),
                      "sgd": _clipped(keras.optimizers.SGD),
                      "rmsprop": _clipped(keras.optimizers.RMSprop)}


def make_optimizer(name: str, learning_rate: float, momentum: float = 0.9):
    """A Keras optimizer that clips the (cross-replica summed) gradient element-wise."""
    name = name.lower()
    if learning_rate <= 0:
        raise UserError(f"--learning_rate must be positive, got {learning_rate}")
    if name not in _OPTIMIZER_CLASSES:
        raise UserError(f"unknown --optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    extra = {} if name == "adam" else {"momentum": momentum}
    return _OPTIMIZER_CLASSES[name](learning_rate, clip_value=GRADIENT_CLIP_VALUE, **extra)

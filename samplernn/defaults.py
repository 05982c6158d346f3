"""Defaults that several scripts share (training: PRiSM's documented values).

Kept free of TensorFlow imports, so that scripts can build their argument
parsers before TensorFlow loads.
"""

OPTIMIZER = "adam"
LEARNING_RATE = 0.001
MOMENTUM = 0.9
BATCH_SIZE = 64
NUM_VAL_BATCHES = 1
EARLY_STOPPING_PATIENCE = 3
RANDOM_SEED = 0
TEMPERATURE = 0.75  # of generated audio, for a run that records none (PRiSM's)
TOP_P = 1.0         # nucleus sampling off, for a run that records none
MIN_P = 0.0         # min-p sampling off, for a run that records none


def optimizer_settings() -> dict:
    """The settings tune.py takes from here for whatever it does not search over."""
    return {"optimizer": OPTIMIZER, "learning_rate": LEARNING_RATE, "momentum": MOMENTUM,
            "batch_size": BATCH_SIZE}

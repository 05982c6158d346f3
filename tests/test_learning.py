"""The model learns: validation NLL well below the corpus's unigram entropy."""

import pytest
import keras
import numpy as np

from samplernn import checkpoints, optimizers, training
from samplernn.data import TrainingData, cut_sequences, find_audio_files, load_quantized_files
from samplernn.demo import write_demo_corpus
from samplernn.model import build_model
from conftest import tiny_config

TRAINING_EPOCHS = 3


def unigram_entropy_bits(classes: np.ndarray) -> float:
    p = np.bincount(classes.ravel()) / classes.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


@pytest.mark.slow
def test_small_model_beats_unigram_entropy_by_30_percent(tmp_path):
    write_demo_corpus(str(tmp_path), num_files=12, seconds=2.0, sample_rate=8000)
    config = tiny_config(dim=64, seq_len=128, emb_size=32)
    files = load_quantized_files(find_audio_files(str(tmp_path)), config)
    entropy = unigram_entropy_bits(cut_sequences(files, config)[0])
    data = TrainingData.from_directory(str(tmp_path), config, batch_size=4, num_val_batches=1)
    keras.utils.set_random_seed(0)
    model = build_model(config)
    trainer = training.Trainer(model, optimizers.make_optimizer("adam", 3e-3))
    result = training.fit(trainer, data, TRAINING_EPOCHS, checkpoints.Progress())
    validation_bits = result.history[-1]["val_bits_per_sample"]
    assert entropy > 7.0  # mu-law spreads this audio over most of the 256 classes
    assert validation_bits < 0.7 * entropy, (validation_bits, entropy)

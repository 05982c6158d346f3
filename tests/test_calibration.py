"""Choosing a run's temperature: the candidate whose audio keeps playing with notes like
the corpus wins; train.py records it unless --temperature was given."""

import json
import os

import numpy as np
import pytest

from samplernn import calibration, quantization
from samplernn.demo import synthesize
from conftest import tiny_config

RATE = 8000


class CannedSampler:
    """A sampler whose audio at each temperature is given: notes, noise or silence."""

    def __init__(self, by_temperature):
        self.config = tiny_config(sample_rate=RATE)
        self.by_temperature = by_temperature
        self.primes = []

    def generate(self, num_seqs, num_samples, temperatures, random_seed=0, seed_classes=None):
        self.primes.append(seed_classes)
        audio = self.by_temperature[temperatures[0]](num_samples)
        classes = quantization.quantize(audio, "mu-law", 256)
        yield np.tile(classes[None], [num_seqs, 1])


def notes(samples):
    return synthesize(samples / RATE, RATE, np.random.default_rng(5))


def noise(samples):
    return (0.3 * np.random.default_rng(6).standard_normal(samples)).astype(np.float32)


def silence(samples):
    return np.zeros(samples, np.float32)


@pytest.mark.parametrize("winner", [0.9, 0.95, 1.0])
def test_the_temperature_whose_audio_has_notes_wins(winner):
    corpus = np.stack([synthesize(4.0, RATE, np.random.default_rng(s)) for s in range(4)])
    kinds = {t: (notes if t == winner else (noise if t > winner else silence))
             for t in calibration.CANDIDATES}
    sampler = CannedSampler(kinds)
    prime = np.zeros((2, 32), np.int32)
    chosen, trials = calibration.choose_temperature(sampler, corpus, prime, seconds=4.0,
                                                    sequences=2)
    assert chosen == winner
    by_temperature = {t.temperature: t for t in trials}
    assert by_temperature[winner].score > 0.5 and by_temperature[winner].with_notes == 2
    assert all(t.score == 0 for t in trials if t.temperature != winner)
    assert all(p is prime for p in sampler.primes)   # each candidate primed as generate.py


def test_a_tie_goes_to_the_preferred_candidate():
    sampler = CannedSampler({t: noise for t in calibration.CANDIDATES})
    corpus = np.stack([synthesize(4.0, RATE, np.random.default_rng(s)) for s in range(2)])
    chosen, _ = calibration.choose_temperature(sampler, corpus, seconds=4.0, sequences=1)
    assert chosen == calibration.CANDIDATES[0]


def test_train_py_records_the_temperature_it_chose(tmp_path, demo_dir):
    import train
    from samplernn import run_record, runs
    from samplernn.config import save_config

    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(), config_path)
    common = ["--data_dir", demo_dir, "--config_file", config_path, "--logdir_root",
              str(tmp_path / "logdir"), "--output_dir", str(tmp_path / "gen"),
              "--batch_size", "4", "--num_epochs", "1", "--output_file_dur", "0.1"]
    assert train.main(["--id", "chosen"] + common) == 0
    run_dir = runs.run_dirs(str(tmp_path / "logdir" / "chosen"))[-1]
    recorded = json.load(open(os.path.join(run_dir, run_record.TEMPERATURE_FILE)))
    assert recorded["temperature"][0] in calibration.CANDIDATES
    assert train.main(["--id", "given", "--temperature", "0.8"] + common) == 0
    run_dir = runs.run_dirs(str(tmp_path / "logdir" / "given"))[-1]
    assert run_record.recorded_temperatures(os.path.join(run_dir, "x")) == [0.8]

"""Shared fixtures: tiny configs and generated audio files."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile  # noqa: E402

from samplernn.config import ModelConfig  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**changes) -> ModelConfig:
    """The issue's tiny test model: dim 32, 1 layer, seq_len 64, frames [4, 16]."""
    values = dict(seq_len=64, frame_sizes=[4, 16], dim=32, num_rnn_layers=1, emb_size=16,
                  q_type="mu-law", sample_rate=8000)
    values.update(changes)
    return ModelConfig.from_dict(values)


def write_tone(path, seconds, sample_rate, frequency=220.0, channels=1, amplitude=0.5):
    """A sine tone written as 16-bit WAV (or another format by extension)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    audio = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    if channels > 1:
        audio = np.stack([audio] * channels, axis=1)
    soundfile.write(path, audio, sample_rate)
    return path


DEMO_SECONDS, DEMO_SAMPLE_RATE = 0.4, 8000   # short files: few steps per test epoch


def write_demo_dir(directory) -> str:
    """Write 8 synthetic files of DEMO_SECONDS at DEMO_SAMPLE_RATE into ``directory``."""
    from samplernn.demo import write_demo_corpus

    write_demo_corpus(str(directory), num_files=8, seconds=DEMO_SECONDS,
                      sample_rate=DEMO_SAMPLE_RATE)
    return str(directory)


@pytest.fixture
def demo_dir(tmp_path):
    """A directory of 8 synthetic files of DEMO_SECONDS at DEMO_SAMPLE_RATE."""
    return write_demo_dir(tmp_path / "demo")


TRAINED_TEMPERATURES = ["0.75", "0.9"]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One real train.py run shared by the tests that only read what it wrote: the
    tiny model, 2 epochs on the demo corpus, one file generated after each epoch
    at each of TRAINED_TEMPERATURES.

    Returns ``(root, stdout, run_dir)``: the directory holding ``logdir/t`` and
    ``gen/t``, what train.py printed, and its run directory.
    """
    import contextlib
    import io

    import train
    from samplernn import runs
    from samplernn.config import save_config

    root = tmp_path_factory.mktemp("trained")
    config_path = str(root / "tiny.config.json")
    save_config(tiny_config(), config_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert train.main(["--id", "t", "--data_dir", write_demo_dir(root / "demo"),
                           "--config_file", config_path, "--logdir_root", str(root / "logdir"),
                           "--output_dir", str(root / "gen"), "--batch_size", "4",
                           "--num_epochs", "2", "--output_file_dur", "0.2",
                           "--max_generate_per_epoch", str(len(TRAINED_TEMPERATURES)),
                           "--temperature", *TRAINED_TEMPERATURES]) == 0
    (run_dir,) = runs.run_dirs(str(root / "logdir" / "t"))
    return root, printed.getvalue(), run_dir


def save_untrained(directory, config, run_id="m", epoch=1, model=None) -> str:
    """Save ``model`` (default: a new, untrained one of ``config``) as checkpoint
    ``model.ckpt-<epoch>`` of a new run under ``directory``; return the run directory."""
    from samplernn import checkpoints, run_record, runs
    from samplernn.model import build_model

    run_dir = runs.new_run_dir(str(directory), run_id)
    run_record.save_run_config(run_dir, config)
    checkpoints.make_checkpoint(model or build_model(config)).write(
        os.path.join(run_dir, f"model.ckpt-{epoch}"))
    return run_dir


@pytest.fixture
def saved_model(tmp_path):
    """The run directory of an untrained tiny model's checkpoint."""
    return save_untrained(tmp_path / "logdir", tiny_config(), "g")

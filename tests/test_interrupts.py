"""Ctrl-C (a real SIGINT) and SIGTERM sent to train.py, generate.py and export.py.

Each run must exit with status 130 (143 for SIGTERM), print no traceback and leave consistent
files: a checkpoint whose recorded progress matches the optimizer's step
count (so no window is trained twice or skipped on resume), valid WAV files,
and no temporary files.
"""

import csv
import math
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
import tensorflow as tf

import train
from samplernn import runs
from samplernn.config import save_config
from conftest import DEMO_SAMPLE_RATE, DEMO_SECONDS, REPO_ROOT, tiny_config

pytestmark = pytest.mark.slow   # every test here starts a process and signals it

HARNESS = os.path.join(REPO_ROOT, "tests", "interrupt_harness.py")
PROCESS_TIMEOUT_S = 120
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
SEQ_LEN = 256
# The demo corpus: 8 files, 4 of them for training, in one batch of 4
# sequences of (samples - top frame) // SEQ_LEN windows.
STEPS_PER_EPOCH = (int(DEMO_SECONDS * DEMO_SAMPLE_RATE) - 16) // SEQ_LEN


def start(phase, script, arguments, cwd, sigint=signal.SIG_DFL):
    """The script under the harness, with SIGINT at ``sigint`` disposition when it starts."""
    return subprocess.Popen(
        [sys.executable, HARNESS, phase, script, *map(str, arguments)], cwd=str(cwd),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))


def wait_for_phase(process, phase):
    """Read standard output up to the harness's ``PHASE <phase>`` line."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.strip() == f"PHASE {phase}":
            return lines
    raise AssertionError(f"phase {phase} never came:\n{''.join(lines)}\n{process.stderr.read()}")


def interrupt(process, presses=1, gap=0.0, signum=signal.SIGINT):
    for _ in range(presses):
        process.send_signal(signum)
        time.sleep(gap)
    out, err = process.communicate(timeout=PROCESS_TIMEOUT_S)
    return out, err


def assert_clean_exit(process, err, status=EXIT_INTERRUPTED):
    assert process.returncode == status, err[-3000:]
    assert "Traceback" not in err, err[-3000:]


def leftovers(*directories):
    found = []
    for directory in directories:
        for root, dirs, files in os.walk(directory):
            found += [n for n in files + dirs if n.startswith(".tmp-") or n.endswith("_temp")]
    return found


# --------------------------------------------------------------------- train.py
@pytest.fixture
def training_run(tmp_path, demo_dir):
    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(seq_len=SEQ_LEN), config_path)
    arguments = ["--id", "c", "--data_dir", demo_dir, "--config_file", config_path,
                 "--logdir_root", tmp_path / "logdir", "--output_dir", tmp_path / "gen",
                 "--batch_size", 4, "--num_epochs", 1, "--output_file_dur", 0.3,
                 "--early_stopping_patience", "None", "--verbose", "False"]
    return arguments, tmp_path


def consistent_checkpoint(tmp_path, steps_per_epoch):
    """The newest checkpoint; asserts its progress matches its optimizer step count."""
    prefix = runs.latest_checkpoint(str(tmp_path / "logdir" / "c"))
    assert prefix, "no checkpoint was saved"
    reader = tf.train.load_checkpoint(prefix)
    value = lambda name: int(reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE"))  # noqa
    epochs, step = value("progress/epoch"), value("progress/step")
    assert value("optimizer/_iterations") == epochs * steps_per_epoch + step
    return prefix, epochs, step


def resume_to_the_end(arguments, tmp_path, steps_per_epoch):
    assert train.main([str(a) for a in arguments]) == 0
    prefix, epochs, step = consistent_checkpoint(tmp_path, steps_per_epoch)
    assert (epochs, step) == (1, 0)
    for run_dir in runs.run_dirs(str(tmp_path / "logdir" / "c")):
        metrics = os.path.join(run_dir, "metrics.csv")
        if os.path.exists(metrics):
            for row in csv.DictReader(open(metrics)):
                assert all(math.isfinite(float(row[k])) for k in ("loss", "val_loss")), row


@pytest.mark.parametrize("phase,presses", [("step", 1), ("validation", 1), ("generation", 1),
                                           ("save", 3)])
def test_ctrl_c_in_training_saves_a_consistent_resumable_checkpoint(training_run, phase,
                                                                    presses):
    arguments, tmp_path = training_run
    arguments += ["--generate", phase == "generation"]   # generation is slow to compile
    process = start(phase, "train", arguments, tmp_path)
    wait_for_phase(process, phase)
    out, err = interrupt(process, presses, gap=0.02)   # three presses within 50 ms
    assert_clean_exit(process, err)
    prefix, epochs, step = consistent_checkpoint(tmp_path, STEPS_PER_EPOCH)
    if phase == "step":
        assert (epochs, step) == (0, 3)       # the interrupted step was completed, once
    elif phase == "validation":
        assert (epochs, step) == (0, STEPS_PER_EPOCH)  # trained, not yet validated
    else:                                     # after epoch 1's checkpoint save
        assert (epochs, step) == (1, 0) and prefix.endswith("model.ckpt-1")
    assert not leftovers(tmp_path / "logdir", tmp_path / "gen")
    for wav in os.listdir(tmp_path / "gen" / "c") if os.path.isdir(tmp_path / "gen" / "c") else []:
        assert soundfile.info(str(tmp_path / "gen" / "c" / wav)).frames > 0
    if step:   # resuming inside an epoch is the delicate case; epoch ends resume as usual
        resume_to_the_end(arguments, tmp_path, STEPS_PER_EPOCH)


def test_ctrl_c_at_start_up_leaves_nothing_and_works_when_sigint_was_ignored(training_run):
    arguments, tmp_path = training_run
    # Started as a background job of a non-interactive shell would be: SIGINT ignored.
    process = start("startup", "train", arguments, tmp_path, sigint=signal.SIG_IGN)
    wait_for_phase(process, "startup")
    out, err = interrupt(process)
    assert_clean_exit(process, err)
    assert "Interrupted" in err
    assert runs.run_dirs(str(tmp_path / "logdir" / "c")) == []


# ------------------------------------------------------------------ generate.py
def test_ctrl_c_in_generation_finishes_every_file(saved_model, tmp_path):
    out_path = tmp_path / "out" / "x.wav"
    process = start("generation", "generate", ["--output_path", out_path, "--checkpoint_path",
                                               saved_model, "--dur", "inf", "--num_seqs", 2],
                    tmp_path)
    wait_for_phase(process, "generation")
    out, err = interrupt(process)
    assert_clean_exit(process, err)
    for index in (1, 2):
        audio, rate = soundfile.read(str(tmp_path / "out" / f"x_{index}_t0.75.wav"))
        assert rate == 8000 and len(audio) >= 3 * 16 and len(audio) % 16 == 0
    assert not leftovers(tmp_path / "out")


def test_ctrl_c_at_random_moments_of_endless_generation(saved_model, tmp_path):
    rng = random.Random(0)
    for attempt in range(4):
        out_path = tmp_path / f"r{attempt}.wav"
        process = start("none", "generate", ["--output_path", out_path, "--checkpoint_path",
                                             saved_model, "--dur", "0"], tmp_path)
        time.sleep(rng.uniform(0.5, 9.0))       # from start-up to well into generation
        out, err = interrupt(process)
        assert_clean_exit(process, err)
        if os.path.exists(out_path):            # interrupted once generating
            audio, _ = soundfile.read(str(out_path))
            assert np.all(np.isfinite(audio))
        assert not leftovers(tmp_path)


# ---------------------------------------------------------------------- SIGTERM
def test_sigterm_in_training_saves_like_ctrl_c(training_run):
    """A preempted VM or a job scheduler's plain kill: same checkpoint, status 143."""
    arguments, tmp_path = training_run
    process = start("step", "train", arguments + ["--generate", False], tmp_path)
    wait_for_phase(process, "step")
    out, err = interrupt(process, signum=signal.SIGTERM)
    assert_clean_exit(process, err, EXIT_TERMINATED)
    assert consistent_checkpoint(tmp_path, STEPS_PER_EPOCH)[1:] == (0, 3)
    assert not leftovers(tmp_path / "logdir")


def test_sigterm_in_generation_finishes_the_file(saved_model, tmp_path):
    out_path = tmp_path / "out" / "x.wav"
    process = start("generation", "generate", ["--output_path", out_path, "--checkpoint_path",
                                               saved_model, "--dur", "inf"], tmp_path)
    wait_for_phase(process, "generation")
    out, err = interrupt(process, signum=signal.SIGTERM)
    assert_clean_exit(process, err, EXIT_TERMINATED)
    audio, rate = soundfile.read(str(out_path))
    assert rate == 8000 and len(audio) >= 3 * 16
    assert not leftovers(tmp_path / "out")


def test_sigterm_during_export_leaves_no_staging_directory(saved_model, tmp_path):
    exported = tmp_path / "exported" / "m"
    process = start("export", "export", ["--checkpoint_path", saved_model,
                                         "--output_dir", exported], tmp_path)
    wait_for_phase(process, "export")
    assert [n for n in os.listdir(tmp_path / "exported") if n.startswith(".tmp-")]
    out, err = interrupt(process, signum=signal.SIGTERM)
    assert_clean_exit(process, err, EXIT_TERMINATED)
    assert os.listdir(tmp_path / "exported") == []


def test_a_sigkill_loses_at_most_the_time_since_the_last_timed_checkpoint(training_run):
    """SIGKILL (as an out-of-memory kill) cannot be caught: what survives it is the last
    checkpoint. With --checkpoint_every_minutes that one is mid-epoch, consistent, and
    the same command resumes from it."""
    arguments, tmp_path = training_run
    process = subprocess.Popen(
        [sys.executable, os.path.join(REPO_ROOT, "train.py"),
         *map(str, arguments + ["--num_epochs", 30, "--generate", False,
                                "--checkpoint_every_minutes", 0.005])],
        cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "(epoch 1, step" in line and "--checkpoint_every_minutes)" in line:
            break
    else:
        raise AssertionError("no timed checkpoint was saved:\n" + "".join(lines))
    process.kill()
    process.wait(timeout=PROCESS_TIMEOUT_S)
    assert process.returncode == -signal.SIGKILL
    prefix, epochs, step = consistent_checkpoint(tmp_path, STEPS_PER_EPOCH)
    assert epochs == 0 and 0 < step < STEPS_PER_EPOCH    # mid-epoch, not lost
    resume_to_the_end(arguments, tmp_path, STEPS_PER_EPOCH)

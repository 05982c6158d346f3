import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

import evaluate
from samplernn import checkpoints, evaluation, run_record, runs
from samplernn.errors import UserError
from samplernn.model import build_model
from conftest import tiny_config, write_tone


def direct_nats(model, samples):
    """NLL of a whole sequence in one model call (no windows): the reference."""
    top = model.config.top_frame_size
    scored = (len(samples) - top) // top * top
    inputs = tf.constant(samples[None, :top + scored], tf.int32)
    logits, _ = model(inputs, model.initial_states(1))
    nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=inputs[:, top:], logits=logits)
    return scored, float(tf.reduce_sum(nats))


def test_windowed_batched_scores_equal_one_call_per_file():
    model = build_model(tiny_config())  # seq_len 64, top 16
    rng = np.random.default_rng(0)
    files = {"a": rng.integers(0, 256, 16 + 64 * 3 + 40),   # 3 windows + a shorter one
             "b": rng.integers(0, 256, 16 + 20),            # one frame scored, 4 left over
             "c": rng.integers(0, 256, 16 + 64 * 2)}
    result = evaluation.evaluate_files(model, files, batch_size=2)
    for score in result.files:
        samples, nats = direct_nats(model, files[score.path])
        assert score.samples == samples
        assert score.nats == pytest.approx(nats, rel=1e-4)
    assert [f.samples for f in result.files] == [3 * 64 + 32, 16, 128]
    total_nats = sum(direct_nats(model, s)[1] for s in files.values())
    assert result.bits_per_sample == pytest.approx(total_nats / result.samples / math.log(2),
                                                   rel=1e-4)


def test_evaluate_script(tmp_path, capsys):
    config = tiny_config()
    model = build_model(config)
    run_dir = runs.new_run_dir(str(tmp_path / "logdir"), "e")
    run_record.save_run_config(run_dir, config)
    checkpoints.make_checkpoint(model).write(os.path.join(run_dir, "model.ckpt-1"))
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    write_tone(str(audio_dir / "a.wav"), 0.5, 8000)
    write_tone(str(audio_dir / "b.wav"), 0.25, 8000, frequency=440)
    write_tone(str(audio_dir / "tiny.wav"), 0.002, 8000)  # 16 samples: skipped
    prefix = os.path.join(run_dir, "model.ckpt-1")
    evaluate.main(["--checkpoint_path", prefix, "--data_dir", str(audio_dir), "--json",
                   "--max_seconds", "0.25"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)   # the start line goes to standard error with --json
    assert captured.err.startswith("Device: 1 x CPU (") and "precision: float32" in captured.err
    assert result["checkpoint"] == prefix and len(result["files"]) == 2
    assert result["samples"] == 2 * (2000 - 16) // 16 * 16
    assert 0 < result["bits_per_sample"] < 10
    evaluate.main(["--checkpoint_path", str(tmp_path / "logdir" / "e"),
                   "--data_dir", str(audio_dir)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Device: 1 x CPU (") and lines[1].startswith("NLL: ")
    with pytest.raises(UserError, match="no checkpoint"):
        evaluate.main(["--checkpoint_path", str(tmp_path / "x"), "--data_dir", str(audio_dir)])

    capsys.readouterr()
    # The sampler's numerics: float32 scores as the model does, bfloat16 within 0.01 bits.
    by_precision = {}
    for precision in ("float32", "bfloat16"):
        evaluate.main(["--checkpoint_path", prefix, "--data_dir", str(audio_dir), "--json",
                       "--max_seconds", "0.25", "--precision", precision])
        captured = capsys.readouterr()
        assert f"precision: {precision}" in captured.err
        by_precision[precision] = json.loads(captured.out)
    assert by_precision["float32"]["samples"] == result["samples"]
    assert by_precision["float32"]["bits_per_sample"] == pytest.approx(result["bits_per_sample"],
                                                                       abs=1e-4)
    assert by_precision["bfloat16"]["bits_per_sample"] != by_precision["float32"]["bits_per_sample"]
    assert by_precision["bfloat16"]["bits_per_sample"] == pytest.approx(
        result["bits_per_sample"], abs=0.01)

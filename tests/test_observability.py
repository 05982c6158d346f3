"""What training and generation show: TensorBoard summaries, CSV, PNG plots."""

import csv
import os

import matplotlib.image
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import generate
from samplernn import checkpoints, run_record, runs
from conftest import tiny_config


def summaries_by_plugin(log_dir):
    events = EventAccumulator(log_dir, size_guidance={"tensors": 0})
    events.Reload()
    found = {}
    for tag in events.Tags()["tensors"]:
        plugin = events.SummaryMetadata(tag).plugin_data.plugin_name
        found.setdefault(plugin, set()).add(tag)
    return events, found


def test_training_logs_audio_spectrograms_scalars_and_csv(trained_run):
    _, _, run_dir = trained_run    # 2 epochs, 2 files each: temperatures 0.75, 0.9
    events, train_summaries = summaries_by_plugin(os.path.join(run_dir, "train"))
    assert train_summaries["audio"] == {"generated/1_t0.75", "generated/2_t0.9"}
    assert train_summaries["images"] == {"spectrogram/1_t0.75", "spectrogram/2_t0.9"}
    assert {"loss", "accuracy", "bits_per_sample", "learning_rate", "step_loss",
            "sec_per_step"} <= train_summaries["scalars"]
    assert [e.step for e in events.Tensors("loss")] == [1, 2]
    assert [e.step for e in events.Tensors("generated/2_t0.9")] == [1, 2]
    from samplernn.notes import MEASURES   # every epoch's audio measured for notes
    assert {f"notes/{i}_t{t}/{m}" for i, t in ((1, "0.75"), (2, "0.9")) for m in MEASURES} \
        | {f"notes_real/{m}" for m in MEASURES} <= train_summaries["scalars"]
    assert [e.step for e in events.Tensors("notes/1_t0.75/tonal_share")] == [1, 2]
    _, val_summaries = summaries_by_plugin(os.path.join(run_dir, "validation"))
    assert {"loss", "accuracy", "bits_per_sample", "learning_rate"} <= val_summaries["scalars"]

    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for row in rows:
        assert float(row["bits_per_sample"]) == pytest.approx(float(row["loss"]) / np.log(2))
        assert 0 < float(row["val_bits_per_sample"]) < 9 and float(row["sec_per_step"]) > 0


def test_generate_plot_writes_a_real_png(tmp_path):
    from samplernn.model import build_model

    config = tiny_config()
    model = build_model(config)
    run_dir = runs.new_run_dir(str(tmp_path / "logdir"), "p")
    run_record.save_run_config(run_dir, config)
    checkpoints.make_checkpoint(model).write(os.path.join(run_dir, "model.ckpt-1"))
    out = str(tmp_path / "g.wav")
    generate.main(["--output_path", out, "--checkpoint_path", run_dir, "--dur", "0.3",
                   "--num_seqs", "2", "--plot"])
    for index, temperature in ((1, "0.75"), (2, "0.75")):
        image = matplotlib.image.imread(str(tmp_path / f"g_{index}_t{temperature}.png"))
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
        assert image[..., :3].std() > 0.05  # not blank


def test_training_audio_is_judged_window_by_window_on_tensorboard(tmp_path):
    """Given the corpus's window bounds, each checkpoint's audio gets its alive share and
    first collapse on TensorBoard (here an untrained model: noise, dead from the start)."""
    import tensorflow as tf

    from samplernn import windows
    from samplernn.generation import TrainingAudioWriter
    from samplernn.model import build_model

    config = tiny_config()
    bounds = windows.WindowBounds(max_silence_share=0.5, max_flatness=0.01, min_change=0.05)
    writer = tf.summary.create_file_writer(str(tmp_path / "tb"))
    audio_writer = TrainingAudioWriter(build_model(config), config, str(tmp_path / "gen"), "w",
                                       1, 4.0, [1.0], summary_writer=writer,
                                       window_bounds=bounds)
    audio_writer(3, "unused")
    events, found = summaries_by_plugin(str(tmp_path / "tb"))
    assert {"alive/1_t1/alive_share", "alive/1_t1/first_collapse_s"} <= found["scalars"]
    [share] = events.Tensors("alive/1_t1/alive_share")
    [collapse] = events.Tensors("alive/1_t1/first_collapse_s")
    assert share.step == 3 and tf.make_ndarray(share.tensor_proto) == 0.0
    assert tf.make_ndarray(collapse.tensor_proto) == 0.0

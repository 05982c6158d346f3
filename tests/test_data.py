import logging

import numpy as np
import pytest

from samplernn import data
from samplernn.errors import UserError
from conftest import tiny_config, write_tone


def collect(dataset):
    return [(x.numpy(), y.numpy(), bool(r.numpy())) for x, y, r in dataset]


def test_finds_audio_recursively_in_natural_order(tmp_path):
    """A folder's WAV, FLAC, OGG, AIFF and MP3 files; not its M4A (README says so)."""
    for name in ["b/track10.wav", "b/track2.wav", "a.flac", "notes.txt", ".hidden.wav",
                 "c.m4a"]:
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        if name.endswith((".txt", ".m4a")):
            path.write_text("x")
        else:
            write_tone(str(path), 0.1, 8000)
    found = [p[len(str(tmp_path)) + 1:] for p in data.find_audio_files(str(tmp_path))]
    assert found == ["a.flac", "b/track2.wav", "b/track10.wav"]


def test_missing_and_empty_directories(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        data.find_audio_files(str(tmp_path / "nope"))
    with pytest.raises(UserError, match="no audio files"):
        data.find_audio_files(str(tmp_path))


def test_cut_sequences_values_and_what_is_dropped(caplog):
    config = tiny_config()  # top frame 16, seq_len 64
    files = {"long": np.arange(16 + 64 * 7 + 5) % 256, "short": np.arange(16 + 64 * 3 + 9),
             "tiny": np.arange(50)}
    with caplog.at_level(logging.WARNING, logger="samplernn"):
        sequences, windows = data.cut_sequences(files, config)
    assert "skipping tiny" in caplog.text
    assert windows == 3  # the shortest usable file has 3 whole windows
    # "long" gives floor(7 / 3) = 2 sequences, "short" gives 1; tails dropped.
    assert sequences.shape == (3, 16 + 3 * 64)
    np.testing.assert_array_equal(sequences[0], np.arange(16 + 192) % 256)
    np.testing.assert_array_equal(sequences[1], np.arange(192, 192 + 16 + 192) % 256)
    np.testing.assert_array_equal(sequences[2], np.arange(16 + 192))


def test_windows_targets_and_resets_exact():
    config = tiny_config()
    top, seq_len, batch = 16, 64, 2
    sequences = np.stack([np.arange(16 + 2 * 64) + 1000 * i for i in range(5)])
    split = data.split_sequences(sequences, batch, num_val_batches=1)
    assert len(split.train) == 3 and len(split.validation) == 2
    pipeline = data.TrainingData(split, 2, config, batch, seed=7)
    assert pipeline.train_steps_per_epoch == 2 and pipeline.validation_steps == 2
    order = pipeline.train_order(epoch=0)
    elements = collect(pipeline.train_dataset(epoch=0))
    assert len(elements) == 2
    for w, (x, y, reset) in enumerate(elements):
        expected = split.train[order[0]][:, w * seq_len: w * seq_len + top + seq_len]
        np.testing.assert_array_equal(x, expected)
        np.testing.assert_array_equal(y, expected[:, top:])
        assert reset == (w == 0)
    val = collect(pipeline.validation_dataset())
    np.testing.assert_array_equal(val[1][0], sequences[3:5, 64:64 + 80])
    assert [r for _, _, r in val] == [True, False]


def test_shuffle_is_seeded_and_reproducible():
    config = tiny_config()
    sequences = np.arange(40 * 80).reshape(40, 80) % 256
    split = data.split_sequences(sequences, 4, num_val_batches=0)
    a, b = (data.TrainingData(split, 1, config, 4, seed=3) for _ in range(2))
    first = [x for x, _, _ in collect(a.train_dataset(5))]
    again = [x for x, _, _ in collect(b.train_dataset(5))]
    other_epoch = [x for x, _, _ in collect(b.train_dataset(6))]
    np.testing.assert_array_equal(np.stack(first), np.stack(again))
    assert not np.array_equal(np.stack(first), np.stack(other_epoch))
    # Every sequence is used exactly once per epoch (10 groups of 4).
    rows = np.concatenate([x[:, 0] for x in first])
    assert sorted(rows.tolist()) == sorted(sequences[:, 0].tolist())


def test_too_few_sequences_gives_only_advice_that_works():
    with pytest.raises(UserError, match=r"gives 5 .* needs at least 8: lower --batch_size "
                                        r"to at most 2, or pass --num_val_batches 0"):
        data.split_sequences(np.zeros((5, 80)), 4, num_val_batches=1)
    # One file, one sequence, --batch_size 1: no smaller batch exists; dropping
    # validation does work, and is what the message offers.
    with pytest.raises(UserError) as one:
        data.split_sequences(np.zeros((1, 80)), 1, num_val_batches=1)
    assert "--batch_size to" not in str(one.value)
    assert "--num_val_batches 0" in str(one.value)
    data.split_sequences(np.zeros((1, 80)), 1, num_val_batches=0)   # which works


def test_from_directory_with_mixed_lengths_rates_and_a_broken_file(tmp_path, caplog):
    config = tiny_config(q_type="linear")  # 8 kHz
    write_tone(str(tmp_path / "a.wav"), 0.50, 8000)
    write_tone(str(tmp_path / "b.wav"), 0.25, 16000, channels=2)  # resampled, down-mixed
    write_tone(str(tmp_path / "c.flac"), 0.40, 8000)
    (tmp_path / "d.wav").write_bytes(b"garbage" * 100)
    with caplog.at_level(logging.INFO, logger="samplernn"):
        pipeline = data.TrainingData.from_directory(str(tmp_path), config, batch_size=2,
                                                    num_val_batches=1)
    assert "d.wav cannot be decoded" in caplog.text
    assert "Resampled 1 file(s) to 8000 Hz" in caplog.text
    # b has 2000 samples -> 31 windows of 64 after the 16-sample context.
    assert pipeline.windows_per_sequence == (2000 - 16) // 64
    x, y, reset = next(iter(pipeline.train_dataset(0)))
    assert x.shape == (2, 80) and y.shape == (2, 64) and bool(reset)
    assert x.dtype.name == "int32" and 0 <= int(np.min(x)) and int(np.max(x)) < 256


def test_nothing_decodable_is_an_error(tmp_path):
    (tmp_path / "x.wav").write_bytes(b"garbage" * 100)
    with pytest.raises(UserError, match="none of the 1 audio file"):
        data.TrainingData.from_directory(str(tmp_path), tiny_config(), 2)


def test_an_epochs_stream_is_freed_at_once_however_long_it_ran():
    """Freeing an epoch's stream must not wait. With tf.data's autotuning on, freeing
    the iterator could wait for its tuning thread's next wake-up: 1.7-2.7 s after a
    stream read for 3 s here, up to 60 s in a long epoch (a stall at every epoch's
    end, Ctrl-C and budget stop). The training stream is read slowly for 3 s, as
    training steps would, then freed; the validation stream is built the same way."""
    import time

    config = tiny_config()
    windows = 100
    sequences = np.arange(8 * (16 + 64 * windows)).reshape(8, -1) % 256
    pipeline = data.TrainingData(data.split_sequences(sequences, 4, num_val_batches=1),
                                 windows, config, 4)
    assert pipeline.validation_dataset().options().autotune.enabled is False
    iterator = iter(pipeline.train_dataset(0))
    started = time.perf_counter()
    for _ in iterator:
        time.sleep(0.03)
    assert time.perf_counter() - started > 3.0
    freeing = time.perf_counter()
    del iterator
    assert time.perf_counter() - freeing < 1.0

"""The first minute: a mistake that needs no model is reported before TensorFlow
loads (so in about a second), as one line; chunk_audio.py and tune.py exit
with honest statuses. TensorFlow's absence is checked in a fresh interpreter."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile

import chunk_audio
from samplernn import runs
from samplernn.config import save_config
from samplernn.errors import UserError
from conftest import REPO_ROOT, tiny_config, write_tone

PROCESS_TIMEOUT_S = 120

# Runs each case's main() in one fresh interpreter; reports each error and
# whether TensorFlow or Keras had been imported by then.
CASES_CLIENT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from samplernn.errors import UserError
report = []
for script, argv in json.loads(sys.argv[2]):
    try:
        status = __import__(script).main(argv)
        error = f"no error (status {status})"
    except UserError as e:
        error = str(e)
    report.append({"script": script, "error": error,
                   "tensorflow": "tensorflow" in sys.modules or "keras" in sys.modules})
print(json.dumps(report))
"""


@pytest.fixture
def mistakes(tmp_path):
    """(script, argv, expected words in the error) for each mistake that needs no model."""
    good = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(), good)
    typo = tmp_path / "typo.config.json"
    typo.write_text(json.dumps({"dimm": 32}))
    broken = tmp_path / "broken.config.json"
    broken.write_text('{"dim": 32,}')
    empty = tmp_path / "empty"
    empty.mkdir()
    undecodable = tmp_path / "undecodable"
    undecodable.mkdir()
    (undecodable / "noise.wav").write_bytes(b"not audio at all" * 100)
    data = tmp_path / "data"
    data.mkdir()
    write_tone(str(data / "a.wav"), 0.5, 8000)
    # A checkpoint on disk (names only: no TensorFlow needed to find it and read its config).
    run_dir = runs.new_run_dir(str(tmp_path / "logdir"), "old")
    save_config(tiny_config(seq_len=128), os.path.join(run_dir, "model.config.json"))
    open(os.path.join(run_dir, "model.ckpt-1.index"), "wb").close()
    train = ["--data_dir", str(data), "--logdir_root", str(tmp_path / "logdir")]
    missing = str(tmp_path / "nowhere")
    return [
        ("train", [*train, "--config_file", str(typo)], "unknown key 'dimm' (did you mean 'dim'"),
        ("train", [*train, "--config_file", str(broken)], "is not valid JSON"),
        ("train", ["--data_dir", str(empty), "--config_file", good], "no audio files"),
        ("train", ["--data_dir", str(undecodable), "--config_file", good],
         "could be decoded"),
        ("train", [*train, "--config_file", good, "--id", "old"],
         "seq_len: 128 in the checkpoint, 64 given now"),
        ("train", [*train, "--config_file", good, "--resume_from", missing],
         f"no checkpoint found at {missing}"),
        ("generate", ["--checkpoint_path", missing, "--output_path", "x.wav"],
         f"no checkpoint found at {missing}"),
        ("generate", ["--checkpoint_path", run_dir, "--output_path", "x.wav",
                      "--config_file", good], "seq_len: 128 in the checkpoint, 64 given now"),
        ("generate", ["--checkpoint_path", run_dir, "--output_path", "x.mp3"], "must end in .wav"),
        ("evaluate", ["--checkpoint_path", missing, "--data_dir", str(data)], "no checkpoint"),
        ("evaluate", ["--checkpoint_path", run_dir, "--data_dir", str(empty)], "no audio files"),
        ("export", ["--checkpoint_path", missing, "--output_dir", str(tmp_path / "e")],
         "no checkpoint"),
        ("tune", ["--data_dir", str(data), "--config_file", str(typo)], "unknown key 'dimm'"),
        ("tune", ["--data_dir", str(data), "--config_file", good, "--seq_len", "100"],
         "must be divisible"),
        ("tune", ["--data_dir", str(empty), "--config_file", good], "no audio files"),
    ]


def test_mistakes_that_need_no_model_are_reported_before_tensorflow_loads(mistakes, tmp_path):
    cases = [[script, argv] for script, argv, _ in mistakes]
    result = subprocess.run([sys.executable, "-c", CASES_CLIENT, REPO_ROOT, json.dumps(cases)],
                            cwd=str(tmp_path), capture_output=True, text=True,
                            timeout=PROCESS_TIMEOUT_S)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for (script, argv, expected), outcome in zip(mistakes, report):
        assert expected in outcome["error"], (script, argv, outcome["error"])
        assert "\n" not in outcome["error"], outcome["error"]
        assert not outcome["tensorflow"], (script, argv, "TensorFlow was loaded first")


def test_the_corpus_line_counts_the_files_used_and_skipped(tmp_path, caplog):
    from samplernn.data import TrainingData

    for index in range(6):
        write_tone(str(tmp_path / f"tone{index}.wav"), 0.75, 8000, frequency=200 + 50 * index)
    (tmp_path / "corrupt.wav").write_bytes(b"garbage" * 200)
    with caplog.at_level("INFO", logger="samplernn"):
        TrainingData.from_directory(str(tmp_path), tiny_config(), batch_size=2)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Corpus:")]
    assert line.startswith("Corpus: 6 file(s) used (1 of 7 skipped, named above)"), line


def test_chunk_audio_writing_nothing_exits_2_and_creates_no_directory(tmp_path, capsys):
    short = write_tone(str(tmp_path / "short.wav"), 1.0, 8000)
    out = tmp_path / "chunks"
    with pytest.raises(UserError, match=r"no chunk written: .*short.wav is 1.00 s long, "
                                        r"shorter than --chunk_length 2000 ms"):
        chunk_audio.main(["--input_file", short, "--output_dir", str(out),
                          "--chunk_length", "2000"])
    assert not out.exists()
    process = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "chunk_audio.py"),
                              "--input_file", short, "--output_dir", str(out),
                              "--chunk_length", "2000"], capture_output=True, text=True,
                             timeout=PROCESS_TIMEOUT_S)
    assert process.returncode == 2 and process.stderr.startswith("error: no chunk written")
    assert not out.exists()


def test_chunk_audio_names_the_inputs_that_gave_no_chunk(tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_tone(str(inputs / "long.wav"), 3.0, 8000)
    write_tone(str(inputs / "short.wav"), 1.0, 8000)
    soundfile.write(str(inputs / "quiet.wav"), np.zeros(24000, np.float32), 8000)
    assert chunk_audio.main(["--input_file", str(inputs), "--output_dir", str(tmp_path / "o"),
                             "--chunk_length", "2000"]) == 0
    out = capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "o")) == ["long_chunk_1.wav"]
    assert "No chunk from 2 input(s)" in out and "short.wav is 1.00 s long" in out
    assert "quiet.wav gives only silent chunks" in out


def test_stale_temporaries_of_a_killed_process_are_swept_at_start(tmp_path):
    """Left by a process of this host and container that no longer runs: removed.
    Being written by a live one: kept. Another host's (a shared directory), or another
    container's on this host (the same host name, another process-id namespace): kept
    until a day old, whatever its process id, since that id means nothing here."""
    import train
    from samplernn import fileio

    generated = tmp_path / "gen" / "s"
    generated.mkdir(parents=True)
    here = fileio.process_space()
    dead = generated / f".tmp-samplernn-{here}@999999999-abc.wav"
    live = generated / f"{fileio.temporary_prefix()}def.wav"
    elsewhere = generated / ".tmp-samplernn-otherhost@999999999-ghi.wav"
    elsewhere_old = generated / ".tmp-samplernn-otherhost@999999999-jkl.wav"
    old_release = generated / ".tmp-samplernn-999999999-mno.wav"   # no host in the name
    # A live writer in another container with host networking: its pid is not ours.
    other_container = generated / f".tmp-samplernn-{fileio.host_name()}.ns1@999999999-pq.wav"
    for path in (dead, live, elsewhere, elsewhere_old, old_release, other_container):
        path.write_bytes(b"x")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(elsewhere_old, (two_days_ago, two_days_ago))
    with pytest.raises(UserError, match="does not exist"):
        train.main(["--id", "s", "--data_dir", str(tmp_path / "none"), "--output_dir",
                    str(tmp_path / "gen"), "--logdir_root", str(tmp_path / "logdir"),
                    "--config_file", os.path.join(REPO_ROOT, "demo.config.json")])
    assert not dead.exists() and live.exists()
    assert elsewhere.exists() and old_release.exists() and not elsewhere_old.exists()
    assert other_container.exists()

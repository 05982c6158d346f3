"""Faults a new user runs into: full disks, short files, reruns, bad paths and files,
permissions, noisy output. Each gets a clear one-line error or the right behaviour."""

import contextlib
import csv
import errno
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile

import chunk_audio
import generate
import train
import tune
from samplernn import audio, checkpoints, data, fileio, runs
from samplernn.config import load_config, save_config
from samplernn.errors import UserError
from samplernn.model import build_model
from samplernn.progress import GenerationProgress
from conftest import REPO_ROOT, save_untrained, tiny_config, write_tone


@pytest.fixture
def tiny_run(tmp_path, demo_dir):
    """train.py on the demo corpus with a tiny config; ``run(*flags)``."""
    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(seq_len=256), config_path)

    def run(*extra, logdir=None):
        return train.main(["--id", "f", "--data_dir", demo_dir, "--config_file", config_path,
                           "--logdir_root", str(logdir or tmp_path / "logdir"),
                           "--output_dir", str(tmp_path / "gen"), "--batch_size", "4",
                           "--num_epochs", "1", "--generate", "False", *map(str, extra)])

    return run, tmp_path


@contextlib.contextmanager
def small_disk(path, size_kb):
    """A real file system of ``size_kb`` mounted at ``path`` (tmpfs; needs root)."""
    os.makedirs(path, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs",
                              str(path)], capture_output=True)
    if mounted.returncode:
        if os.geteuid() == 0:   # root can mount: a failure here is a real problem
            pytest.fail(f"mounting a tmpfs failed as root: {mounted.stderr.decode()}")
        pytest.skip("full-disk test needs root to mount a small tmpfs (run as root, as CI does)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def read_only_place(path):
    """A real read-only file system at ``path``: a tmpfs remounted read-only (root
    writes through file permissions, not through a read-only mount)."""
    with small_disk(path, 256):
        remounted = subprocess.run(["mount", "-o", "remount,ro", str(path)],
                                   capture_output=True)
        if remounted.returncode:
            pytest.fail(f"remounting read-only failed: {remounted.stderr.decode()}")
        yield path


def test_a_read_only_logdir_is_one_line_naming_it(tmp_path, demo_dir):
    """train.py --logdir_root on a read-only file system: exit 2 and one line naming
    the folder and the flag, no traceback, before TensorFlow loads."""
    with read_only_place(tmp_path / "ro") as place:
        result = subprocess.run(
            [sys.executable, "train.py", "--id", "ro", "--data_dir", demo_dir,
             "--logdir_root", str(place / "logdir"), "--output_dir", str(tmp_path / "gen"),
             "--config_file", "demo.config.json"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: --logdir_root: cannot write in ")
    assert str(place / "logdir") in lines[0] and "Read-only file system" in lines[0]


def test_a_read_only_output_folder_is_refused_before_the_model_loads(tmp_path, saved_model,
                                                                     monkeypatch):
    """generate.py --output_path into a read-only folder, and train.py --output_dir
    there: one line naming the folder, and generate.py says it before opening the
    checkpoint."""
    def open_checkpoint(*args, **kwargs):
        raise AssertionError("the checkpoint was opened before the output folder was checked")

    monkeypatch.setattr(runs, "open_checkpoint", open_checkpoint)
    with read_only_place(tmp_path / "ro") as place:
        with pytest.raises(UserError, match=r"^--output_path: cannot write in .*ro/out "
                                            r"\(Read-only file system\)"):
            generate.main(["--checkpoint_path", saved_model,
                           "--output_path", str(place / "out" / "a.wav")])
        with pytest.raises(UserError, match=r"^--output_dir: cannot write in .*ro/gen/f "):
            train.main(["--id", "f", "--data_dir", str(tmp_path), "--output_dir",
                        str(place / "gen"), "--logdir_root", str(tmp_path / "logdir")])


def fill(disk, leave_bytes):
    """Fill ``disk`` until only about ``leave_bytes`` are free."""
    free = shutil.disk_usage(disk).free - leave_bytes
    with open(os.path.join(disk, "filler"), "wb") as f:
        f.write(b"\0" * max(free, 0))


# ------------------------------------------------------------------ full disk
def test_a_full_disk_error_names_the_path():
    error = fileio.write_error("/x/out.wav", OSError(errno.ENOSPC, "No space left on device"),
                               "WAV file")
    assert str(error).startswith("no space left on the device writing WAV file /x/out.wav")
    other = fileio.write_error("/x/out.wav", OSError(errno.EACCES, "Permission denied"))
    assert str(other) == "cannot write file /x/out.wav: [Errno 13] Permission denied"


def test_generate_on_a_full_disk(saved_model, tmp_path):
    with small_disk(tmp_path / "disk", 256) as disk:
        fill(disk, 4096)
        out = os.path.join(disk, "out.wav")
        with pytest.raises(UserError, match=f"no space left on the device writing WAV file {out}"):
            generate.main(["--output_path", out, "--checkpoint_path", saved_model, "--dur", "2"])
        assert sorted(os.listdir(disk)) == ["filler"]   # no half-written or temporary file


@pytest.mark.slow
def test_train_on_a_full_disk_keeps_the_previous_checkpoint(tiny_run, tmp_path):
    run, _ = tiny_run
    with small_disk(tmp_path / "disk", 4096) as disk:
        logdir = os.path.join(disk, "logdir")
        assert run(logdir=logdir) == 0
        first = runs.latest_checkpoint(os.path.join(logdir, "f"))
        before = {f: open(os.path.join(os.path.dirname(first), f), "rb").read()
                  for f in os.listdir(os.path.dirname(first)) if f.startswith("model.ckpt-1")}
        fill(disk, 120_000)   # room for the run's logs, not for a checkpoint
        with pytest.raises(UserError, match=r"no space left on the device writing checkpoint "
                                            + re.escape(logdir)):
            run("--num_epochs", 2, logdir=logdir)
        for name, content in before.items():   # the previous checkpoint is intact
            assert open(os.path.join(os.path.dirname(first), name), "rb").read() == content
        assert runs.latest_checkpoint(os.path.join(logdir, "f")) == first


# ------------------------------------------------------------ sequence length
def test_one_short_file_does_not_shorten_every_sequence(caplog):
    config = tiny_config(seq_len=64, sample_rate=8000)   # 8 s = 1000 windows
    files = {f"long{i}.wav": np.zeros(16 + 64 * 100, np.uint8) for i in range(8)}
    files["short.wav"] = np.zeros(16 + 64 * 6, np.uint8)
    files["nearly.wav"] = np.zeros(16 + 64 * 60, np.uint8)   # over half the median: kept
    with caplog.at_level("WARNING", logger="samplernn"):
        sequences, windows = data.cut_sequences(files, config)
    assert windows == 60                      # set by nearly.wav, not by short.wav
    assert "short.wav" in caplog.text and "nearly.wav" not in caplog.text
    assert len(sequences) == 8 + 1            # one sequence per long file, one from nearly


# ------------------------------------------------------------ run directories
def test_rerunning_a_finished_training_creates_no_run_directory(tiny_run, caplog):
    run, tmp_path = tiny_run
    assert run() == 0
    before = runs.run_dirs(str(tmp_path / "logdir" / "f"))
    unfinished = os.path.join(before[0], "model.ckpt-2_temp")   # what a killed save leaves
    os.makedirs(unfinished)
    with caplog.at_level("INFO", logger="samplernn"):
        assert run() == 0
    assert "Nothing to do" in caplog.text and "completed 1 epoch(s)" in caplog.text
    assert runs.run_dirs(str(tmp_path / "logdir" / "f")) == before
    assert not os.path.exists(unfinished)   # removed at the start


def test_a_failed_start_leaves_no_run_directory(tiny_run):
    run, tmp_path = tiny_run
    with pytest.raises(UserError, match="does not exist"):
        run("--generate", "True", "--seed", tmp_path / "missing.wav")
    assert runs.run_dirs(str(tmp_path / "logdir" / "f")) == []


# ------------------------------------------------------- generate.py outputs
def test_output_path_must_be_a_wav_file_and_is_checked_first(saved_model, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(UserError, match="is a directory"):
        generate.main(["--output_path", str(folder), "--checkpoint_path", saved_model])
    with pytest.raises(UserError, match=r"must end in \.wav"):
        generate.main(["--output_path", str(tmp_path / "x.mp3"), "--checkpoint_path",
                       saved_model])
    assert os.listdir(folder) == [] and not os.path.exists(tmp_path / "x.mp3")
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


def test_training_config_with_an_overridden_sample_rate_is_no_mismatch(tmp_path):
    config_file = str(tmp_path / "mine.config.json")
    with open(config_file, "w") as f:   # no sample_rate key: 22050 by default
        json.dump({k: v for k, v in tiny_config().to_dict().items() if k != "sample_rate"}, f)
    config = load_config(config_file, sample_rate=16000)   # train.py --sample_rate 16000
    run_dir = save_untrained(tmp_path / "logdir", config, "s")
    out = str(tmp_path / "s.wav")
    assert generate.main(["--output_path", out, "--checkpoint_path", run_dir, "--config_file",
                          config_file, "--dur", "0.05"]) == 0
    assert soundfile.info(out).samplerate == 16000


# ------------------------------------------------------------------- tune.py
def test_a_search_whose_trials_all_fail_is_an_error(tmp_path, demo_dir, capsys, caplog):
    base = str(tmp_path / "base.config.json")
    save_config(tiny_config(), base)
    args = ["--data_dir", demo_dir, "--config_file", base, "--num_epochs", "1",
            "--directory", str(tmp_path / "tuning"), "--output_file",
            str(tmp_path / "best.config.json"), "--max_trials", "2", "--dim", "16", "24",
            "--batch_size", "100"]   # more sequences than the corpus has: every trial fails
    with pytest.raises(UserError) as error:
        tune.main(args)
    message = str(error.value)
    assert message.startswith("every trial of the search failed (2 trial(s)): the corpus gives")
    assert message.count("--batch_size 100") == 1 and "\n" not in message
    assert "Error" not in message and "keras_tuner" not in message   # our words only
    # Each failed trial is one line naming its values; no traceback.
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    assert "So Far" not in printed.out and "\x1b" not in printed.out + printed.err
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Trial failed")]
    assert len(failed) == 2 and all("\n" not in line for line in failed)
    assert {line.split(":")[0] for line in failed} == {"Trial failed (dim=16, batch_size=100)",
                                                      "Trial failed (dim=24, batch_size=100)"}
    assert not os.path.exists(tmp_path / "best.config.json")
    with pytest.raises(UserError, match=r"started with other arguments .*--overwrite True"):
        tune.main(args[:-1] + ["50"])


# ------------------------------------------------------------ messages, files
def test_corrupt_audio_cannot_be_decoded_without_decoder_noise(tmp_path, capfd, caplog):
    write_tone(str(tmp_path / "good.wav"), 0.5, 8000)
    rng = np.random.default_rng(0)
    (tmp_path / "bad.mp3").write_bytes(b"\xff\xfb" + rng.integers(0, 256, 3000, np.uint8).tobytes())
    with caplog.at_level("WARNING", logger="samplernn"):
        files = data.load_quantized_files(data.find_audio_files(str(tmp_path)), tiny_config())
    assert list(files) == [str(tmp_path / "good.wav")]
    assert "bad.mp3 cannot be decoded" in caplog.text and "ffmpeg" not in caplog.text
    assert "Illegal" not in capfd.readouterr().err
    with pytest.raises(UserError, match="bad.mp3 cannot be decoded") as error:
        chunk_audio.main(["--input_file", str(tmp_path / "bad.mp3"), "--output_dir",
                          str(tmp_path / "chunks")])
    assert "ffprobe" not in str(error.value) and "Illegal" not in capfd.readouterr().err


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.config.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"dim": 48}).encode())
    assert load_config(str(path)).dim == 48


def test_written_files_respect_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        audio.write_wav(str(tmp_path / "a.wav"), np.zeros(100), 8000)
        save_config(tiny_config(), str(tmp_path / "c.config.json"))
        writer = audio.WavStreamWriter(str(tmp_path / "s.wav"), 8000)
        writer.write(np.zeros(100))
        writer.close()
        chunk_audio.main(["--input_file", str(tmp_path / "a.wav"), "--output_dir",
                          str(tmp_path / "chunks"), "--chunk_length", "5",
                          "--silence_threshold", "-200"])
        from samplernn.demo import write_demo_corpus

        write_demo_corpus(str(tmp_path / "demo"), num_files=1, seconds=0.1)
    finally:
        os.umask(previous)
    written = [tmp_path / "a.wav", tmp_path / "c.config.json", tmp_path / "s.wav",
               *(tmp_path / "chunks").iterdir(), *(tmp_path / "demo").iterdir()]
    assert len(written) > 4
    for path in written:
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o644), path


# --------------------------------------------------------------------- output
@pytest.mark.slow
def test_quiet_logs_when_output_is_not_a_terminal(tmp_path, demo_dir):
    """A subprocess, as a log file or pipe sees it: no carriage returns, one summary
    line per epoch, no TensorFlow INFO lines, accuracy in percent in metrics.csv."""
    config_path = str(tmp_path / "tiny.config.json")
    save_config(tiny_config(seq_len=256), config_path)
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "train.py"), "--id", "q", "--data_dir",
         demo_dir, "--config_file", config_path, "--logdir_root", str(tmp_path / "logdir"),
         "--batch_size", "4", "--num_epochs", "2", "--generate", "False", "--verbose",
         "False"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "\r" not in result.stdout and "Step:" not in result.stdout
    summaries = [line for line in result.stdout.splitlines() if " done, Loss:" in line]
    assert len(summaries) == 2
    assert "Sharding callback" not in result.stdout + result.stderr
    assert "oneDNN" not in result.stdout + result.stderr
    (run_dir,) = runs.run_dirs(str(tmp_path / "logdir" / "q"))
    rows = list(csv.DictReader(open(os.path.join(run_dir, "metrics.csv"))))
    console = re.search(r"Epoch: 2/2 done, .* Accuracy: ([\d.]+), .* Val Accuracy: ([\d.]+)",
                        summaries[-1])
    assert float(rows[-1]["accuracy"]) == pytest.approx(float(console.group(1)), abs=1e-3)
    assert float(rows[-1]["val_accuracy"]) == pytest.approx(float(console.group(2)), abs=1e-3)


def test_generation_eta_waits_for_the_compile(monkeypatch):
    clock = iter([0.0,     # created
                  30.0,    # first block: 0.1 s of audio after a 30 s compile
                  31.0,    # 1.1 s of audio one second later
                  ])
    monkeypatch.setattr("samplernn.progress.time.perf_counter", lambda: next(clock))

    class Terminal:
        text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

        def isatty(self):
            return True

    stream = Terminal()
    progress = GenerationProgress(5.0, stream=stream, interval=0.0)
    progress.update(0.1)
    progress.update(1.1)
    first, second = stream.text.split("\r")[1:]
    assert "ETA ?" in first
    assert "ETA 0:00:03" in second and "1.00x real time" in second   # 3.9 s at 1 s/s


def test_a_checkpoint_from_before_the_epoch_sums_still_resumes(tmp_path):
    """Checkpoints written before Progress held loss sums restore, the sums at zero."""
    import tensorflow as tf

    model = build_model(tiny_config())
    old_progress = tf.Module()
    old_progress.epoch = tf.Variable(3, dtype=tf.int64)
    old_progress.step = tf.Variable(5, dtype=tf.int64)
    old_progress.best_loss = tf.Variable(2.5, dtype=tf.float64)
    old_progress.epochs_without_improvement = tf.Variable(1, dtype=tf.int64)
    prefix = tf.train.Checkpoint(model=tf.train.Checkpoint(**model.variables_by_path()),
                                 progress=old_progress).write(str(tmp_path / "model.ckpt-3"))
    progress = checkpoints.Progress()
    checkpoints.restore(checkpoints.make_checkpoint(build_model(tiny_config()), None, progress),
                        prefix)
    assert (int(progress.epoch), int(progress.step), float(progress.loss_sum)) == (3, 5, 0.0)
    deeper = build_model(tiny_config(num_rnn_layers=2))   # variables the file lacks
    with pytest.raises(UserError, match="does not fit this model"):
        checkpoints.restore(checkpoints.make_checkpoint(deeper, None, checkpoints.Progress()),
                            prefix)


@pytest.mark.parametrize("damage", ["data-truncated", "index-truncated", "lfs-pointer"])
def test_a_damaged_checkpoint_is_one_line_naming_it_in_every_script(damage, saved_model,
                                                                    tmp_path):
    """A checkpoint whose files were cut short (an unfinished copy) or replaced by a
    Git LFS pointer: generate.py, evaluate.py and train.py --init_from each stop with one
    line naming the checkpoint, train.py before it decodes the corpus (here: a folder
    that does not exist)."""
    import glob

    import evaluate
    from conftest import write_tone

    os.makedirs(tmp_path / "clips")
    prefix = runs.latest_checkpoint(saved_model)
    (data,) = glob.glob(prefix + ".data-*")
    path = {"data-truncated": data, "lfs-pointer": data,
            "index-truncated": prefix + ".index"}[damage]
    if damage == "lfs-pointer":
        with open(path, "w") as f:
            f.write("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 999\n")
    else:
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    expected = rf"cannot read checkpoint .*{os.path.basename(prefix)} \(%s\).*truncated"

    def error_of(main, argv):
        with pytest.raises(Exception) as raised:   # a traceback is what this test catches
            main(argv)
        assert raised.type is UserError, f"{raised.type.__name__}: {raised.value}"
        return str(raised.value)

    assert re.search(expected % "--checkpoint_path", error_of(generate.main, [
        "--checkpoint_path", saved_model, "--output_path", str(tmp_path / "out.wav"),
        "--dur", "0.1"]))
    assert re.search(expected % "--checkpoint_path", error_of(evaluate.main, [
        "--checkpoint_path", saved_model, "--data_dir",
        os.path.dirname(write_tone(str(tmp_path / "clips" / "a.wav"), 1, 8000))]))
    assert re.search(expected % "--init_from", error_of(train.main, [
        "--id", "new", "--data_dir", str(tmp_path / "no-such-corpus"), "--init_from",
        prefix, "--logdir_root", str(tmp_path / "logdir2")]))


def test_a_checkpoints_own_files_name_it(saved_model):
    """The .index or a data shard of a checkpoint given in place of its prefix is that
    checkpoint; TensorFlow's `checkpoint` pointer file is not one, and says so."""
    import glob

    prefix = runs.latest_checkpoint(saved_model)
    def resolved(path):
        try:
            return runs.resolve_checkpoint(path)
        except UserError as e:
            return str(e)

    assert resolved(prefix + ".index") == prefix
    assert resolved(glob.glob(prefix + ".data-*")[0]) == prefix
    with open(os.path.join(saved_model, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "model.ckpt-1"\n')
    with pytest.raises(UserError, match=r"no checkpoint found at .*checkpoint "
                                        r"\(--checkpoint_path\)"):
        runs.resolve_checkpoint(os.path.join(saved_model, "checkpoint"))

"""The measures of notes: plucked notes, noise, a drone and silence tell themselves apart,
and the verdict against a corpus says what is missing."""

import os
import re

import numpy as np
import pytest
import soundfile

from samplernn import notes
from samplernn.demo import synthesize
from conftest import REPO_ROOT

RATE = 16000
SECONDS = 2.0


@pytest.fixture(scope="module")
def signals():
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * RATE)) / RATE
    return {"plucked": synthesize(SECONDS, RATE, rng),
            "other plucked": synthesize(SECONDS, RATE, np.random.default_rng(1)),
            "noise": (0.1 * rng.standard_normal(len(t))).astype(np.float32),
            "drone": (0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220, 330, 440))
                      ).astype(np.float32),
            "silence": np.zeros(len(t), np.float32)}


def test_each_measure_tells_notes_from_noise_drones_and_silence(signals):
    measured = {name: notes.measure(audio, RATE) for name, audio in signals.items()}
    plucked, noise, drone = measured["plucked"], measured["noise"], measured["drone"]
    assert plucked["tonal_share"] > 0.9 and noise["tonal_share"] < 0.1
    assert noise["median_flatness"] > 100 * plucked["median_flatness"]
    assert plucked["onsets_per_second"] > 2 and plucked["decay_db"] < -6   # four notes a second
    assert abs(drone["decay_db"]) < 1                                       # a drone does not fall
    assert plucked["pitch_classes"] >= 3 and drone["pitch_classes"] <= 2
    assert measured["silence"]["silence_share"] == 1 and plucked["silence_share"] == 0


def test_the_verdict_against_a_corpus_names_what_is_missing(signals, tmp_path, capsys):
    corpus = notes.corpus_medians([notes.measure(signals["plucked"], RATE)])
    assert notes.has_notes(notes.measure(signals["other plucked"], RATE), corpus)["all"]
    for name, missing in (("noise", "flatness like the corpus"),
                          ("drone", "onsets that decay"), ("silence", "little silence")):
        checks = notes.has_notes(notes.measure(signals[name], RATE), corpus)
        assert not checks["all"] and not checks[missing], name
    (tmp_path / "corpus").mkdir()
    soundfile.write(str(tmp_path / "corpus" / "a.wav"), signals["plucked"], RATE)
    for name in ("other plucked", "noise"):
        soundfile.write(str(tmp_path / f"{name}.wav"), signals[name], RATE)
    assert notes.main([str(tmp_path / "other plucked.wav"), str(tmp_path / "noise.wav"),
                       "--corpus", str(tmp_path / "corpus")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].lstrip().startswith("corpus median") and lines[1].endswith("1.00 alive")
    # alive share / first collapse of their one 2-s window: the noise's is dead
    assert re.search(r" [01]\.00 / never  has notes like its corpus$", lines[2])
    assert "0.00 / never  missing: flatness like the corpus" in lines[3]


def test_the_decay_asked_is_relative_to_the_corpus():
    """Music whose notes overlap falls little after an onset (the wesnoth held-out clips'
    median is -0.4 dB): a generated file falling most of that has decaying onsets, one
    that does not fall has none, and a corpus of struck notes asks a real fall."""
    def decaying(generated_db, corpus_db):
        corpus = {"median_flatness": 0.01, "onsets_per_second": 4.0, "decay_db": corpus_db,
                  "pitch_classes": 6.0, "silence_share": 0.0}
        generated = dict(corpus, decay_db=generated_db)
        return notes.has_notes(generated, corpus)["onsets that decay"]

    assert decaying(-0.3, corpus_db=-0.4)
    assert not decaying(0.05, corpus_db=-0.4)
    assert not decaying(-3.0, corpus_db=-8.0) and decaying(-5.0, corpus_db=-8.0)
    assert not decaying(0.5, corpus_db=0.2) and decaying(-0.1, corpus_db=0.2)


def test_a_missing_or_undecodable_file_is_one_line_naming_it(tmp_path):
    """``python -m samplernn.notes`` on a path that is not audio: status 2 and one line
    naming the file, no traceback."""
    import subprocess
    import sys

    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("not audio")
    for path, says in ((tmp_path / "missing.wav", "does not exist"),
                       (not_audio, "cannot be decoded")):
        done = subprocess.run([sys.executable, "-m", "samplernn.notes", str(path)],
                              capture_output=True, text=True, cwd=REPO_ROOT)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == done.stderr.strip().splitlines()[0], done.stderr
        assert str(path) in done.stderr and says in done.stderr
    from samplernn import audio
    from samplernn.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        audio.native_sample_rate(str(tmp_path / "missing.wav"))


def test_a_missing_file_is_reported_before_the_table_starts(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "samplernn.notes", str(tmp_path / "no.wav")],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 2 and done.stdout == "", done.stdout


def test_numbas_cpu_is_set_before_librosa_can_load():
    """Importing any module of the package sets NUMBA_CPU_NAME (the onset detector
    crashed on some hosts with numba's host-specific code) before librosa is loaded."""
    import subprocess
    import sys

    probe = ("import os, sys; import samplernn.audio; "
             "print(os.environ.get('NUMBA_CPU_NAME'), 'librosa' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CPU_NAME"}
    printed = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout.split()
    assert printed == ["generic", "False"]

"""Models shipped in models/: a name works wherever a checkpoint is taken, and each shipped
model is weights only, small, described, and generates."""

import os

import pytest
import soundfile
from conftest import save_untrained, tiny_config

from samplernn import runs
from samplernn.errors import UserError
from samplernn.resuming import find_init_source

MAX_SHIPPED_FILE_BYTES = 20 * 10**6     # a file of a model in git (the project's rule)
CARD_SECTIONS = ("Sources", "Training", "Held-out", "Rebuild")


def resolved(path: str) -> str:
    """What ``--checkpoint_path path`` opens, or the error that says it cannot."""
    try:
        return runs.resolve_checkpoint(path)
    except UserError as e:
        return str(e)


def test_a_shipped_name_is_a_checkpoint_for_every_script(tmp_path, monkeypatch):
    """``--checkpoint_path NAME`` and ``--init_from NAME`` find models/NAME; a folder of
    that name where the command runs comes first; an unknown name lists the shipped."""
    models = tmp_path / "models"
    shipped_run = save_untrained(models, tiny_config(), "tinybase")
    monkeypatch.setattr(runs, "SHIPPED_MODELS_DIR", str(models))
    monkeypatch.chdir(tmp_path)
    assert runs.shipped_models() == ["tinybase"]
    assert resolved("tinybase") == runs.latest_checkpoint(shipped_run)
    prefix, config = find_init_source("tinybase")
    assert prefix == runs.latest_checkpoint(shipped_run) and config == tiny_config()
    local_run = save_untrained(tmp_path, tiny_config(), "tinybase")   # ./tinybase/<run>
    assert os.path.abspath(runs.resolve_checkpoint("tinybase")) == \
        runs.latest_checkpoint(local_run)
    with pytest.raises(UserError, match=r"no checkpoint found at nothing .*shipped model "
                                        r"\(tinybase\)"):
        runs.resolve_checkpoint("nothing")


def test_at_least_one_model_is_shipped():
    assert "base128" in runs.shipped_models()


@pytest.mark.parametrize("name", runs.shipped_models())
def test_a_shipped_model_is_weights_only_small_described_and_generates(name, tmp_path):
    import tensorflow as tf

    import generate

    folder = os.path.join(runs.SHIPPED_MODELS_DIR, name)
    for entry in os.listdir(folder):
        assert os.path.getsize(os.path.join(folder, entry)) <= MAX_SHIPPED_FILE_BYTES, entry
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        card = f.read()
    for section in CARD_SECTIONS:
        assert f"## {section}" in card, (name, section)
    prefix = runs.latest_checkpoint(folder)
    stored = [variable for variable, _ in tf.train.list_variables(prefix)]
    assert all(v.startswith(("model/", "_CHECKPOINTABLE_OBJECT_GRAPH")) for v in stored), \
        [v for v in stored if not v.startswith("model/")][:3]
    output = tmp_path / "out.wav"
    assert generate.main(["--checkpoint_path", name, "--output_path", str(output),
                          "--dur", "0.05", "--num_seqs", "1"]) == 0
    audio, rate = soundfile.read(str(output))
    assert rate == runs.config_for_checkpoint(prefix).sample_rate and len(audio) > 0
    assert abs(audio).max() > 0


@pytest.mark.parametrize("name", runs.shipped_models())
def test_every_figure_of_a_card_comes_from_its_csvs(name):
    """A model card's held-out bits and curve are its scores.csv and curve.csv row for
    row; it names its weights' licence, and every Debian package of packages.csv with
    its exact version and .deb hash; the code has its own LICENSE."""
    import csv
    import re

    folder = os.path.join(runs.SHIPPED_MODELS_DIR, name)
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as f:
        card = f.read()

    def rows(file):
        with open(os.path.join(folder, file), newline="") as f:
            return list(csv.DictReader(f))

    def table_after(heading):
        """The first table after ``heading``, as lists of cells, header row dropped."""
        part = card[card.index(heading):]
        lines = [line for line in part.splitlines() if line.startswith("|")]
        table = []
        for line in lines[2:]:
            table.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
            following = part[part.index(line) + len(line):].lstrip(" ")
            if not following.startswith("\n|"):
                break
        return table

    scores = rows("scores.csv")
    assert table_after("## Held-out bits per sample") == [
        [row["source"], row["in_base"], row["bits_per_sample"]] for row in scores]
    if os.path.exists(os.path.join(folder, "curve.csv")):
        assert table_after("Held-out bits at earlier checkpoints") == [
            list(row.values()) for row in rows("curve.csv")]
    figures = set(re.findall(r"\b\d\.\d{4}\b", card))   # every bits figure in the card
    from_csvs = {value for file in ("scores.csv", "curve.csv")
                 if os.path.exists(os.path.join(folder, file))
                 for row in rows(file) for value in row.values()}
    assert figures <= from_csvs, figures - from_csvs
    assert "The weights: **GPL-3.0-or-later**" in card
    assert table_after("## Licence") == [
        [row["source"], row["role"], row["package"], row["version"], row["sha256"],
         row["licence"]] for row in rows("packages.csv")]
    assert all(re.fullmatch(r"[0-9a-f]{64}", row["sha256"]) for row in rows("packages.csv"))
    with open(os.path.join(os.path.dirname(runs.SHIPPED_MODELS_DIR), "LICENSE")) as f:
        assert "MIT License" in f.read()

"""The Colab notebook runs to the end in its small mode and produces a WAV, and a
failed step stops it there."""

import os
import re

import nbformat
import pytest
import soundfile
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import REPO_ROOT

NOTEBOOK = os.path.join(REPO_ROOT, "notebooks", "samplernn.ipynb")
NOTEBOOK_TIMEOUT_S = 600


def small_mode_notebook():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    settings = notebook.cells[1]
    assert settings.source.startswith("SMALL_MODE = False")
    settings.source = settings.source.replace("SMALL_MODE = False", "SMALL_MODE = True", 1)
    return notebook


def execute(notebook):
    NotebookClient(notebook, timeout=NOTEBOOK_TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}}).execute()


def test_scripts_run_with_the_kernels_own_python():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert "!python" not in cell.source and "!pip" not in cell.source


@pytest.mark.slow
def test_a_failed_step_stops_the_notebook_there():
    notebook = small_mode_notebook()
    (chunk_cell,) = [i for i, cell in enumerate(notebook.cells) if "chunk_audio.py" in cell.source]
    notebook.cells[chunk_cell].source = notebook.cells[chunk_cell].source.replace(
        "--chunk_length", "--no_such_flag 1 --chunk_length")
    with pytest.raises(CellExecutionError, match="this step failed"):
        execute(notebook)
    ran = [i for i, cell in enumerate(notebook.cells)
           if cell.cell_type == "code" and cell.get("execution_count")]
    assert max(ran) == chunk_cell   # nothing after the broken step ran


@pytest.mark.slow
def test_notebook_runs_in_small_mode():
    notebook = small_mode_notebook()
    execute(notebook)
    printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for output in cell.outputs)
    match = re.search(r"GENERATED_WAV = (\S+\.wav)", printed)
    assert match, printed[-2000:]
    audio, rate = soundfile.read(match.group(1))
    assert rate == 16000 and len(audio) == 8000
    assert os.path.exists(match.group(1)[:-4] + ".png")
    assert "Done: 24 chunk(s) processed" in printed

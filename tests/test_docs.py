"""Documentation that cannot drift: every command in README.md and docs/*.md that runs
one of the project's scripts uses flags that script has, and names files that exist.

A command is a line of a fenced ``shell`` block (``\\`` continuations joined), split at
``&&``, ``||``, ``|`` and ``;``. For ``python <script>.py`` and ``python -m samplernn.<x>``
each ``--flag`` must be an option of that script's parser; each word naming a file of
the kinds the repository ships (``*.json``, ``*.py``, ``*.ipynb``, ``*.txt``) must exist
in the repository, unless an earlier command of the same block writes it; a bare name
given as a checkpoint (``--checkpoint_path base128``) must be a shipped model.
"""

import argparse
import dataclasses
import glob
import importlib
import inspect
import os
import re
import shlex

import pytest

from conftest import REPO_ROOT

from samplernn import runs

PAGES = ["README.md", *sorted(os.path.relpath(p, REPO_ROOT)
                              for p in glob.glob(os.path.join(REPO_ROOT, "docs", "*.md")))]
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL_LANGUAGES = ("shell", "bash", "sh", "console")
SEPARATORS = ("&&", "||", "|", ";")
REPOSITORY_FILE = re.compile(r"\.(json|py|ipynb|txt)$")
OUTPUT_FLAGS = ("--output_file", "--output_path", "--output_dir")
CHECKPOINT_FLAGS = ("--checkpoint_path", "--init_from")


@dataclasses.dataclass
class Command:
    page: str
    line: int           # 1-based line of the page where the command starts
    words: list


def shell_blocks(page: str):
    """``[(first line number, [(line number, text), ...]), ...]`` of the page's shell blocks."""
    with open(os.path.join(REPO_ROOT, page), encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, current, language = [], None, None
    for number, text in enumerate(lines, start=1):
        fence = FENCE.match(text.strip())
        if fence and current is None:
            current, language = [], fence.group(1)
        elif text.strip() == "```" and current is not None:
            if language in SHELL_LANGUAGES:
                blocks.append(current)
            current = None
        elif current is not None:
            current.append((number, text))
    return blocks


def commands_of(page: str, block) -> list:
    """The block's commands, continuations joined, comments dropped, split at separators."""
    commands, pending, start = [], "", None
    for number, text in block:
        start = number if not pending else start
        pending += text.rstrip("\\").rstrip() + " " if text.rstrip().endswith("\\") else text
        if text.rstrip().endswith("\\"):
            continue
        lexer = shlex.shlex(pending, posix=True, punctuation_chars=True)
        lexer.whitespace_split, lexer.commenters = True, "#"
        words = list(lexer)
        pending = ""
        command = []
        for word in words + [";"]:
            if word in SEPARATORS:
                if command:
                    commands.append(Command(page, start, command))
                command = []
            else:
                command.append(word)
    return commands


class _Parser(Exception):
    def __init__(self, parser):
        super().__init__()
        self.parser = parser


def options_of(module_name: str) -> set:
    """Every option string of the argument parser that ``module_name`` builds."""
    module = importlib.import_module(module_name)

    def capture(self, *args, **kwargs):
        raise _Parser(self)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = capture
    try:
        build = getattr(module, "parse_args", module.main)
        build(*([[]] if inspect.signature(build).parameters else []))
    except _Parser as captured:
        return set(captured.parser._option_string_actions)
    finally:
        argparse.ArgumentParser.parse_args = original
    raise AssertionError(f"{module_name} built no argument parser")


def script_module(words: list):
    """The module a command runs (``train`` for ``python train.py``), or None."""
    if len(words) < 2 or not re.fullmatch(r"python3?", words[0]):
        return None
    if words[1] == "-m" and len(words) > 2 and words[2].startswith("samplernn."):
        return words[2]
    if words[1].endswith(".py") and os.path.dirname(words[1]) in ("", "."):
        return os.path.basename(words[1])[:-3]
    return None


def problems_of(commands: list) -> list:
    """``"page:line: what is wrong"`` for each flag or file that does not exist."""
    found, written = [], set()
    for command in commands:
        words = [w for w in command.words if not re.fullmatch(r"[A-Z_]+=.*", w)]   # env vars
        where = f"{command.page}:{command.line}"
        module = script_module(words)
        if words[:2] in (["python", "-m"], ["python3", "-m"]) and module is None \
                and words[2:3] != ["pytest"] and not words[2:3] == ["venv"]:
            found.append(f"{where}: unknown module {words[2]}")
        if module is not None:
            options = options_of(module)
            for word in words[2:]:
                flag = word.split("=")[0]
                if flag.startswith("--") and flag not in options:
                    found.append(f"{where}: {flag} is not a flag of {module}")
        for index, word in enumerate(words):
            if index and words[index - 1] in OUTPUT_FLAGS:
                written.add(os.path.normpath(word))
            if index and words[index - 1] in CHECKPOINT_FLAGS and re.fullmatch(r"\w+", word) \
                    and word not in runs.shipped_models():
                found.append(f"{where}: {word} is not a shipped model")
            if REPOSITORY_FILE.search(word) and not word.startswith("-"):
                path = os.path.normpath(word)
                if not os.path.exists(os.path.join(REPO_ROOT, path)) and path not in written:
                    found.append(f"{where}: {word} does not exist in the repository")
    return found


def all_problems() -> list:
    found = []
    for page in PAGES:
        for block in shell_blocks(page):
            found += problems_of(commands_of(page, block))
    return found


def test_every_documented_command_uses_real_flags_and_files():
    assert len(PAGES) >= 7, PAGES            # README.md and the topic pages
    assert all_problems() == []


def test_a_renamed_flag_or_a_missing_file_is_named_with_its_page_and_line():
    """The check itself: a flag planted in README's first command, and a config file
    that does not exist, are reported with the page, the line and the name."""
    block = [(10, "pip install -r requirements.txt && python train.py --id x \\"),
             (11, "  --data_dir d --num_epoch 3 --config_file nowhere.config.json"),
             (12, "python generate.py --checkpoint_path ./logdir/x --output_path a.wav"),
             (13, "python tune.py --output_file best.config.json"),
             (14, "python train.py --data_dir d --config_file best.config.json  # made above"),
             (15, "python generate.py --checkpoint_path base64 --output_path b.wav")]
    assert problems_of(commands_of("README.md", block)) == [
        "README.md:10: --num_epoch is not a flag of train",
        "README.md:10: nowhere.config.json does not exist in the repository",
        "README.md:15: base64 is not a shipped model"]


@pytest.mark.parametrize("page", PAGES)
def test_each_page_opens_with_a_command_and_links_resolve(page):
    """Each topic page opens with its shortest working command (its first block, before
    the first section), and every relative link of every page points at a file."""
    with open(os.path.join(REPO_ROOT, page), encoding="utf-8") as f:
        text = f.read()
    if page != "README.md":
        before_sections = text.split("\n## ", 1)[0]
        assert "```shell" in before_sections, f"{page} opens without a command"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        path = os.path.normpath(os.path.join(REPO_ROOT, os.path.dirname(page), target))
        assert os.path.exists(path), f"{page} links to {target}, which does not exist"

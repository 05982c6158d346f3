"""Run directories on disk, and finding the checkpoints in them (no TensorFlow).

Layout::

    <logdir_root>/<id>/<DD.MM.YYYY_HH.MM.SS>/     one directory per training run
        model.config.json, learning_rate.json ...  the run's record
                                                   (:mod:`samplernn.run_record`)
        model.ckpt-<epoch>.index / .data-*         TensorFlow checkpoints
        state.ckpt-<epoch>.index / .data-*         --checkpoint_policy Best: the newest
                                                   training state when it is not a best
                                                   model (a stop, a timed save, an epoch
                                                   that did not improve); at most one
        checkpoint                                 TensorFlow's record of the newest
        train/, validation/                        TensorBoard logs

Anything that loads a model accepts a checkpoint prefix
(``.../model.ckpt-100``), a run directory or an id directory (the newest
``model.ckpt`` of its newest run that has one). Resuming takes the newest state
of the newest run, a ``state.ckpt`` included, so a run never goes back in time
(a ``state.ckpt-<e>`` is written after ``model.ckpt-<e - 1>`` and before
``model.ckpt-<e>``; earlier releases called it ``interrupted.ckpt``).

Everything here works on names and JSON files only, so the scripts can find a
checkpoint and compare configs before TensorFlow loads (see
:mod:`samplernn.checkpoints` for what is inside a checkpoint).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import glob
import os
import re
import shutil

from samplernn.config import CHECKPOINT_CONFIG_NAME, ModelConfig, load_config
from samplernn.errors import UserError
from samplernn.fileio import remove_stale_temporaries
from samplernn.run_record import beside

RUN_DIR_FORMAT = "%d.%m.%Y_%H.%M.%S"
CHECKPOINT_NAME = "model.ckpt"            # a checkpoint saved at the end of an epoch
STATE_NAME = "state.ckpt"                 # Best policy: the newest state, not a best model
LEGACY_STATE_NAME = "interrupted.ckpt"    # what STATE_NAME was called before
STATE_NAMES = (STATE_NAME, LEGACY_STATE_NAME)
_CHECKPOINT_EPOCH = re.compile(r"\.ckpt-(\d+)$")
_CHECKPOINT_FILE = re.compile(r"\.(index|data-\d+-of-\d+)$")   # one file of a checkpoint
_RECORDED = re.compile(r'^model_checkpoint_path:\s*"(.*)"\s*$', re.M)
# Models shipped with the project: models/<name>/ holds a checkpoint (weights only), its
# model.config.json and a model card; every script that takes a checkpoint takes the name.
SHIPPED_MODELS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  "models")


# ------------------------------------------------------------ run directories
def new_run_dir(logdir_root: str, run_id: str) -> str:
    """Create ``<logdir_root>/<id>/<timestamp>`` and return its path."""
    now = datetime.datetime.now()
    while True:
        path = os.path.join(logdir_root, run_id, now.strftime(RUN_DIR_FORMAT))
        try:
            os.makedirs(path)
            return path
        except FileExistsError:  # two runs started within the same second
            now += datetime.timedelta(seconds=1)


def _checkpoint_indexes(directory: str, names=(CHECKPOINT_NAME, *STATE_NAMES)) -> list:
    return [index for name in names
            for index in glob.glob(os.path.join(directory, f"{name}-*.index"))]


def _prefixes(directory: str, names) -> list:
    return [index[:-len(".index")] for index in _checkpoint_indexes(directory, names)]


def remove_checkpoint(prefix: str) -> None:
    """Delete checkpoint ``prefix``: its index first (from then on nothing finds it),
    then its data shards."""
    for path in [prefix + ".index", *glob.glob(glob.escape(prefix) + ".data-*")]:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def remove_states(directory: str, keep: str = None) -> list:
    """Delete the ``state.ckpt`` (and legacy ``interrupted.ckpt``) checkpoints of
    ``directory`` but ``keep``; return their prefixes. Called once a newer checkpoint
    is written, so a killed process leaves at worst one stale state, which
    :func:`latest_checkpoint` ranks below the newer one."""
    stale = [prefix for prefix in _prefixes(directory, STATE_NAMES)
             if keep is None or os.path.abspath(prefix) != os.path.abspath(keep)]
    for prefix in stale:
        remove_checkpoint(prefix)
    return stale


@contextlib.contextmanager
def new_run(logdir_root: str, run_id: str):
    """A new run directory (see :func:`new_run_dir`) for the ``with`` block.

    If the block fails before any checkpoint is written there, the directory
    is removed again: a failed start leaves no empty run behind.
    """
    path = new_run_dir(logdir_root, run_id)
    try:
        yield path
    except BaseException:
        if not _checkpoint_indexes(path):
            shutil.rmtree(path, ignore_errors=True)
        raise


def remove_runs_without_checkpoint(id_dir: str) -> list:
    """Remove the run directories of ``id_dir`` that hold no checkpoint (left by a
    process killed before its first save: SIGKILL, an out-of-memory kill, a dead VM);
    return their paths. Call it only while holding the id's lock
    (:mod:`samplernn.locks`), when no other run of the id can be starting."""
    removed = []
    for run_dir in run_dirs(id_dir):
        if not _checkpoint_indexes(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)
            removed.append(run_dir)
    return removed


def run_dirs(id_dir: str) -> list:
    """The run directories under an id directory, oldest first."""
    runs = []
    for path in glob.glob(os.path.join(id_dir, "*")):
        try:
            runs.append((datetime.datetime.strptime(os.path.basename(path), RUN_DIR_FORMAT),
                         path))
        except ValueError:
            continue
    return [path for _, path in sorted(runs)]


def remove_unfinished_saves(id_dir: str) -> list:
    """Remove ``*.ckpt-<N>_temp/`` directories that a killed save left behind in
    any run of ``id_dir``; return their paths. (TensorFlow writes a checkpoint
    there first and renames its files into place when complete.)"""
    removed = []
    for run_dir in run_dirs(id_dir):
        for path in glob.glob(os.path.join(run_dir, "*.ckpt-*_temp*")):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


# ------------------------------------------------------- finding checkpoints
def checkpoint_epoch(prefix: str) -> int:
    """The epoch number in a ``model.ckpt-<epoch>`` (or ``state.ckpt-``) prefix."""
    match = _CHECKPOINT_EPOCH.search(prefix)
    return int(match.group(1)) if match else 0


def is_checkpoint(prefix: str) -> bool:
    return os.path.isfile(prefix + ".index")


def _recorded_checkpoint(directory: str):
    """The newest checkpoint named in TensorFlow's ``checkpoint`` file (a text
    protocol buffer, read here without TensorFlow), if it still exists."""
    try:
        with open(os.path.join(directory, "checkpoint"), encoding="utf-8") as f:
            match = _RECORDED.search(f.read())
    except OSError:
        return None
    if not match:
        return None
    prefix = os.path.join(directory, match.group(1))   # an absolute path stays as it is
    return prefix if is_checkpoint(prefix) else None


def _newest_state(prefix: str) -> tuple:
    """How far checkpoint ``prefix`` is into its run, from its name: its epoch, then a
    ``model.ckpt`` over a ``state.ckpt`` of the same epoch (``model.ckpt-<e>`` holds
    epoch ``e`` complete; a ``state.ckpt-<e>`` at most that), then over a legacy
    ``interrupted.ckpt`` (which an earlier release may have left stale)."""
    name = os.path.basename(prefix).rsplit("-", 1)[0]
    rank = {CHECKPOINT_NAME: 2, STATE_NAME: 1}.get(name, 0)
    return checkpoint_epoch(prefix), rank


def _latest_in_directory(directory: str, for_resuming: bool):
    if for_resuming:      # the newest state, whichever kind holds it
        prefixes = _prefixes(directory, (CHECKPOINT_NAME, *STATE_NAMES))
        return max(prefixes, key=_newest_state) if prefixes else None
    found = _recorded_checkpoint(directory)
    if found:
        return found
    prefixes = _prefixes(directory, (CHECKPOINT_NAME,))
    return max(prefixes, key=checkpoint_epoch) if prefixes else None


def latest_checkpoint(path: str, for_resuming: bool = False):
    """The checkpoint prefix at ``path`` (a prefix, run dir or id dir), or None.

    A directory gives the newest ``model.ckpt`` of its newest run that has one;
    ``for_resuming`` takes the newest state, a ``state.ckpt`` included (see module
    docs).
    """
    if is_checkpoint(path):
        return path
    if not os.path.isdir(path):
        return None
    for directory in [path, *reversed(run_dirs(path))]:
        found = _latest_in_directory(directory, for_resuming)
        if found:
            return found
    return None


def shipped_models() -> list:
    """The names of the models shipped in SHIPPED_MODELS_DIR (``models/<name>/``)."""
    if not os.path.isdir(SHIPPED_MODELS_DIR):
        return []
    return sorted(name for name in os.listdir(SHIPPED_MODELS_DIR)
                  if latest_checkpoint(os.path.join(SHIPPED_MODELS_DIR, name)))


def resolve_checkpoint(path: str, flag: str = "--checkpoint_path",
                       for_resuming: bool = False) -> str:
    """Like :func:`latest_checkpoint`, but a clear error when there is none. A ``path``
    that does not exist but names a shipped model (``base128``) is that model."""
    file_of = _CHECKPOINT_FILE.search(path or "")
    if file_of and is_checkpoint(path[:file_of.start()]):   # its .index or a data shard
        path = path[:file_of.start()]
    if path and not os.path.exists(path) and not is_checkpoint(path) \
            and path in shipped_models():
        path = os.path.join(SHIPPED_MODELS_DIR, path)
    found = latest_checkpoint(path, for_resuming) if path else None
    if found is None:
        interrupted = latest_checkpoint(path, for_resuming=True) if path else None
        hint = (f" (only a training state that is not a best model, {interrupted}, which "
                f"can be passed as it is)" if interrupted else "")
        shipped = ", ".join(shipped_models()) or "none"
        raise UserError(f"no checkpoint found at {path} ({flag}){hint}; pass a checkpoint "
                        f"such as logdir/<id>/<run>/{CHECKPOINT_NAME}-<epoch>, a run "
                        f"directory, an id directory or a shipped model ({shipped})")
    return found


# ------------------------------------------------------------------ configs
def config_for_checkpoint(prefix: str, config_file: str = None) -> ModelConfig:
    """The config saved beside ``prefix``; ``config_file``, if given, must agree with it.

    Only ``sample_rate`` may differ: training may have overridden it with
    ``--sample_rate``, so the checkpoint's rate is the one that holds.
    """
    saved_path = beside(prefix, CHECKPOINT_CONFIG_NAME)
    saved = load_config(saved_path) if os.path.isfile(saved_path) else None
    if config_file is None:
        if saved is None:
            raise UserError(f"checkpoint {prefix} has no {CHECKPOINT_CONFIG_NAME} beside it; "
                            f"pass the config it was trained with as --config_file")
        return saved
    given = load_config(config_file)
    if saved is None:
        return given
    differences = given.replace(sample_rate=saved.sample_rate).differences(saved)
    if differences:
        raise UserError(f"config file {config_file} does not match checkpoint {prefix} "
                        f"({'; '.join(differences)}); omit --config_file to "
                        f"use the checkpoint's own config")
    return saved


@dataclasses.dataclass(frozen=True)
class OpenCheckpoint:
    """A checkpoint found and checked, with its model config (see :func:`open_checkpoint`);
    :func:`samplernn.checkpoints.load_model` then builds the model and loads it."""
    prefix: str
    config: ModelConfig


def open_checkpoint(path: str, config_file: str = None, sweep_dir: str = None,
                    flag: str = "--checkpoint_path") -> OpenCheckpoint:
    """How generate.py, evaluate.py and export.py open a run, before TensorFlow loads:
    resolve ``path`` (a prefix, run or id directory) to a checkpoint, read its config
    (``config_file``, if given, must agree with it), and remove the temporary files a
    killed process of ours left in ``sweep_dir`` (where the new files will go)."""
    prefix = resolve_checkpoint(path, flag)
    config = config_for_checkpoint(prefix, config_file)
    if sweep_dir is not None:
        remove_stale_temporaries(sweep_dir)
    return OpenCheckpoint(prefix, config)


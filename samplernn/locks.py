"""One training process per id: a lock file that a killed process does not leave stuck.

``train.py`` holds ``<logdir_root>/<id>/.lock`` for as long as it runs. The
lock is the operating system's (``fcntl.flock``), so it is released when the
process ends, however it ends (SIGKILL and an out-of-memory kill included):
a second ``train.py`` with the same ``--id`` is refused while the first runs,
and never after. The file holds the holder's host, process id and start time,
for the refusal's message. (On NFS, flock works where the server supports
locks, as current Linux NFS clients and servers do.)
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import socket

from samplernn.errors import UserError
from samplernn.fileio import check_writable_directory

LOCK_NAME = ".lock"


def writes_runs(strategy: str, environ=os.environ) -> bool:
    """Whether this process writes the id's runs (and so takes its lock): every
    process but the non-chief workers of ``--strategy multi_worker``, told from
    ``TF_CONFIG`` as :func:`samplernn.distribute.is_chief` tells it, without TensorFlow."""
    if strategy != "multi_worker":
        return True
    try:
        tf_config = json.loads(environ.get("TF_CONFIG", "{}"))
        task = tf_config.get("task", {})
        cluster = tf_config.get("cluster", {})
    except (ValueError, AttributeError):
        return True    # make_strategy reports the broken TF_CONFIG
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0 \
        and "chief" not in cluster


class IdLock:
    """The lock of one id directory, taken by :meth:`acquire`, given back by :meth:`release`."""

    def __init__(self, id_dir: str, run_id: str):
        self.id_dir, self.run_id = id_dir, run_id
        self.path = os.path.join(id_dir, LOCK_NAME)
        self._fd = None

    def acquire(self) -> "IdLock":
        """Take the lock, or raise a UserError naming the process that holds it."""
        created_dir = not os.path.isdir(self.id_dir)
        check_writable_directory(self.id_dir, "--logdir_root")
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_holder(fd)
                os.close(fd)
                if created_dir:
                    _remove_if_empty(self.id_dir)
                raise UserError(f"another train.py is training --id {self.run_id} "
                                f"({holder}); wait for it to finish or stop it, or choose "
                                f"another --id") from None
            # The holder before us may have removed the file after we opened it: then
            # our lock is on a file nobody else will see. Lock the file at the path.
            if _same_file(fd, self.path):
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        started = datetime.datetime.now().isoformat(timespec="seconds")
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()}, since {started}\n"
                 .encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file (and the id directory, if that leaves it empty)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.remove(self.path)      # while still holding it: no one locks a stale file
        os.close(self._fd)
        self._fd = None
        _remove_if_empty(self.id_dir)

    def __enter__(self) -> "IdLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "a process that has not written its name yet"


def _same_file(fd: int, path: str) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _remove_if_empty(directory: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(directory)

"""Writing files safely: atomically, with the user's umask, and with clear errors.

A reader never sees a half-written file: everything is written under a
temporary name beside its destination and renamed into place when complete.
"""

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import time

from samplernn.errors import UserError

TEMPORARY_PREFIX = ".tmp-"
# Our temporary files and directories carry the writer's process space and process id,
# ``.tmp-samplernn-<host>.ns<pid namespace>@<pid>-...``, so that a later run can tell
# those left by a killed process of its own process space from those being written. A
# directory may be shared (NFS, several containers): process ids of another host, or of
# another container on this host (same host name with host networking, other process
# ids), mean nothing here, so such temporaries are removed only once older than
# STALE_AFTER_SECONDS. Names of older releases (``<host>@<pid>`` or ``<pid>`` alone)
# are treated as another process space's.
_OURS = re.compile(r"^\.tmp-samplernn-(?:(?P<host>[A-Za-z0-9_.]+)@)?(?P<pid>\d+)-")
_PID_NAMESPACE = "/proc/self/ns/pid"   # Linux: one inode per process-id namespace
STALE_AFTER_SECONDS = 24 * 3600   # a day: no write of ours takes that long
FULL_DISK_BYTES = 1 << 20   # less free space than this, after a failed write: the disk is full


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def host_name() -> str:
    """This machine's name, as temporary names carry it (letters, digits, ``_``, ``.``)."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"


def process_space() -> str:
    """Where this process's id means something: ``<host>.ns<inode>``, the host name
    and, on Linux, the process-id namespace (one per container), else the host name."""
    try:
        return f"{host_name()}.ns{os.stat(_PID_NAMESPACE).st_ino}"
    except OSError:
        return host_name()


def temporary_prefix() -> str:
    """``.tmp-samplernn-<process space>@<pid>-``: the start of this process's
    temporary names (see :func:`process_space`)."""
    return f"{TEMPORARY_PREFIX}samplernn-{process_space()}@{os.getpid()}-"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process
        return True
    return True


def _is_stale(path: str, match, here: str) -> bool:
    """Whether the temporary ``path`` (its name matched by ``_OURS``) was left by a
    process that is gone: one of this process space (``here``) that no longer runs, or,
    for another host's or container's, one untouched for STALE_AFTER_SECONDS."""
    if match.group("host") == here:
        return not _process_exists(int(match.group("pid")))
    try:
        return time.time() - os.path.getmtime(path) > STALE_AFTER_SECONDS
    except OSError:
        return False


def remove_stale_temporaries(directory: str) -> list:
    """Remove the temporary files and directories in ``directory`` that a process
    of ours left behind when it was killed (see ``_is_stale``); return them."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    here = process_space()
    for name in names:
        match = _OURS.match(name)
        path = os.path.join(directory, name)
        if not match or not _is_stale(path, match, here):
            continue
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        removed.append(path)
    return removed


def temporary_path_for(path: str) -> str:
    """Create an empty, uniquely named file beside ``path`` and return its name.

    It keeps the final extension (some writers pick the format from it),
    creates the parent directory if needed, and gets the permissions an
    ordinary new file gets (``0666`` less the umask, e.g. ``0644``), not the
    private ``0600`` of :func:`tempfile.mkstemp`.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        suffix = os.path.splitext(path)[1]
        fd, tmp_path = tempfile.mkstemp(prefix=temporary_prefix(), suffix=suffix, dir=directory)
    except OSError as e:
        raise write_error(path, e) from None
    os.fchmod(fd, 0o666 & ~current_umask())
    os.close(fd)
    return tmp_path


def check_writable_directory(directory: str, flag: str) -> None:
    """Create ``directory`` if need be and check that files can be written in it; a
    one-line :class:`UserError` naming it and ``flag`` if not (a read-only file system,
    no permission, a file in the way). For checks made before slow work starts."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(prefix=temporary_prefix(), dir=directory):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise UserError(f"{flag}: cannot write in {directory} ({reason}); choose a folder "
                        f"you can write to") from None


@contextlib.contextmanager
def atomic_path(path: str, what: str = "file"):
    """Yield a temporary path next to ``path``; rename it into place on success.

    On an exception the temporary file is removed and ``path`` is left
    untouched; an ``OSError`` (a full disk, say) becomes a one-line
    :class:`UserError` naming ``path``.
    """
    tmp_path = temporary_path_for(path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        if isinstance(e, OSError):
            raise write_error(path, e, what) from None
        raise


def atomic_write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp_path:
        with open(tmp_path, "w", encoding="utf-8") as f:
            f.write(text)


def is_disk_full(path: str, error: BaseException) -> bool:
    """Whether ``error``, raised writing ``path``, came from a full disk.

    Some writers (libsndfile, TensorFlow's checkpoint writer) do not pass the
    errno on, so when the error itself does not say, the free space left on
    the device is what decides.
    """
    if getattr(error, "errno", None) == errno.ENOSPC or "No space left" in str(error):
        return True
    directory = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        return shutil.disk_usage(directory).free < FULL_DISK_BYTES
    except OSError:
        return False


def write_error(path: str, error: BaseException, what: str = "file") -> UserError:
    """A one-line error for a failed write of ``path`` (``what``: "checkpoint", "WAV file")."""
    if is_disk_full(path, error):
        return UserError(f"no space left on the device writing {what} {path}; free some "
                         f"space (or choose another location) and run again")
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UserError(f"cannot write {what} {path}: {reason}")


def check_new_directory(path: str, flag: str) -> None:
    """An error unless ``path`` does not exist or is an empty directory (``flag`` names it)."""
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise UserError(f"{flag} {path} already exists; choose a new directory or remove "
                        f"it first")

"""Atomic file writing: a reader never sees a half-written file."""

import contextlib
import os
import tempfile


def temporary_path_for(path: str) -> str:
    """Create an empty, uniquely named file beside ``path`` and return its name.

    It keeps the final extension (some writers pick the format from it) and
    creates the parent directory if needed.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp_path = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(fd)
    return tmp_path


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary path next to ``path``; rename it into place on success.

    On an exception the temporary file is removed and
    ``path`` is left untouched.
    """
    tmp_path = temporary_path_for(path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp_path)
        raise


def atomic_write_text(path: str, text: str) -> None:
    with atomic_path(path) as tmp_path:
        with open(tmp_path, "w", encoding="utf-8") as f:
            f.write(text)

"""Atomic file and folder writes: write to a temporary file or folder next to the destination, then rename.

A reader never sees a half-written output, and an interrupted run never destroys the previous
version of a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``os.umask`` sets it
    for a moment, and a file another thread creates in that moment would get the wrong mode)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _file_mode(path: str) -> int:
    """The mode an atomically written ``path`` gets: the one it has, or what ``open`` would give a
    new file (``0o666`` less the umask). ``mkstemp`` makes its files ``0o600``, which would leave
    outputs unreadable to the rest of a group sharing a project folder."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    The file keeps the mode of the ``path`` it replaces, or gets a new file's usual mode.

    Args:
        path: the final file.
        suffix: extension for the temporary file (libraries that choose the format from the
            extension, such as nibabel, need the real one, e.g. ``.nii.gz``).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def atomic_write_json(path: str, data: Any, indent: int = 2) -> None:
    """Write ``data`` as JSON (UTF-8, a final newline) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(data, indent=indent) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str, prefix: str = ".tmp-", replace: bool = False) -> Iterator[str]:
    """Yield a temporary folder next to ``path``; on success it becomes ``path``, on failure it is removed.

    Args:
        path: the final folder.
        prefix: name prefix of the temporary folder.
        replace: remove an existing ``path`` first; otherwise only an empty one may stand there.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0o700 would hide the folder from the group
        if os.path.isdir(path):
            if replace:
                shutil.rmtree(path)
            else:
                os.rmdir(path)
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

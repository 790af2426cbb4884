"""Atomic file and folder writes: write to a temporary file or folder next to the destination, then rename.

A reader never sees a half-written output, and an interrupted run never destroys the previous
version of a file.

Every temporary name says who made it: ``.<kind>.vxtmp-<host>-<pid>-<random>`` (``host`` is a
short hash of the machine's name). A run killed with ``kill -9`` cannot remove its own temporary
files; the next run that writes into the same folder calls :func:`clean_leftovers`, which removes
the leftovers of processes of this machine that no longer run, and never those of a live process
or of another machine sharing the folder.

A failure to write (a full disk, a read-only or missing folder, no permission) is an
:class:`OutputError` naming the *final* path, never the temporary one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from voxflow.errors import OutputError

log = logging.getLogger(__name__)

_TEMP_RE = re.compile(r"^\.(?P<kind>.+)\.vxtmp-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-")


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def temp_prefix(kind: str) -> str:
    """The prefix of this process's temporary names of ``kind`` (e.g. ``tmp``, ``ckpt-100``)."""
    return f".{kind}.vxtmp-{_host_tag()}-{os.getpid()}-"


def temp_owner(name: str) -> tuple[str, str, int] | None:
    """``(kind, host tag, pid)`` of a temporary name made by :func:`temp_prefix`, else None."""
    match = _TEMP_RE.match(name)
    return None if match is None else (match["kind"], match["host"], int(match["pid"]))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (a zombie, dead but not yet reaped, does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def leftovers(folder: str, kinds: Iterable[str] | None = None) -> list[str]:
    """Temporary files and folders in ``folder`` left by dead processes of this machine.

    Args:
        folder: where to look (not recursive).
        kinds: only these kinds (a kind matches itself and ``<kind>-...``, so ``ckpt`` matches
            ``ckpt-100``); ``None`` = every kind.
    """
    wanted = None if kinds is None else tuple(kinds)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    host = _host_tag()
    found = []
    for name in sorted(names):
        owner = temp_owner(name)
        if owner is None or owner[1] != host or process_alive(owner[2]):
            continue
        kind = owner[0]
        if wanted is None or any(kind == k or kind.startswith(f"{k}-") for k in wanted):
            found.append(os.path.join(folder, name))
    return found


def clean_leftovers(folder: str, kinds: Iterable[str] | None = None) -> list[str]:
    """Remove :func:`leftovers` of ``folder``; returns what was removed (logged once)."""
    removed = []
    for path in leftovers(folder, kinds):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        except OSError:
            continue
        removed.append(path)
    if removed:
        log.info("removed %d leftover(s) of an interrupted run in %s", len(removed), folder)
    return removed


def output_error(path: str, err: OSError) -> OutputError:
    """The one-line error for a failed write of ``path`` (a full disk, no permission ...)."""
    reason = err.strerror or str(err) or type(err).__name__
    return OutputError(f"Cannot write {path}: {reason}.")


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
    tmp = None
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix("tmp"), suffix=suffix, dir=folder)
        os.close(fd)
        yield tmp
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except OSError as err:
        raise output_error(path, err) from err
    finally:
        if tmp is not None and os.path.exists(tmp):
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
def atomic_directory(path: str, kind: str = "tmp", replace: bool = False) -> Iterator[str]:
    """Yield a temporary folder next to ``path``; on success it becomes ``path``, on failure it is removed.

    Args:
        path: the final folder.
        kind: the kind of temporary folder (see :func:`temp_prefix`), e.g. ``ckpt-100``.
        replace: remove an existing ``path`` first; otherwise only an empty one may stand there.

    Raises:
        OutputError: the folder cannot be written (full disk, permissions), or a non-empty
            ``path`` stands there and ``replace`` is False.
    """
    parent = os.path.dirname(os.path.abspath(path))
    staging = None
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=temp_prefix(kind), dir=parent)
        yield staging
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0o700 would hide the folder from the group
        if os.path.isdir(path):
            if replace:
                shutil.rmtree(path)
            elif os.listdir(path):
                raise OutputError(f"Cannot write {path}: it exists and is not empty.")
            else:
                os.rmdir(path)
        os.replace(staging, path)
    except OSError as err:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise output_error(path, err) from err
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise


def refuse_replacing_inputs(outputs: Iterable[str], inputs: Iterable[str], what: str = "output") -> None:
    """Stop before any work if an output would replace one of the run's inputs.

    An output is refused when it is the same file as an input (by path, or by inode through a link),
    or lies inside an input folder (a DICOM series). Call it with every planned output path and
    every input file of the run before writing anything.

    Raises:
        OutputError: names the output and the input it would replace.
    """
    known: dict[str, str] = {}
    stats: list[tuple[os.stat_result, str]] = []
    for path in inputs:
        real = os.path.realpath(path)
        known[real] = path
        with contextlib.suppress(OSError):
            stats.append((os.stat(real), path))
    folders = [(folder.rstrip(os.sep) + os.sep, path) for folder, path in known.items() if os.path.isdir(folder)]
    for out in outputs:
        real = os.path.realpath(out)
        hit = known.get(real)
        if hit is None:
            hit = next((path for folder, path in folders if real.startswith(folder)), None)
        if hit is None and os.path.exists(real):
            here = os.stat(real)
            hit = next((path for stat, path in stats if os.path.samestat(stat, here)), None)
        if hit is not None:
            raise OutputError(f"The {what} {out} would replace the input {hit}: refusing before any work. "
                              "Choose another output folder or postfix.")

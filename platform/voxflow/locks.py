"""One writer per folder: an exclusive lock that a killed process cannot leave behind.

Every action that writes into a folder holds :class:`FolderLock` on it for its whole run:
``net_segment train`` on ``model_dir``, inference on its output folder, evaluation on its CSV
folder, ``net_zoo pack`` on the zoo. A second run that wants the same folder stops at once with
one line naming the folder and the run that holds it (:class:`~voxflow.errors.LockedError`,
exit status 2), instead of silently replacing the first run's checkpoints or outputs.

The lock is ``flock`` on ``<folder>/.voxflow.lock``. The operating system releases it when its
process ends, however it ends (``kill -9`` included), so a stale lock file never blocks anyone:
the next run takes it over and says so. The file holds the holder's process id, machine and
command, only to make the message useful. Linux and macOS; on network file systems the lock is
as good as their ``flock`` (NFS emulates it with byte-range locks).

Example:
    >>> with FolderLock("runs/model", "net_segment train"):   # doctest: +SKIP
    ...     train()
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time
from typing import Any

from voxflow.errors import LockedError, OutputError

log = logging.getLogger(__name__)
LOCK_NAME = ".voxflow.lock"


def _holder_text(info: dict[str, Any]) -> str:
    parts = [f"process {info.get('pid', '?')}"]
    if info.get("host") and info.get("host") != socket.gethostname():
        parts.append(f"on {info['host']}")
    if info.get("command"):
        parts.append(f"running `{str(info['command'])[:120]}`")
    if info.get("started"):
        parts.append(f"since {info['started']}")
    return " ".join(parts)


class FolderLock:
    """An exclusive, non-blocking lock on ``folder`` for one run (a context manager).

    Args:
        folder: the folder to lock; created if missing (and removed again on release if it was
            created here and is still empty, so a run that stops early leaves nothing behind).
        what: how messages name the folder, e.g. ``[SYSTEM] model_dir``.
        command: the holder's command line, shown to a run that finds the folder locked.

    Raises:
        LockedError: another live process holds the lock.
        OutputError: ``folder`` is a file, or cannot be created.
    """

    def __init__(self, folder: str, what: str = "folder", command: str | None = None) -> None:
        self.folder = os.path.abspath(folder)
        self.what = what
        self.command = command if command is not None else " ".join(os.path.basename(a) if i == 0 else a
                                                                     for i, a in enumerate(sys.argv))
        self.path = os.path.join(self.folder, LOCK_NAME)
        self._fd: int | None = None
        self._created = False

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock (see the class docstring)."""
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise OutputError(f"{self.what} '{self.folder}' exists but is not a folder.")
        try:
            self._created = not os.path.isdir(self.folder)
            os.makedirs(self.folder, exist_ok=True)
        except OSError as err:
            raise OutputError(f"Cannot create {self.what} '{self.folder}': {err.strerror or err}.") from err
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                self._remove_folder_if_created()
                raise OutputError(f"Cannot write the lock file {self.path}: {err.strerror or err}.") from err
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                previous = self._read(fd)
                os.close(fd)
                self._remove_folder_if_created()
                raise LockedError(
                    f"{self.what} '{self.folder}' is in use by another voxflow run ({_holder_text(previous)}): "
                    "wait for it to finish, or use another folder.") from None
            # The holder may have removed the file between our open and our flock: lock the file
            # that is at the path now, not an unlinked one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = self._read(fd)
        if previous.get("pid"):
            log.info("%s: took over the lock of process %s, which no longer runs", self.folder, previous["pid"])
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.remove(self.path)
        os.close(self._fd)
        self._fd = None
        self._remove_folder_if_created()

    def _remove_folder_if_created(self) -> None:
        if self._created:
            with contextlib.suppress(OSError):
                os.rmdir(self.folder)  # only if empty
            self._created = False

    @staticmethod
    def _read(fd: int) -> dict[str, Any]:
        try:
            data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

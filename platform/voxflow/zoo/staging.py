"""Staging folders: entries are assembled next to their place, renamed into it, and what a killed
run left behind is put back or removed by the next run.

``net_download`` assembles an install in ``<models>/.install-<id>.vxtmp-<host>-<pid>-<random>/``,
``net_zoo pack`` an entry in ``<zoo>/.pack-<id>.vxtmp-...``; :func:`swap_into_place` moves the
previous version aside into ``.old-<id>.vxtmp-...`` and renames the new one into place (names from
:func:`voxflow.atomic.temp_prefix`, so they say which process made them).

A run killed with ``kill -9`` cannot clean up after itself. The next run into the same folder calls
:func:`recover_leftovers` while it holds the folder's lock: a previous version that was moved aside
while its place is still empty (the kill fell between the two renames) is put back, then every
leftover of a process of this machine that no longer runs is removed. A live process's staging
folder, or one made on another machine sharing the folder, is never touched.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from voxflow.atomic import clean_leftovers, leftovers, temp_owner, temp_prefix

log = logging.getLogger(__name__)
OLD = "old"


def staging_folder(parent: Path, kind: str) -> Path:
    """A new, empty staging folder in ``parent`` named after ``kind`` and this process."""
    return Path(tempfile.mkdtemp(prefix=temp_prefix(kind), dir=parent))


def move_aside(target: Path) -> Path | None:
    """Move ``target`` into a new ``old-<name>`` staging folder; returns that folder (None if no target)."""
    if not (target.exists() or target.is_symlink()):
        return None
    old = staging_folder(target.parent, f"{OLD}-{target.name}")
    os.replace(target, old / target.name)
    return old


def swap_into_place(work: Path, target: Path) -> None:
    """Rename the folder ``work`` to ``target``; an existing ``target`` is moved aside, then removed.

    A failure of the second rename puts the previous version back. A kill between the two renames
    leaves ``target`` missing and both versions in staging folders: :func:`recover_leftovers`
    puts the previous one back.
    """
    old = move_aside(target)
    try:
        os.replace(work, target)
    except BaseException:
        if old is not None:
            os.replace(old / target.name, target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def moved_aside_name(path: str) -> str | None:
    """The name of the folder a dead ``old-<name>`` staging folder holds, or None."""
    owner = temp_owner(os.path.basename(path))
    if owner is None or not owner[0].startswith(f"{OLD}-"):
        return None
    name = owner[0][len(OLD) + 1:]
    return name if name and not name.startswith(".") and "/" not in name else None


def restorable(folder: Path, path: str) -> str | None:
    """The entry a dead ``old-`` staging folder ``path`` would put back (its place is empty), or None."""
    name = moved_aside_name(path)
    if name is None or not (Path(path) / name).is_dir():
        return None
    target = folder / name
    return None if target.exists() or target.is_symlink() else name


def recover_leftovers(folder: Path, kinds: Iterable[str]) -> list[str]:
    """Put back what a killed run moved aside, then remove dead processes' leftovers of ``kinds``.

    Call it only while holding the folder's :class:`~voxflow.locks.FolderLock`.

    Returns:
        The paths removed.
    """
    for path in leftovers(str(folder), [OLD]):
        name = restorable(folder, path)
        if name is not None:
            os.replace(Path(path) / name, folder / name)
            log.info("put back %s, moved aside by a run that was killed", folder / name)
    return clean_leftovers(str(folder), [*kinds, OLD])

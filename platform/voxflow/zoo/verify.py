"""``net_zoo verify``: every file of every entry against the index, and nothing else in the zoo.

Problems reported (one line each):

- a file of an entry missing, of another size, or with another SHA-256 than the index lists;
- a file inside an entry folder that the index does not list;
- anything else at the zoo's top level (a stray file or folder), with its size;
- the staging folders and temporary files of ``net_zoo pack`` runs that were killed, with their
  size and which command removes (or puts back) them; and those of a run still going.
"""

from __future__ import annotations

import os
from pathlib import Path

from voxflow.atomic import leftovers, temp_owner, temp_prefix
from voxflow.locks import LOCK_NAME
from voxflow.zoo.index import INDEX_NAME, Entry, ZooError, file_sha256, human_size, read_index_file
from voxflow.zoo.staging import restorable

_THIS_HOST = (temp_owner(temp_prefix("x")) or ("", "", 0))[1]
_REMOVED_BY = "the next `net_zoo pack` into this zoo removes it"


def verify_zoo(folder: str | os.PathLike[str]) -> list[str]:
    """Check ``<folder>/index.yaml`` against the files on disk (see the module docstring).

    Returns:
        One line per problem; empty when the zoo is consistent.

    Raises:
        ZooError: the folder is a file, has no index, or the index is malformed.
    """
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise ZooError(f"Model-zoo folder {folder} is a file: expected a folder holding {INDEX_NAME}.")
    if not (root / INDEX_NAME).is_file():
        raise ZooError(f"No {INDEX_NAME} in {folder}: not a model zoo (make one with `net_zoo pack`).")
    index = read_index_file(root)
    problems = []
    for entry_id, entry in sorted(index.entries.items()):
        problems += _entry_problems(root, entry_id, entry)
    return problems + _top_level_problems(root, set(index.entries))


def _entry_problems(root: Path, entry_id: str, entry: Entry) -> list[str]:
    problems = []
    for name, record in sorted(entry.files.items()):
        path = root / entry_id / name
        if not path.is_file():
            problems.append(f"{entry_id}/{name}: missing")
        elif path.stat().st_size != record.size:
            problems.append(f"{entry_id}/{name}: size {path.stat().st_size} bytes, index says {record.size}")
        elif file_sha256(path) != record.sha256:
            problems.append(f"{entry_id}/{name}: SHA-256 does not match the index")
    if (root / entry_id).is_dir():
        for path in sorted((root / entry_id).rglob("*")):
            name = path.relative_to(root / entry_id).as_posix()
            if path.is_file() and name not in entry.files and "__pycache__" not in name:
                problems.append(f"{entry_id}/{name}: not listed in the index")
    return problems


def disk_size(path: Path) -> int:
    """Bytes of a file, or of every file below a folder (links not followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for top, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                continue
    return total


def _top_level_problems(root: Path, entries: set[str]) -> list[str]:
    dead = set(leftovers(str(root)))
    problems = []
    for name in sorted(os.listdir(root)):
        if name in (INDEX_NAME, LOCK_NAME) or name in entries:
            continue
        path = root / name
        shown = f"{name}/" if path.is_dir() and not path.is_symlink() else name
        size = human_size(disk_size(path))
        owner = temp_owner(name)
        if owner is None:
            problems.append(f"{shown}: not listed in {INDEX_NAME} ({size}): not part of the zoo; remove it by "
                            "hand, or make it an entry with `net_zoo pack`")
        elif str(path) in dead:
            problems.append(f"{shown}: {_leftover_text(root, str(path), owner)} ({size})")
        elif owner[1] != _THIS_HOST:
            problems.append(f"{shown}: temporary {owner[0]} of process {owner[2]} on another machine sharing "
                            f"this folder ({size}): leave it while that run goes on, else remove it by hand")
        else:
            problems.append(f"{shown}: temporary {owner[0]} of running process {owner[2]} ({size}): a run "
                            "still writing into this zoo; it goes when that run ends")
    return problems


def _leftover_text(root: Path, path: str, owner: tuple[str, str, int]) -> str:
    kind, _, pid = owner
    if kind.startswith("old-"):
        name = restorable(root, path)
        if name is not None:
            return (f"the previous version of entry '{name}', moved aside by a killed `net_zoo pack` "
                    f"(process {pid}): the next `net_zoo pack` into this zoo puts it back")
        return f"an older version of an entry, left by a killed `net_zoo pack` (process {pid}): {_REMOVED_BY}"
    if kind.startswith("pack-"):
        return f"entry '{kind[5:]}' half-assembled by a killed `net_zoo pack` (process {pid}): {_REMOVED_BY}"
    if kind == "tmp":
        return f"a new {INDEX_NAME} not yet renamed into place by a killed `net_zoo pack` (process {pid}): " \
               + _REMOVED_BY
    return f"a temporary {kind} of a killed voxflow run (process {pid}): {_REMOVED_BY}"

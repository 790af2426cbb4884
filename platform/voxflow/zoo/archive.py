"""Weights archives: written reproducibly, unpacked only when every member is safe.

An archive written twice from the same files has the same bytes (sorted members, zero times and
owners, gzip without a timestamp), so re-packing an unchanged checkpoint keeps its SHA-256.

Unpacking checks every member *before* extracting anything: regular files and folders only (no
symbolic or hard links, devices or FIFOs), relative names without ``..``, and the resolved path
inside the target folder. Extraction then runs with :mod:`tarfile`'s ``data`` filter as a second
line of defence.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

from voxflow.zoo.index import ZooError, check_relative_name


def write_archive(path: str | os.PathLike[str], files: Iterable[tuple[str, str | os.PathLike[str]]]) -> None:
    """Write a reproducible ``.tar.gz`` of ``files``.

    Args:
        path: the archive to write (the caller writes it to a temporary name and renames it).
        files: ``(name in the archive, source file)`` pairs; names are relative POSIX paths.
    """
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                 compresslevel=9) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, source in sorted(files, key=lambda pair: pair[0]):
                check_relative_name(name, "the archive being written")
                info = tarfile.TarInfo(name)
                info.size = os.path.getsize(source)
                info.mode = 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(source, "rb") as handle:
                    tar.addfile(info, handle)


def check_members(tar: tarfile.TarFile, target: str, archive_name: str) -> list[tarfile.TarInfo]:
    """Return the members of ``tar`` if every one of them is safe to extract into ``target``.

    Raises:
        ZooError: the first unsafe member: a link, device or other special file, an absolute
            name, a name with ``..``, or one that resolves outside ``target``.
    """
    root = Path(target).resolve()
    members = tar.getmembers()
    for member in members:
        name = member.name
        if member.issym() or member.islnk():
            raise ZooError(f"Refusing to unpack {archive_name}: member '{name}' is a link "
                           f"(to '{member.linkname}'); weights archives hold regular files only.")
        if not (member.isfile() or member.isdir()):
            raise ZooError(f"Refusing to unpack {archive_name}: member '{name}' is a device, FIFO or "
                           "other special file; weights archives hold regular files only.")
        if name.startswith("/") or "\\" in name or any(part == ".." for part in name.split("/")):
            raise ZooError(f"Refusing to unpack {archive_name}: member '{name}' has an absolute path or "
                           "'..'; it could write outside the install folder.")
        check_relative_name(name.rstrip("/") or ".", archive_name)
        resolved = (root / name).resolve()
        if resolved != root and root not in resolved.parents:
            raise ZooError(f"Refusing to unpack {archive_name}: member '{name}' resolves outside the "
                           "install folder.")
    return members


def extract_archive(path: str | os.PathLike[str], target: str | os.PathLike[str]) -> list[str]:
    """Unpack the ``.tar.gz`` at ``path`` into ``target`` after checking every member.

    Args:
        path: the archive (already verified against its SHA-256).
        target: the folder to unpack into (created).

    Returns:
        The relative POSIX names of the regular files written.

    Raises:
        ZooError: the archive is unreadable or has an unsafe member (nothing is extracted then).
    """
    archive_name = os.path.basename(os.fspath(path))
    os.makedirs(target, exist_ok=True)
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            members = check_members(tar, os.fspath(target), archive_name)
            tar.extractall(os.fspath(target), members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ZooError(f"Cannot unpack {archive_name}: {err}") from err
    return sorted(m.name for m in members if m.isfile())

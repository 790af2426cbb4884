"""Weights archives: written reproducibly, unpacked only when every member is safe and small enough.

An archive written twice from the same files has the same bytes (sorted members, zero times and
owners, gzip without a timestamp), so re-packing an unchanged checkpoint keeps its SHA-256.

Unpacking checks every member *before* extracting anything:

- regular files and folders only (no symbolic or hard links, devices or FIFOs), relative names
  without ``..``, the resolved path inside the target folder;
- no code: a weights archive holds weights and preprocessing state, never a file Python could
  import (:data:`~voxflow.zoo.index.CODE_SUFFIXES`, ``__init__.py``). An entry's code travels as
  files of the entry, where the index declares it and ``net_download --info`` shows it;
- bounded size (:class:`UnpackLimits`): the unpacked bytes of all members together and of each
  one, and the ratio of unpacked to archive bytes, read from the tar headers (a 1 MB archive of
  zeros must not fill a disk). The decompressed stream itself is bounded too, so no header can
  make the check read gigabytes.

Extraction then runs with :mod:`tarfile`'s ``data`` filter as a second line of defence.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

from voxflow.zoo.index import ZooError, check_relative_name, human_size, is_code
from voxflow.zoo.limits import (
    DEFAULT_LIMITS,
    MAX_MEMBER_ENV,
    MAX_RATIO_ENV,
    MAX_UNPACKED_ENV,
    UnpackLimits,
    mib_text,
)

__all__ = ["DEFAULT_LIMITS", "MAX_MEMBER_ENV", "MAX_RATIO_ENV", "MAX_UNPACKED_ENV", "UnpackLimits",
           "check_members", "extract_archive", "is_code", "write_archive"]

MAX_MEMBERS = 100_000
"""Members of one archive at most (a checkpoint has a handful; each costs memory while checked)."""
_MAX_READ = 16 << 20  # tarfile reads long names and PAX headers whole: no single read above this


def write_archive(path: str | os.PathLike[str], files: Iterable[tuple[str, str | os.PathLike[str]]]) -> None:
    """Write a reproducible ``.tar.gz`` of ``files``.

    Args:
        path: the archive to write (the caller writes it to a temporary name and renames it).
        files: ``(name in the archive, source file)`` pairs; names are relative POSIX paths.

    Raises:
        ZooError: a name is unsafe or is code (an installer would refuse the archive).
    """
    files = sorted(files, key=lambda pair: pair[0])
    for name, _ in files:
        check_relative_name(name, "the archive being written")
        if is_code(name) or name.lower().endswith("__init__.py"):
            raise ZooError(f"Cannot put '{name}' into a weights archive: '{name}' is code, and installers "
                           "refuse archives holding code; ship code as a file of the entry.")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                                 compresslevel=9) as zipped:
        with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, source in files:
                info = tarfile.TarInfo(name)
                info.size = os.path.getsize(source)
                info.mode = 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(source, "rb") as handle:
                    tar.addfile(info, handle)


class _BoundedStream:
    """The decompressed stream, refusing to go past ``cap`` bytes or to read more than 16 MiB at once."""

    def __init__(self, inner: gzip.GzipFile, cap: int, archive_name: str) -> None:
        self.inner, self.cap, self.archive_name = inner, cap, archive_name

    def _refuse(self, what: str) -> ZooError:
        return ZooError(f"Refusing to unpack {self.archive_name}: {what}; it is not a voxflow weights archive.")

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > _MAX_READ:
            raise self._refuse(f"a tar header asks to read {human_size(size or 0)} at once")
        if self.inner.tell() + size > self.cap:
            raise self._refuse(f"it decompresses to more than {human_size(self.cap)}")
        return self.inner.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = offset if whence == os.SEEK_SET else self.inner.tell() + offset
        if whence not in (os.SEEK_SET, os.SEEK_CUR) or target > self.cap:
            raise self._refuse(f"it decompresses to more than {human_size(self.cap)}")
        return self.inner.seek(target)

    def tell(self) -> int:
        return self.inner.tell()


def _check_member(member: tarfile.TarInfo, root: Path, archive_name: str) -> None:
    """Raise a ZooError if ``member`` is not safe to extract into ``root`` (see the module docstring)."""
    name = member.name
    refuse = f"Refusing to unpack {archive_name}: member '{name}'"
    if member.issym() or member.islnk():
        raise ZooError(f"{refuse} is a link (to '{member.linkname}'); weights archives hold regular files only.")
    if not (member.isfile() or member.isdir()):
        raise ZooError(f"{refuse} is a device, FIFO or other special file; weights archives hold regular "
                       "files only.")
    if name.startswith("/") or "\\" in name or any(part == ".." for part in name.split("/")):
        raise ZooError(f"{refuse} has an absolute path or '..'; it could write outside the install folder.")
    check_relative_name(name.rstrip("/") or ".", archive_name)
    resolved = (root / name).resolve()
    if resolved != root and root not in resolved.parents:
        raise ZooError(f"{refuse} resolves outside the install folder.")
    if is_code(name.rstrip("/")) or name.rstrip("/").lower().endswith("__init__.py"):
        raise ZooError(f"{refuse} is code; a weights archive holds weights and preprocessing state only (an "
                       "entry's code is a file of the entry, declared in the index).")


def _check_size(member: tarfile.TarInfo, total: int, limits: UnpackLimits, archive_bytes: int | None,
                archive_name: str) -> None:
    """Raise a ZooError if ``member``, or the ``total`` unpacked so far with it, is over ``limits``."""
    refuse = f"Refusing to unpack {archive_name}"
    if member.size > limits.member_bytes:
        raise ZooError(f"{refuse}: member '{member.name}' has {human_size(member.size)}, more than the "
                       f"{mib_text(limits.member_bytes)} allowed for one file ({limits.member_hint}).")
    if total > limits.total_bytes:
        raise ZooError(f"{refuse}: it unpacks to more than {mib_text(limits.total_bytes)} "
                       f"({limits.total_hint}).")
    if archive_bytes and limits.ratio_applies(total) and total > limits.ratio * archive_bytes:
        raise ZooError(f"{refuse}: its {human_size(archive_bytes)} unpack to more than {limits.ratio:g} times "
                       f"as much ({human_size(total)} by member '{member.name}'; {limits.ratio_hint}).")


def check_members(tar: tarfile.TarFile, target: str, archive_name: str, limits: UnpackLimits | None = None,
                  archive_bytes: int | None = None) -> list[tarfile.TarInfo]:
    """Return the members of ``tar`` if every one of them is safe to extract into ``target``.

    Members are read one header at a time, and the first member over a bound stops the reading:
    the data of a member that is too large is never decompressed.

    Args:
        tar: the open archive.
        target: the folder it would be extracted into.
        archive_name: how messages name the archive.
        limits: the size bounds; ``None`` = :meth:`UnpackLimits.resolve` (environment or defaults).
        archive_bytes: the archive's size on disk, for the ratio bound (``None``: no ratio bound).

    Raises:
        ZooError: the first unsafe member: a link, device or other special file, an absolute
            name, a name with ``..``, one that resolves outside ``target``, code, or one over a bound.
    """
    limits = limits if limits is not None else UnpackLimits.resolve()
    root = Path(target).resolve()
    members: list[tarfile.TarInfo] = []
    total = 0
    while (member := tar.next()) is not None:
        _check_member(member, root, archive_name)
        total += member.size if member.isfile() else 0
        _check_size(member, total, limits, archive_bytes, archive_name)
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise ZooError(f"Refusing to unpack {archive_name}: more than {MAX_MEMBERS} members.")
    return members


def extract_archive(path: str | os.PathLike[str], target: str | os.PathLike[str],
                    limits: UnpackLimits | None = None) -> list[str]:
    """Unpack the ``.tar.gz`` at ``path`` into ``target`` after checking every member.

    Args:
        path: the archive (already verified against its SHA-256).
        target: the folder to unpack into (created only when every member passed).
        limits: the size bounds; ``None`` = :meth:`UnpackLimits.resolve` (environment or defaults).

    Returns:
        The relative POSIX names of the regular files written.

    Raises:
        ZooError: the archive is unreadable, has an unsafe member or is over a bound (nothing is
            extracted then).
    """
    limits = limits if limits is not None else UnpackLimits.resolve()
    archive_name = os.path.basename(os.fspath(path))
    archive_bytes = os.path.getsize(path)
    cap = limits.total_bytes + (64 << 20)  # room for the headers of the members
    try:
        with gzip.open(path, "rb") as zipped, tarfile.open(
                fileobj=_BoundedStream(zipped, cap, archive_name), mode="r:") as tar:  # type: ignore[call-overload]
            members = check_members(tar, os.fspath(target), archive_name, limits, archive_bytes)
            os.makedirs(target, exist_ok=True)
            tar.extractall(os.fspath(target), members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as err:
        raise ZooError(f"Cannot unpack {archive_name}: {err}") from err
    return sorted(m.name for m in members if m.isfile())

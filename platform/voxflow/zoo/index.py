"""The model-zoo index: ``index.yaml`` lists every entry with the size and SHA-256 of each file.

Layout of a zoo (a folder, or the same tree served over ``https://``, ``http://`` or ``file://``)::

    index.yaml
    <entry_id>/README.md        task, data and licence, input assumptions, metrics, how to run
    <entry_id>/config.ini       ready for ``net_segment inference`` (paths relative to the entry)
    <entry_id>/weights.tar.gz   checkpoint folder(s) + preprocessing state, unpacked into model/
    <entry_id>/<plugin>.py      optional network (or loss) source the config names

``index.yaml``::

    format_version: 1
    entries:
      brain_tissue_unet:
        version: 1
        description: Brain tissue (CSF, GM, WM) from a skull-stripped T1, 3-D U-Net
        network: unet
        weights: weights.tar.gz
        files:
          README.md: {size: 4211, sha256: 9f2c...}
          config.ini: {size: 2034, sha256: 51aa...}
          weights.tar.gz: {size: 3853012, sha256: 0c41...}

Every file of an entry is listed, so nothing is used unverified. This module never imports
TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from voxflow.atomic import atomic_write_text
from voxflow.errors import VoxflowError

FORMAT_VERSION = 1
INDEX_NAME = "index.yaml"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class ZooError(VoxflowError):
    """A zoo index, entry, download or archive is missing, malformed, unsafe or fails its checksum."""


@dataclass(frozen=True)
class FileRecord:
    """One file of an entry: its path inside the entry folder, size in bytes and SHA-256."""

    name: str
    size: int
    sha256: str


@dataclass
class Entry:
    """One zoo entry as the index describes it.

    Attributes:
        entry_id: the folder name and the ID users download.
        version: increases by one every time the entry is packed again.
        files: every file of the entry, by relative POSIX path.
        weights: the name of the weights archive among ``files``.
        description: one line shown by ``net_download --list``.
        network: the ``[NETWORK] name`` of the config (information only).
    """

    entry_id: str
    version: int
    files: dict[str, FileRecord]
    weights: str = "weights.tar.gz"
    description: str = ""
    network: str = ""

    def total_size(self) -> int:
        """Bytes of all files together."""
        return sum(record.size for record in self.files.values())

    def to_yaml(self) -> dict[str, Any]:
        """The mapping written under ``entries: <entry_id>:``."""
        return {
            "version": self.version,
            "description": self.description,
            "network": self.network,
            "weights": self.weights,
            "files": {name: {"size": r.size, "sha256": r.sha256} for name, r in sorted(self.files.items())},
        }


@dataclass
class Index:
    """The parsed ``index.yaml``: entries by ID."""

    entries: dict[str, Entry] = field(default_factory=dict)

    def get(self, entry_id: str, where: str) -> Entry:
        """Return the entry ``entry_id``.

        Raises:
            ZooError: no such entry (the message lists what the index has).
        """
        if entry_id not in self.entries:
            have = ", ".join(sorted(self.entries)) or "none"
            raise ZooError(f"No entry '{entry_id}' in the model-zoo index at {where}. Available: {have}.")
        return self.entries[entry_id]

    def to_text(self) -> str:
        """The YAML text of the index, entries sorted by ID."""
        body = {"format_version": FORMAT_VERSION,
                "entries": {eid: self.entries[eid].to_yaml() for eid in sorted(self.entries)}}
        header = ("# voxflow model-zoo index: written by `net_zoo pack`, checked by `net_zoo verify`\n"
                  "# and by `net_download` (every file's size and SHA-256). Do not edit by hand.\n")
        return header + yaml.safe_dump(body, sort_keys=False, default_flow_style=False, width=100)


def check_entry_id(entry_id: str) -> str:
    """Return ``entry_id`` if it is a valid entry ID (a plain folder name).

    Raises:
        ZooError: it contains a slash, starts with a dot or has other characters.
    """
    if not isinstance(entry_id, str) or not _ID_RE.match(entry_id) or entry_id in (".", ".."):
        raise ZooError(f"Invalid model-zoo entry ID {entry_id!r}. Expected letters, digits, '_', '-' "
                       "or '.', starting with a letter or digit (it names a folder).")
    return entry_id


def check_relative_name(name: str, what: str) -> str:
    """Return ``name`` if it is a safe relative POSIX path (no absolute path, no ``..``).

    Raises:
        ZooError: the name could leave the folder it is meant to stay in.
    """
    path = PurePosixPath(name)
    if (not name or "\\" in name or path.is_absolute() or any(p in ("..", "") for p in name.split("/"))
            or re.match(r"^[A-Za-z]:", name)):
        raise ZooError(f"Unsafe file name {name!r} in {what}: expected a relative path without '..'.")
    return name


def parse_index(text: str, where: str) -> Index:
    """Parse and validate the text of an ``index.yaml``.

    Args:
        text: the YAML text.
        where: how error messages name the index (its URL or path).

    Raises:
        ZooError: malformed YAML or a missing or invalid field (one line naming it).
    """
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ZooError(f"Malformed model-zoo index {where}: {str(err).splitlines()[0]}") from err
    if not isinstance(data, dict) or not isinstance(data.get("entries", {}), dict):
        raise ZooError(f"Malformed model-zoo index {where}: expected a mapping with `entries`.")
    if int(data.get("format_version", FORMAT_VERSION)) > FORMAT_VERSION:
        raise ZooError(f"Model-zoo index {where} has format_version {data['format_version']}; this "
                       f"voxflow reads up to {FORMAT_VERSION}: upgrade voxflow.")
    index = Index()
    for entry_id, raw in (data.get("entries") or {}).items():
        index.entries[str(entry_id)] = _parse_entry(str(entry_id), raw, where)
    return index


def _parse_entry(entry_id: str, raw: Any, where: str) -> Entry:
    check_entry_id(entry_id)
    what = f"entry '{entry_id}' of {where}"
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict) or not raw["files"]:
        raise ZooError(f"Malformed {what}: expected `version` and a non-empty `files` mapping.")
    files = {}
    for name, record in raw["files"].items():
        check_relative_name(str(name), what)
        try:
            size, sha = int(record["size"]), str(record["sha256"]).lower()
        except (TypeError, KeyError, ValueError) as err:
            raise ZooError(f"Malformed file record '{name}' in {what}: expected `size` and `sha256`.") from err
        if size < 0 or not _SHA_RE.match(sha):
            raise ZooError(f"Malformed file record '{name}' in {what}: size {size}, sha256 {sha!r}.")
        files[str(name)] = FileRecord(str(name), size, sha)
    weights = str(raw.get("weights", "weights.tar.gz"))
    if weights not in files:
        raise ZooError(f"Malformed {what}: its weights archive '{weights}' is not among its files.")
    try:
        version = int(raw.get("version", 1))
    except (TypeError, ValueError) as err:
        raise ZooError(f"Malformed {what}: `version` must be an integer.") from err
    return Entry(entry_id, version, files, weights, str(raw.get("description") or ""),
                 str(raw.get("network") or ""))


def read_index_file(folder: str | os.PathLike[str]) -> Index:
    """Read ``<folder>/index.yaml``; a folder without one is an empty zoo."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        return Index()
    return parse_index(path.read_text(encoding="utf-8"), str(path))


def write_index_file(folder: str | os.PathLike[str], index: Index) -> str:
    """Write ``<folder>/index.yaml`` atomically; returns its path."""
    path = os.path.join(os.fspath(folder), INDEX_NAME)
    atomic_write_text(path, index.to_text())
    os.chmod(path, 0o644)  # a zoo is meant to be shared or served as it is
    return path


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def record_file(folder: str | os.PathLike[str], name: str) -> FileRecord:
    """A :class:`FileRecord` of ``<folder>/<name>`` as it is on disk."""
    path = Path(folder) / name
    return FileRecord(name, path.stat().st_size, file_sha256(path))


def verify_zoo(folder: str | os.PathLike[str]) -> list[str]:
    """Check every entry of ``<folder>/index.yaml`` against the files on disk.

    Returns:
        One line per problem (missing file, size or SHA-256 mismatch, file not in the index);
        empty when the zoo is consistent.

    Raises:
        ZooError: the folder has no index, or the index is malformed.
    """
    root = Path(folder)
    if not (root / INDEX_NAME).is_file():
        raise ZooError(f"No {INDEX_NAME} in {folder}: not a model zoo (make one with `net_zoo pack`).")
    index = read_index_file(root)
    problems = []
    for entry_id, entry in sorted(index.entries.items()):
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

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
        code: [my_net.py]
        files:
          README.md: {size: 4211, sha256: 9f2c...}
          config.ini: {size: 2034, sha256: 51aa...}
          my_net.py: {size: 1520, sha256: 77d0...}
          weights.tar.gz: {size: 3853012, sha256: 0c41...}

Every file of an entry is listed, so nothing is used unverified, and every file that is code
(:func:`is_code`) is also listed under ``code``, so ``net_download --info`` can show it apart:
an index whose files hold undeclared code is refused. This module never imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from voxflow.atomic import atomic_write_text
from voxflow.errors import VoxflowError
from voxflow.strict_yaml import load_yaml, yaml_error_text

FORMAT_VERSION = 1
INDEX_NAME = "index.yaml"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_ENTRY_KEYS = ("version", "description", "network", "weights", "code", "files")
CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyw", ".so", ".pyd", ".pth")
"""Suffixes of files Python may import or execute (compared without regard to case: macOS and
Windows file systems find ``NET.PY`` for ``import NET``)."""


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
        code: the files among ``files`` that are code (see :func:`is_code`); ``net_download``
            shows them, and ``net_segment`` imports them only with ``--trust-downloaded-code``.
    """

    entry_id: str
    version: int
    files: dict[str, FileRecord]
    weights: str = "weights.tar.gz"
    description: str = ""
    network: str = ""
    code: list[str] = field(default_factory=list)

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
            "code": sorted(self.code),
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


def is_code(name: str, names: Iterable[str] = ()) -> bool:
    """Whether the file ``name`` of an entry is code Python could import or execute.

    Args:
        name: a relative POSIX path inside the entry (or inside a weights archive).
        names: all files of the entry; a file inside a folder that holds an ``__init__.py``
            (a package) is code whatever its suffix (packages read their own data files).
    """
    lower = name.lower()
    if lower.endswith(CODE_SUFFIXES):
        return True
    folders = {n.lower().rsplit("/", 1)[0] for n in names if n.lower().endswith("/__init__.py")}
    parts = lower.split("/")[:-1]
    return any("/".join(parts[:i]) in folders for i in range(1, len(parts) + 1))


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


def _kind(value: Any) -> str:
    """How a message names what a YAML value turned out to be."""
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    """A YAML value for a message: a scalar as written (text cut to 80 characters), else its kind."""
    if isinstance(value, str):
        return repr(value[:80])
    return repr(value) if isinstance(value, int | float) else _kind(value)


def _whole(value: Any, minimum: int, what: str) -> int:
    """``value`` if it is a whole number >= ``minimum`` (YAML ``true`` and ``'3'`` are not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ZooError(f"{what} must be a whole number >= {minimum}, found {_shown(value)}.")
    return value


def _text(raw: dict, key: str, what: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ZooError(f"Malformed {what}: `{key}` must be text, found {_kind(value)}.")
    return str(value)


def _unknown_keys(raw: dict, known: tuple[str, ...], what: str) -> None:
    extra = sorted(str(key) for key in raw if key not in known)
    if extra:
        raise ZooError(f"Malformed {what}: unknown key `{extra[0]}` (expected {', '.join(known)}).")


def parse_index(text: str, where: str) -> Index:
    """Parse and validate the text of an ``index.yaml``.

    YAML aliases and keys given twice are refused (:func:`voxflow.strict_yaml.load_yaml`): a
    kilobyte of nested aliases would otherwise expand to gigabytes.

    Args:
        text: the YAML text.
        where: how error messages name the index (its URL or path).

    Raises:
        ZooError: malformed YAML or a missing or invalid field (one line naming it).
    """
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        line, problem = yaml_error_text(err)
        at = f", line {line}" if line is not None else ""
        raise ZooError(f"Malformed model-zoo index {where}{at}: {problem}.") from err
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ZooError(f"Malformed model-zoo index {where}: expected a mapping with `format_version` and "
                       f"`entries`, found {_kind(data)}.")
    _unknown_keys(data, ("format_version", "entries"), f"model-zoo index {where}")
    version = _whole(data.get("format_version", FORMAT_VERSION), 1,
                     f"Malformed model-zoo index {where}: `format_version`")
    if version > FORMAT_VERSION:
        raise ZooError(f"Model-zoo index {where} has format_version {version}; this "
                       f"voxflow reads up to {FORMAT_VERSION}: upgrade voxflow.")
    entries = data.get("entries") or {}
    if not isinstance(entries, dict):
        raise ZooError(f"Malformed model-zoo index {where}: `entries` must be a mapping of entry IDs, "
                       f"found {_kind(entries)}.")
    index = Index()
    for entry_id, raw in entries.items():
        index.entries[str(entry_id)] = _parse_entry(str(entry_id), raw, where)
    return index


def _parse_record(name: Any, record: Any, what: str) -> FileRecord:
    check_relative_name(str(name), what)
    where = f"file record '{name}' in {what}"
    if not isinstance(record, dict):
        raise ZooError(f"Malformed {where}: expected a mapping with `size` and `sha256`, found {_kind(record)}.")
    _unknown_keys(record, ("size", "sha256"), where)
    size = _whole(record.get("size"), 0, f"Malformed {where}: `size`")
    sha = record.get("sha256")
    if not isinstance(sha, str) or not _SHA_RE.match(sha.lower()):
        raise ZooError(f"Malformed {where}: `sha256` must be 64 hexadecimal digits, found {_shown(sha)}.")
    return FileRecord(str(name), size, sha.lower())


def _parse_code(raw: dict, files: dict[str, FileRecord], what: str) -> list[str]:
    """The entry's ``code`` list, checked against its files (see :func:`is_code`)."""
    code = raw.get("code") or []
    if not isinstance(code, list) or not all(isinstance(name, str) for name in code):
        raise ZooError(f"Malformed {what}: `code` must be a list of file names, found {_kind(code)}.")
    for name in code:
        if name not in files:
            raise ZooError(f"Malformed {what}: `code` names '{name}', which is not among its files.")
    for name in sorted(files):
        if is_code(name, files) and name not in code:
            raise ZooError(f"Malformed {what}: file '{name}' is code (Python source, a compiled module, a .pth "
                           "file or part of a package) but is not listed under `code`; every code file of an "
                           "entry must be declared there.")
    return sorted(code)


def _parse_entry(entry_id: str, raw: Any, where: str) -> Entry:
    check_entry_id(entry_id)
    what = f"entry '{entry_id}' of {where}"
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict) or not raw["files"]:
        raise ZooError(f"Malformed {what}: expected `version` and a non-empty `files` mapping.")
    _unknown_keys(raw, _ENTRY_KEYS, what)
    files = {str(name): _parse_record(name, record, what) for name, record in raw["files"].items()}
    weights = raw.get("weights", "weights.tar.gz")
    if not isinstance(weights, str):
        raise ZooError(f"Malformed {what}: `weights` must be a file name, found {_kind(weights)}.")
    if weights not in files:
        raise ZooError(f"Malformed {what}: its weights archive '{weights}' is not among its files.")
    version = _whole(raw.get("version", 1), 1, f"Malformed {what}: `version`")
    return Entry(entry_id, version, files, weights, _text(raw, "description", what), _text(raw, "network", what),
                 _parse_code(raw, files, what))


def read_index_file(folder: str | os.PathLike[str]) -> Index:
    """Read ``<folder>/index.yaml``; a folder without one is an empty zoo."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        return Index()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ZooError(f"Malformed model-zoo index {path}: not UTF-8 text.") from err
    return parse_index(text, str(path))


def write_index_file(folder: str | os.PathLike[str], index: Index) -> str:
    """Write ``<folder>/index.yaml`` atomically; returns its path."""
    path = os.path.join(os.fspath(folder), INDEX_NAME)
    atomic_write_text(path, index.to_text())
    os.chmod(path, 0o644)  # a zoo is meant to be shared or served as it is
    return path


def human_size(num: float) -> str:
    """``num`` bytes as ``512 B``, ``3.7 MiB`` ..."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if num < 1024 or unit == "GiB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return f"{num} B"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def record_file(folder: str | os.PathLike[str], name: str) -> FileRecord:
    """A :class:`FileRecord` of ``<folder>/<name>`` as it is on disk."""
    path = Path(folder) / name
    return FileRecord(name, path.stat().st_size, file_sha256(path))

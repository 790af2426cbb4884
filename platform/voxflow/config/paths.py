"""Path value types and path defaults.

One rule for every path: a relative path written in the config file is resolved against the
config file's folder; one given on the command line against the current working directory.
``~`` is expanded and the stored value is always absolute.  A NUL byte is refused (as in every
string value, by :func:`~voxflow.config.values.to_str`): the operating system cannot open such a
path, and the error would otherwise surface mid-run, far from the key that holds it.

Example:
    >>> PathType().parse("~/data/../model", base_dir="/cfg")  # doctest: +SKIP
    '/home/me/model'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from voxflow.config.values import InvalidValue, ValueType, split_list, to_str


def resolve_path(text: str, base_dir: str) -> str:
    """Expand ``~`` and make ``text`` absolute against ``base_dir`` (normalised, links kept)."""
    expanded = os.path.expanduser(text.strip())
    return os.path.normpath(os.path.join(base_dir, expanded))


class PathType(ValueType):
    """One file or folder path, stored absolute."""

    doc_name = "path"
    is_path = True

    def expected(self) -> str:
        return "a file or folder path"

    def parse(self, value: Any, base_dir: str) -> str:
        return resolve_path(to_str(value), base_dir)


class PathListType(ValueType):
    """A comma list of folders, stored as a tuple of absolute paths."""

    doc_name = "path list"
    is_path = True

    def expected(self) -> str:
        return "a comma-separated list of folders"

    def parse(self, value: Any, base_dir: str) -> tuple[str, ...]:
        items = split_list(value)
        if not items:
            raise InvalidValue()
        return tuple(resolve_path(to_str(item), base_dir) for item in items)

    def format(self, value: Any) -> str:
        return "" if value is None else ", ".join(value)


@dataclass(frozen=True)
class PathDefault:
    """A default path relative to the config folder or to ``model_dir``.

    Attributes:
        base: ``"config_dir"`` (the config file's folder) or ``"model_dir"``.
        name: the file or folder name joined to the base.
    """

    base: str
    name: str

    def resolve(self, config_dir: str, model_dir: str) -> str:
        """Return the absolute default path."""
        root = config_dir if self.base == "config_dir" else model_dir
        return os.path.join(root, self.name)

    def __str__(self) -> str:
        root = "<config folder>" if self.base == "config_dir" else "<model_dir>"
        return f"{root}/{self.name}"

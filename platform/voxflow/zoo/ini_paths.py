"""Rewrite the path values of an INI configuration's text, keeping its comments and layout.

``net_zoo pack`` makes the paths of a trained run relative to the entry; ``net_download`` makes
an installed entry's paths absolute (pointing into the install folder). Which keys hold paths is
read from the config schema (keys whose type is a path or a path list), so a key added later is
covered without changes here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from voxflow.config import schema

_SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
_KEY_RE = re.compile(r"^(\s*)([A-Za-z_][\w.-]*)(\s*[=:]\s*)(.*?)\s*$")

PathMapper = Callable[[str, str, str], str | None]
"""``mapper(section, key, value) -> new value`` (``None`` keeps the line as it is)."""


def path_keys(section: str) -> set[str]:
    """Names of the keys of ``section`` that hold a path or a list of paths."""
    try:
        table = schema.section_keys(section)
    except KeyError:
        table = schema.INPUT_KEYS  # any other section is an input source
    return {name for name, key in table.items() if getattr(key.type, "is_path", False)}


def rewrite_paths(text: str, mapper: PathMapper) -> str:
    """Return ``text`` with each path value replaced by what ``mapper`` returns for it.

    Args:
        text: INI text.
        mapper: called for every path-valued key with a non-empty value (a comma list is passed
            whole); returns the new value or ``None`` to keep it.
    """
    section = ""
    keys: set[str] = set()
    out = []
    for line in text.splitlines(keepends=True):
        ending = "\n" if line.endswith("\n") else ""
        match = _SECTION_RE.match(line)
        if match:
            section = match.group(1).strip()
            keys = path_keys(section)
        else:
            match = _KEY_RE.match(line.rstrip("\n"))
            if match and section and match.group(2).lower() in keys and match.group(4):
                new = mapper(section, match.group(2).lower(), match.group(4))
                if new is not None:
                    line = f"{match.group(1)}{match.group(2)}{match.group(3)}{new}".rstrip() + ending
        out.append(line)
    return "".join(out)


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def absolute_to_relative(base: str) -> PathMapper:
    """A mapper writing absolute paths relative to ``base`` (POSIX separators)."""
    def mapper(_section: str, _key: str, value: str) -> str:
        items = [os.path.relpath(item, base).replace(os.sep, "/") if os.path.isabs(item) else item
                 for item in _split(value)]
        return ", ".join(items)
    return mapper


def relative_to_absolute(base: str) -> PathMapper:
    """A mapper making relative paths absolute against ``base`` (``~`` is left to the loader)."""
    def mapper(_section: str, _key: str, value: str) -> str:
        items = [item if os.path.isabs(item) or item.startswith("~")
                 else os.path.normpath(os.path.join(base, item)) for item in _split(value)]
        return ", ".join(items)
    return mapper

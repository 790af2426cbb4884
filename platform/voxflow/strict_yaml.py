"""YAML for files users and downloads give voxflow: plain data, no aliases, no duplicate keys.

``yaml.safe_load`` already refuses ``!!python`` tags, but it still expands aliases: a file of a
kilobyte whose anchors nest ten deep (the "billion laughs") expands to gigabytes in memory. It
also lets a key given twice silently keep the last value, where INI files are rejected. Every
voxflow YAML reader (configs, zoo indexes) goes through :func:`load_yaml`, which refuses both.

Example:
    >>> load_yaml("a: 1\\nb: [1, 2]\\n")
    {'a': 1, 'b': [1, 2]}
    >>> load_yaml("a: &x 1\\nb: *x\\n")   # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    yaml.composer.ComposerError: aliases (*name) are not allowed ...
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases and duplicate mapping keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ComposerError(None, None, f"aliases (*{event.anchor}) are not allowed: write the value out",
                                event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: SafeLoader's own check reports it
                    continue
                if duplicate:
                    raise ConstructorError(None, None, f"key {str(key)[:80]!r} appears twice in one mapping",
                                           key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse one YAML document as plain data (see the module docstring).

    Raises:
        yaml.YAMLError: malformed YAML, an alias, or a key that appears twice in a mapping; the
            error's ``problem_mark`` gives the line.
    """
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader


def yaml_error_text(err: yaml.YAMLError) -> tuple[int | None, str]:
    """``(line number or None, one-line problem)`` of a YAML error, for a user-facing message."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or (str(err).splitlines() or [type(err).__name__])[0]
    return (mark.line + 1 if mark is not None else None), problem

"""Keyword-argument values such as ``[NETWORK] network_args = base_features=8, depth=3``.

The text is a comma list of ``name=value`` pairs.  Each value becomes an ``int`` (64-bit), a
finite ``float``, ``bool`` (``true``/``false``/``yes``/``no``), ``None`` (``none``), a tuple of
those when written in parentheses (``kernel=(3, 3, 1)``), or else a string; quote a string that
would otherwise read as a number or word (``tag='1'``).  In YAML a mapping is accepted directly.

Example:
    >>> KwargsType().parse("base_features=8, depth=3, residual=yes", base_dir=".")
    {'base_features': 8, 'depth': 3, 'residual': True}
"""

from __future__ import annotations

import math
import re
from typing import Any

from voxflow.config.values import InvalidValue, ValueType, clip, clip_repr

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORDS = {"true": True, "yes": True, "false": False, "no": False, "none": None}
_INT_DIGITS = 19  # beyond 64 bits: no argument needs one


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are outside parentheses, brackets and quotes."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote or depth != 0:
        raise InvalidValue(detail="unbalanced quotes or parentheses")
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def parse_scalar(text: str) -> Any:
    """Read one keyword value written as text (see the module docstring)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if len(text) >= 2 and (text[0], text[-1]) in (("(", ")"), ("[", "]")):
        return tuple(parse_scalar(item) for item in _split_top_level(text[1:-1]))
    if re.fullmatch(r"[+-]?\d+", text):
        if len(text.lstrip("+-").lstrip("0")) > _INT_DIGITS:
            raise InvalidValue(detail=f"{clip_repr(text)} is too large")
        return int(text)
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise InvalidValue(detail=f"{clip_repr(text)} is not a finite number")
        return number
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    return text


def _native(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_native(item) for item in value)
    if isinstance(value, dict):
        raise InvalidValue(detail="nested mappings are not allowed")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValue(detail=f"{value!r} is not a finite number")
    if isinstance(value, int) and value.bit_length() > 63:
        raise InvalidValue(detail="an integer beyond 64 bits")
    return value


def format_scalar(value: Any) -> str:
    """Write one keyword value so that :func:`parse_scalar` reads it back unchanged."""
    if isinstance(value, tuple):
        return "(" + ", ".join(format_scalar(item) for item in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, str):
        plain = parse_scalar(value) == value and not re.search(r"[,=()\[\]'\"]", value) and value == value.strip()
        return value if plain and value else repr(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


class KwargsType(ValueType):
    """Keyword arguments ``name=value, ...`` parsed into a ``dict``."""

    doc_name = "kwargs"

    def expected(self) -> str:
        return "keyword arguments name=value separated by commas, e.g. base_features=8, depth=3"

    def parse(self, value: Any, base_dir: str) -> dict[str, Any]:
        if isinstance(value, dict):
            pairs = [(str(name), _native(item)) for name, item in value.items()]
        elif isinstance(value, str):
            pairs = []
            for part in _split_top_level(value):
                name, equals, text = part.partition("=")
                if not equals:
                    raise InvalidValue(detail=f"'{clip(part)}' has no '='")
                pairs.append((name.strip(), parse_scalar(text)))
        else:
            raise InvalidValue()
        result: dict[str, Any] = {}
        for name, item in pairs:
            if not _IDENTIFIER.fullmatch(name):
                raise InvalidValue(detail=f"'{clip(name)}' is not a valid argument name")
            if name in result:
                raise InvalidValue(detail=f"'{name}' is given twice")
            result[name] = item
        return result

    def format(self, value: Any) -> str:
        if not value:
            return ""
        return ", ".join(f"{name}={format_scalar(item)}" for name, item in value.items())

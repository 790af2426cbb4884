"""Value types of the configuration schema: how a written value is parsed, checked and written.

Every type turns a raw value -- a string from an INI file or the command line, or a native YAML
scalar/list/mapping -- into one typed Python value, and back into the INI text that parses to the
same value (:meth:`ValueType.format`).  Unset values (empty strings, ``None``, empty lists) never
reach a type: the caller substitutes the key's default.

Value syntax (NiftyNet's): booleans ``yes/true/t/y/1`` and ``no/false/f/n/0`` in any case; arrays
comma-separated with optional parentheses, ``(1.0, 1.0, 1.0)`` or ``1,1,1``.

Example:
    >>> IntType(minimum=1).parse("4", base_dir=".")
    4
    >>> BoolType().parse("Yes", base_dir=".")
    True
"""

from __future__ import annotations

import math
import re
from typing import Any

from voxflow.naming import closest

TRUE_WORDS = ("yes", "true", "t", "y", "1")
FALSE_WORDS = ("no", "false", "f", "n", "0")
#: Integers must be smaller than this in magnitude (they must fit in a signed 64-bit integer).
INT_LIMIT = 2**63
_INT_DIGITS = 19
#: The most characters of a user's text (value, key, section, option) that a message shows.
SHOWN_CHARACTERS = 100


class InvalidValue(Exception):
    """Raised by :meth:`ValueType.parse`; the caller adds file, section, key and expectation.

    Args:
        suggestion: the nearest valid value, shown as "Did you mean ...?".
        detail: a short reason appended to the received value (e.g. "4 values").
    """

    def __init__(self, suggestion: str | None = None, detail: str | None = None) -> None:
        super().__init__(detail or "")
        self.suggestion = suggestion
        self.detail = detail


def clip(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text``, or its first ``limit`` characters then ``"… (N characters)"`` when it is longer.

    Example:
        >>> clip("x" * 500, 3)
        'xxx… (500 characters)'
    """
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def clip_repr(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr(text)`` of at most its first ``limit`` characters, then ``"… (N characters)"``."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text)} characters)"


def is_unset(value: Any) -> bool:
    """Whether a raw value means "not given": ``None``, blank string, empty list or mapping."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (list, tuple, dict)):
        return len(value) == 0
    return False


def split_list(value: Any) -> list[Any]:
    """Split a raw array value into items: a YAML list, a scalar, or ``"(a, b)"`` / ``"a,b"``."""
    if isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (list, tuple, dict)):
                raise InvalidValue(detail="nested lists are not allowed")
        return list(value)
    if isinstance(value, dict):
        raise InvalidValue(detail="a mapping")
    if not isinstance(value, str):
        return [value]
    text = value.strip()
    if len(text) >= 2 and (text[0], text[-1]) in (("(", ")"), ("[", "]")):
        text = text[1:-1]
    items = [item.strip() for item in re.split(r"[,\n]", text)]
    return [item for item in items if item]


def to_int(item: Any) -> int:
    """Convert one raw item to ``int`` (no bools, no fractional text, nothing beyond 64 bits).

    Raises:
        InvalidValue: not an integer, or one whose magnitude is :data:`INT_LIMIT` or more (no
            setting needs one, and NumPy or TensorFlow would fail on it later).
    """
    if isinstance(item, bool):
        raise InvalidValue()
    if isinstance(item, str):
        text = item.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise InvalidValue()
        if len(text.lstrip("+-").lstrip("0")) > _INT_DIGITS:
            raise InvalidValue(detail="too large")
        item = int(text)
    if not isinstance(item, int):
        raise InvalidValue()
    if abs(item) >= INT_LIMIT:
        raise InvalidValue(detail="too large")
    return item


def to_float(item: Any) -> float:
    """Convert one raw item to a finite ``float`` (no bools)."""
    if isinstance(item, bool):
        raise InvalidValue()
    if isinstance(item, (int, float)):
        number = float(item)
    elif isinstance(item, str):
        try:
            number = float(item.strip())
        except ValueError:
            raise InvalidValue() from None
    else:
        raise InvalidValue()
    if not math.isfinite(number):
        raise InvalidValue()
    return number


def to_str(item: Any) -> str:
    """Convert one raw scalar to a stripped ``str`` (bools and containers are rejected).

    Raises:
        InvalidValue: a bool, a container, or text holding a NUL byte (no file name, word or
            device list has one; the operating system refuses it in paths and variables).
    """
    if isinstance(item, bool) or isinstance(item, (list, tuple, dict)):
        raise InvalidValue()
    text = str(item).strip()
    if "\0" in text:
        raise InvalidValue(detail="it contains a NUL byte")
    return text


def range_text(minimum: float | None, maximum: float | None, open_min: bool, open_max: bool) -> str:
    """Describe bounds for messages: ``" >= 1"``, ``" in (0, 1]"`` or ``""``."""
    if minimum is not None and maximum is not None:
        left, right = ("(" if open_min else "["), (")" if open_max else "]")
        return f" in {left}{minimum}, {maximum}{right}"
    if minimum is not None:
        return f" {'>' if open_min else '>='} {minimum}"
    if maximum is not None:
        return f" {'<' if open_max else '<='} {maximum}"
    return ""


def in_range(number: float, minimum: float | None, maximum: float | None,
             open_min: bool = False, open_max: bool = False) -> bool:
    """Whether ``number`` lies within the (optionally open) bounds."""
    if minimum is not None and (number < minimum or (open_min and number == minimum)):
        return False
    if maximum is not None and (number > maximum or (open_max and number == maximum)):
        return False
    return True


class ValueType:
    """Base class: ``parse`` a raw value, ``format`` a typed one, describe both for users."""

    #: Short type name for the configuration reference.
    doc_name = "str"
    #: Whether values are filesystem paths resolved against a base folder.
    is_path = False

    def expected(self) -> str:
        """The "Expected ..." phrase of error messages, e.g. ``"an integer >= 1"``."""
        return "a string"

    def parse(self, value: Any, base_dir: str) -> Any:
        """Return the typed value of a set raw ``value``; raise :class:`InvalidValue` if wrong."""
        return to_str(value)

    def format(self, value: Any) -> str:
        """Return the INI text that parses back to ``value`` (``""`` for unset)."""
        if value is None:
            return ""
        if isinstance(value, tuple):
            return ", ".join(str(item) for item in value)
        return str(value)

    def notice(self, value: Any, parsed: Any) -> str | None:
        """What the user should know about reading raw ``value`` as ``parsed`` (e.g. a NiftyNet
        name read as voxflow's), said once as a notice; None when there is nothing to say."""
        return None


class StrType(ValueType):
    """A free string (names, dotted import paths, device lists)."""

    def __init__(self, description: str = "a string") -> None:
        self.description = description

    def expected(self) -> str:
        return self.description


class RegexType(StrType):
    """A string that must compile as a Python regular expression."""

    doc_name = "regex"

    def __init__(self) -> None:
        super().__init__("a regular expression")

    def parse(self, value: Any, base_dir: str) -> str:
        text = to_str(value)
        try:
            re.compile(text)
        except re.error as err:
            raise InvalidValue(detail=str(err)) from None
        return text


class IntType(ValueType):
    """An integer with optional inclusive bounds."""

    doc_name = "int"

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum

    def expected(self) -> str:
        return "an integer" + range_text(self.minimum, self.maximum, False, False)

    def parse(self, value: Any, base_dir: str) -> int:
        number = to_int(value)
        if not in_range(number, self.minimum, self.maximum):
            raise InvalidValue()
        return number


class FloatType(ValueType):
    """A finite number with optional (possibly open) bounds."""

    doc_name = "float"

    def __init__(self, minimum: float | None = None, maximum: float | None = None,
                 open_min: bool = False, open_max: bool = False) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.open_min, self.open_max = open_min, open_max

    def expected(self) -> str:
        return "a number" + range_text(self.minimum, self.maximum, self.open_min, self.open_max)

    def parse(self, value: Any, base_dir: str) -> float:
        number = to_float(value)
        if not in_range(number, self.minimum, self.maximum, self.open_min, self.open_max):
            raise InvalidValue()
        return number

    def format(self, value: Any) -> str:
        return "" if value is None else repr(float(value))


class BoolType(ValueType):
    """A boolean written ``yes/true/t/y/1`` or ``no/false/f/n/0`` in any case."""

    doc_name = "bool"

    def expected(self) -> str:
        return "a boolean (yes/true/t/y/1 or no/false/f/n/0)"

    def parse(self, value: Any, base_dir: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise InvalidValue(suggestion=closest(word, ("true", "false", "yes", "no"), 0.6))
        raise InvalidValue()


class ChoiceType(ValueType):
    """One of a fixed set of words, matched case-insensitively and stored canonically."""

    doc_name = "choice"

    def __init__(self, choices: tuple[str, ...], note: str = "") -> None:
        self.choices = choices
        self.note = note

    def expected(self) -> str:
        return "one of: " + ", ".join(self.choices) + (f" ({self.note})" if self.note else "")

    def parse(self, value: Any, base_dir: str) -> str:
        word = to_str(value)
        for choice in self.choices:
            if choice.lower() == word.lower():
                return choice
        raise InvalidValue(suggestion=closest(word, self.choices, 0.5))


class ChoiceOrPathType(ChoiceType):
    """One of a fixed set of words (stored canonically), or a dotted import path ``pkg.module.Name``."""

    doc_name = "choice or import path"

    def expected(self) -> str:
        return "one of: " + ", ".join(self.choices) + ", or a dotted import path such as my_pkg.module.Name"

    def parse(self, value: Any, base_dir: str) -> str:
        word = to_str(value)
        parts = word.split(".")
        if len(parts) > 1 and all(part.isidentifier() for part in parts):
            return word
        return super().parse(value, base_dir)


class AliasedChoiceType(ChoiceType):
    """One of a fixed set of words, or an alias of one (stored as the word it stands for)."""

    def __init__(self, choices: tuple[str, ...], aliases: dict[str, str], note: str = "") -> None:
        super().__init__(choices, note)
        self.aliases = aliases

    def expected(self) -> str:
        spelt = ", ".join(f"{alias} (= {word})" for alias, word in self.aliases.items())
        return super().expected() + (f"; also {spelt}" if spelt else "")

    def parse(self, value: Any, base_dir: str) -> str:
        word = to_str(value).strip().lower()
        if word in self.aliases:
            return self.aliases[word]
        return super().parse(value, base_dir)


class CheckpointType(ValueType):
    """A checkpoint: an iteration number >= -1 (-1 = latest), or the words ``latest``/``best``.

    ``latest`` is stored as ``-1``; ``best`` is stored as the string ``"best"``.
    """

    doc_name = "checkpoint"

    def expected(self) -> str:
        return "an iteration number >= -1 (-1 = latest), 'latest' or 'best'"

    def parse(self, value: Any, base_dir: str) -> int | str:
        if isinstance(value, str) and value.strip().lower() in ("latest", "best"):
            return -1 if value.strip().lower() == "latest" else "best"
        number = to_int(value)
        if number < -1:
            raise InvalidValue()
        return number

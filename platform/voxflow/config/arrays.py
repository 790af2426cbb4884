"""Array value types: comma lists of numbers or words, spatial triples and window sizes.

Arrays are written comma-separated with optional parentheses, ``(1.0, 1.0, 1.0)`` or ``1,1,1``;
a YAML list or a single YAML scalar is accepted too.  Parsed arrays are tuples.

Two spatial padding rules (NiftyNet's):
    * a *spatial window* given with 2 values is padded with 1: ``64,64`` -> ``(64, 64, 1)``,
      a 2-D window (:class:`WindowType`);
    * a *spatial array* given with 1 value is repeated: ``border=5`` -> ``(5, 5, 5)``
      (:class:`SpatialIntType`, :class:`SpatialFloatType`).
"""

from __future__ import annotations

from typing import Any

from voxflow.config.values import (
    InvalidValue,
    ValueType,
    in_range,
    range_text,
    split_list,
    to_float,
    to_int,
    to_str,
)


def _count_text(lengths: tuple[int, ...] | None) -> str:
    if not lengths:
        return "a comma-separated list of"
    if len(lengths) == 1:
        return str(lengths[0])
    return " or ".join(str(n) for n in lengths)


def _plural(noun: str, lengths: tuple[int, ...] | None) -> str:
    return noun if lengths == (1,) else noun + "s"


class _ArrayType(ValueType):
    """Shared machinery: split, convert each item, check the number of items."""

    item_noun = "value"
    item_range = ""

    def __init__(self, lengths: tuple[int, ...] | None = None, example: str = "") -> None:
        self.lengths = lengths
        self.example = example

    def expected(self) -> str:
        text = f"{_count_text(self.lengths)} {_plural(self.item_noun, self.lengths)}{self.item_range}"
        return text + (f", e.g. {self.example}" if self.example else "")

    def convert(self, item: Any) -> Any:
        raise NotImplementedError

    def parse(self, value: Any, base_dir: str) -> tuple[Any, ...]:
        items = tuple(self.convert(item) for item in split_list(value))
        if self.lengths and len(items) not in self.lengths:
            raise InvalidValue(detail=f"{len(items)} value{'s' if len(items) != 1 else ''}")
        return items

    def format(self, value: Any) -> str:
        if value is None:
            return ""
        return ", ".join(self.format_item(item) for item in value)

    def format_item(self, item: Any) -> str:
        return str(item)


class IntArrayType(_ArrayType):
    """Integers with optional inclusive bounds on every item."""

    doc_name = "int array"
    item_noun = "integer"

    def __init__(self, lengths: tuple[int, ...] | None = None, minimum: int | None = None,
                 maximum: int | None = None, example: str = "") -> None:
        super().__init__(lengths, example)
        self.minimum, self.maximum = minimum, maximum
        self.item_range = range_text(minimum, maximum, False, False)

    def convert(self, item: Any) -> int:
        number = to_int(item)
        if not in_range(number, self.minimum, self.maximum):
            raise InvalidValue()
        return number


class FloatArrayType(_ArrayType):
    """Numbers with optional bounds; ``increasing=True`` demands strictly increasing items."""

    doc_name = "float array"
    item_noun = "number"

    def __init__(self, lengths: tuple[int, ...] | None = None, minimum: float | None = None,
                 maximum: float | None = None, open_min: bool = False, increasing: bool = False,
                 example: str = "") -> None:
        super().__init__(lengths, example)
        self.minimum, self.maximum, self.open_min = minimum, maximum, open_min
        self.increasing = increasing
        self.item_range = range_text(minimum, maximum, open_min, False)
        if increasing:
            self.item_range += ", increasing"

    def convert(self, item: Any) -> float:
        number = to_float(item)
        if not in_range(number, self.minimum, self.maximum, self.open_min):
            raise InvalidValue()
        return number

    def parse(self, value: Any, base_dir: str) -> tuple[Any, ...]:
        items = super().parse(value, base_dir)
        if self.increasing and any(a >= b for a, b in zip(items, items[1:])):
            raise InvalidValue(detail="not increasing")
        return items

    def format_item(self, item: Any) -> str:
        return repr(float(item))


class StrArrayType(_ArrayType):
    """Words or names (e.g. filename tokens, input-section names, metric names)."""

    doc_name = "str array"
    item_noun = "string"

    def convert(self, item: Any) -> str:
        return to_str(item)


class SectionNamesType(StrArrayType):
    """Names of input sections (the roles of an application section, e.g. ``image = T1, T2``)."""

    doc_name = "section names"

    def expected(self) -> str:
        return "input-section names separated by commas, e.g. T1, T2"


class AxcodesType(StrArrayType):
    """Three orientation codes, one from each pair L/R, A/P, S/I (nibabel convention)."""

    doc_name = "axcodes"
    _PAIRS = ({"L", "R"}, {"A", "P"}, {"S", "I"})

    def __init__(self) -> None:
        super().__init__(lengths=(3,))

    def expected(self) -> str:
        return "3 orientation codes, one from each of L/R, A/P, S/I, e.g. R, A, S"

    def convert(self, item: Any) -> str:
        return to_str(item).upper()

    def parse(self, value: Any, base_dir: str) -> tuple[Any, ...]:
        codes = super().parse(value, base_dir)
        if sorted(next((i for i, pair in enumerate(self._PAIRS) if c in pair), -1) for c in codes) != [0, 1, 2]:
            raise InvalidValue()
        return codes


#: The largest window size along an axis (and volume padding or border): sizes beyond it are typos
#: (whether a window fits in memory is checked against the machine when a run starts).
MAX_VOXELS_PER_AXIS = 65535
#: A window size of 0 along an axis: the whole extent of each image along it (NiftyNet's meaning),
#: accepted where :class:`WindowType` has ``full_extent=True`` (``[INFERENCE] spatial_window_size``).
FULL_EXTENT = 0


class WindowType(IntArrayType):
    """A spatial window size: 3 integers in [1, 65535], or 2 padded with 1 (a 2-D window).

    With ``full_extent=True`` an axis may be :data:`FULL_EXTENT` (0): the window spans each image
    along it, whatever its size (``0, 0, 3`` = whole slices, three at a time). The value is stored
    with the 0 kept (the inference layout takes each volume's size there).
    """

    doc_name = "window"

    def __init__(self, full_extent: bool = False) -> None:
        example = "64, 64, 64 (2 values = a 2-D window)"
        if full_extent:
            example = "64, 64, 64 or 0, 0, 3 (0 = the image's full extent on that axis; 2 values = a 2-D window)"
        super().__init__(lengths=(2, 3), minimum=FULL_EXTENT if full_extent else 1, maximum=MAX_VOXELS_PER_AXIS,
                         example=example)
        self.full_extent = full_extent

    def convert(self, item: Any) -> int:
        number = to_int(item)
        if number == FULL_EXTENT and not self.full_extent:
            raise InvalidValue(detail="0 = the full extent is accepted only in [INFERENCE] spatial_window_size")
        return super().convert(number)

    def parse(self, value: Any, base_dir: str) -> tuple[Any, ...]:
        items = super().parse(value, base_dir)
        return items + (1,) if len(items) == 2 else items


class SpatialIntType(IntArrayType):
    """A per-axis integer triple; one value is repeated to all three axes."""

    doc_name = "spatial int"

    def __init__(self, minimum: int | None = 0, pairs: bool = False) -> None:
        super().__init__(lengths=(1, 2, 3) if pairs else (1, 3), minimum=minimum, maximum=MAX_VOXELS_PER_AXIS,
                         example="5 (= 5, 5, 5), 5, 2 (= 5, 2, 2) or 5, 5, 0" if pairs else "5 (= 5, 5, 5) or 5, 5, 0")

    def parse(self, value: Any, base_dir: str) -> tuple[Any, ...]:
        """One value for every axis; with ``pairs``, two values repeat the last one (NiftyNet's
        2-D configs give the inference border so)."""
        items = super().parse(value, base_dir)
        return items * 3 if len(items) == 1 else (*items, items[-1]) if len(items) == 2 else items


class SpatialFloatType(FloatArrayType):
    """A per-axis number triple (e.g. voxel spacing); one value is repeated to all three axes."""

    doc_name = "spatial float"

    def __init__(self) -> None:
        super().__init__(lengths=(1, 3), minimum=0.0, open_min=True, example="1.0 or 1.0, 1.0, 2.5")

    def parse(self, value: Any, base_dir: str) -> tuple[Any, ...]:
        items = super().parse(value, base_dir)
        return items * 3 if len(items) == 1 else items

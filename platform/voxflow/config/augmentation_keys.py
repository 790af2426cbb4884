"""Keys of the ``[AUGMENTATION]`` section: one per transform of ``voxflow.augment.catalogue``.

Kept apart from :mod:`voxflow.config.schema` because the table is generated from the augmentation
catalogue (which imports no TensorFlow) rather than written out.
"""

from __future__ import annotations

from typing import Any

from voxflow.config.kwargs import KwargsType
from voxflow.config.values import InvalidValue


class TransformArgsType(KwargsType):
    """Arguments of one augmentation transform, checked against its catalogue entry."""

    doc_name = "kwargs"

    def __init__(self, transform: str) -> None:
        self.transform = transform

    def expected(self) -> str:
        return f"arguments of {self.transform} as name=value pairs (see docs/augmentation.md)"

    def parse(self, value: Any, base_dir: str) -> dict[str, Any]:
        if isinstance(value, str) and value.strip().lower() in ("yes", "true", "on"):
            return {}
        kwargs = super().parse(value, base_dir)
        from voxflow.augment import catalogue  # noqa: PLC0415 - TensorFlow-free, read on first use

        problem = catalogue.check_arguments(self.transform, kwargs)
        if problem:
            raise InvalidValue(detail=problem)
        return kwargs


class _TransformTable(dict):
    """``[AUGMENTATION]`` keys: snake_case transform names; any case, with or without ``_``, matches."""

    @staticmethod
    def _squash(name: object) -> str:
        return str(name).replace("_", "").lower()

    def _find(self, name: object) -> str | None:
        squashed = self._squash(name)
        return next((key for key in dict.keys(self) if self._squash(key) == squashed), None)

    def __contains__(self, name: object) -> bool:
        return self._find(name) is not None

    def __getitem__(self, name: str) -> Any:
        found = self._find(name)
        if found is None:
            raise KeyError(name)
        return dict.__getitem__(self, found)


def augmentation_keys(key_class: type) -> dict[str, Any]:
    """The ``[AUGMENTATION]`` key table, built with the schema's ``Key`` class."""
    from voxflow.augment import catalogue  # noqa: PLC0415 - TensorFlow-free

    table = _TransformTable()
    for name in catalogue.names():
        doc = catalogue.ARGUMENTS[name]
        arguments = ", ".join(f"{arg}={default!r}" for arg, (default, _) in doc.items())
        key = catalogue.snake_case(name)
        table[key] = key_class(key, TransformArgsType(name), None,
                         f"{name}: {arguments}. Keys are applied in file order (docs/augmentation.md).")
    return table

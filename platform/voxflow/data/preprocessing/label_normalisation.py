"""Discrete label normalisation: map the label values seen in training to ``0 .. K-1``.

Example: a training set labelled ``{0, 10, 64}`` gives the map ``0 -> 0, 10 -> 1, 64 -> 2``;
network outputs (indices) are mapped back with :meth:`LabelMap.to_original`.

A NiftyNet label mapping may also merge values into one class (the BRATS whole-tumour demo sends
``0 1 2 4`` to ``0 1 1 1``). Such a map has no way back to one original value per class, so its
outputs are the classes themselves (``0``/``1``: background / whole tumour), and evaluation sends
the reference's values through the same map before comparing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelMap:
    """The sorted original label values; value ``values[k]`` becomes class ``classes[k]`` (``k``
    when ``classes`` is None, the map voxflow learns)."""

    values: tuple[int, ...]
    classes: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.classes is not None:
            if len(self.classes) != len(self.values) or sorted(set(self.classes)) != list(range(max(self.classes) + 1)):
                raise ValueError(f"the classes {self.classes} of the values {self.values} must be 0..K-1, one per value")
            if tuple(self.classes) == tuple(range(len(self.values))):
                object.__setattr__(self, "classes", None)

    @classmethod
    def learn(cls, unique_values: Iterable[np.ndarray]) -> LabelMap:
        """Builds the map from the unique values of every training label volume."""
        seen: set[int] = set()
        for values in unique_values:
            seen.update(int(v) for v in np.rint(np.asarray(values)).ravel())
        if not seen:
            raise ValueError("no label value to learn a label map from")
        return cls(tuple(sorted(seen)))

    @property
    def merges(self) -> bool:
        """Whether several values share a class (the outputs are then the classes)."""
        return self.classes is not None and len(set(self.classes)) < len(self.values)

    @property
    def _class_of_value(self) -> np.ndarray:
        return np.asarray(self.classes if self.classes is not None else range(len(self.values)), dtype=np.int64)

    @property
    def num_labels(self) -> int:
        """``K``, the number of classes (distinct labels unless the map merges values)."""
        return int(self._class_of_value.max()) + 1 if self.values else 0

    @property
    def output_values(self) -> tuple[int, ...]:
        """The value written for each class ``0..K-1``: its original value, or the class itself
        when the map merges values."""
        if self.merges:
            return tuple(range(self.num_labels))
        order = np.argsort(self._class_of_value)
        return tuple(int(self.values[i]) for i in order)

    def describe(self, shown: int = 12) -> str:
        """The values for a message, shortened when many: ``[0, 1, 2, 3, 4, 5, 6, 7, 8, …, 206, 207]``
        (``[0→0, 1→1, 2→1, 4→1]`` for a map that assigns classes)."""
        if self.classes is None:
            values = [str(v) for v in self.values]
        else:
            values = [f"{v}→{k}" for v, k in zip(self.values, self.classes)]
        if len(values) > shown:
            values = [*values[: shown - 3], "…", *values[-2:]]
        return f"[{', '.join(values)}]"

    def unknown(self, labels: np.ndarray) -> list[int]:
        """The values of ``labels`` that the map does not contain."""
        present = np.unique(np.rint(labels)).astype(np.int64)
        return sorted(set(present.tolist()) - set(self.values))

    def to_indices(self, labels: np.ndarray) -> np.ndarray:
        """Original values -> classes ``0..K-1`` (``float32``, same shape).

        Raises:
            ValueError: a value is not in the map (check :meth:`unknown` first).
        """
        missing = self.unknown(labels)
        if missing:
            raise ValueError(f"label values {missing} are not in the label map {self.values}")
        table = np.asarray(self.values, dtype=np.float64)
        positions = np.searchsorted(table, np.rint(labels))
        if self.classes is None:
            return positions.astype(np.float32)
        return self._class_of_value[positions].astype(np.float32)

    def to_original(self, indices: np.ndarray) -> np.ndarray:
        """Classes ``0..K-1`` -> the values written (:attr:`output_values`; ``int64``, same shape).

        Raises:
            ValueError: an index outside ``0..K-1``.
        """
        index = np.rint(np.asarray(indices)).astype(np.int64)
        if index.size and (index.min() < 0 or index.max() >= self.num_labels):
            raise ValueError(
                f"label indices must be in 0..{self.num_labels - 1}, got "
                f"{int(index.min())}..{int(index.max())}"
            )
        return np.asarray(self.output_values, dtype=np.int64)[index]

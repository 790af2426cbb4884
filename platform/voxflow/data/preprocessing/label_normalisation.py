"""Discrete label normalisation: map the label values seen in training to ``0 .. K-1``.

Example: a training set labelled ``{0, 10, 64}`` gives the map ``0 -> 0, 10 -> 1, 64 -> 2``;
network outputs (indices) are mapped back with :meth:`LabelMap.to_original`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelMap:
    """The sorted original label values; value ``values[k]`` becomes index ``k``."""

    values: tuple[int, ...]

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
    def num_labels(self) -> int:
        """``K``, the number of distinct labels."""
        return len(self.values)

    def describe(self, shown: int = 12) -> str:
        """The values for a message, shortened when many: ``[0, 1, 2, 3, 4, 5, 6, 7, 8, …, 206, 207]``."""
        values = [str(v) for v in self.values]
        if len(values) > shown:
            values = [*values[: shown - 3], "…", *values[-2:]]
        return f"[{', '.join(values)}]"

    def unknown(self, labels: np.ndarray) -> list[int]:
        """The values of ``labels`` that the map does not contain."""
        present = np.unique(np.rint(labels)).astype(np.int64)
        return sorted(set(present.tolist()) - set(self.values))

    def to_indices(self, labels: np.ndarray) -> np.ndarray:
        """Original values -> indices ``0..K-1`` (``float32``, same shape).

        Raises:
            ValueError: a value is not in the map (check :meth:`unknown` first).
        """
        missing = self.unknown(labels)
        if missing:
            raise ValueError(f"label values {missing} are not in the label map {self.values}")
        table = np.asarray(self.values, dtype=np.float64)
        return np.searchsorted(table, np.rint(labels)).astype(np.float32)

    def to_original(self, indices: np.ndarray) -> np.ndarray:
        """Indices ``0..K-1`` -> original values (``int64``, same shape).

        Raises:
            ValueError: an index outside ``0..K-1``.
        """
        index = np.rint(np.asarray(indices)).astype(np.int64)
        if index.size and (index.min() < 0 or index.max() >= self.num_labels):
            raise ValueError(
                f"label indices must be in 0..{self.num_labels - 1}, got "
                f"{int(index.min())}..{int(index.max())}"
            )
        return np.asarray(self.values, dtype=np.int64)[index]

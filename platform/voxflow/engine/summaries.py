"""TensorBoard logging: scalars, image slices and image grids, written eagerly outside compiled functions.

Writing from eager code with a Python-int step avoids the trap of a ``tf.function`` freezing every
event at the step it was traced with.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf


class SummaryLogger:
    """One TensorBoard writer per phase (``train``, ``validation``) under ``model_dir/logs``."""

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self._writers: dict[str, tf.summary.SummaryWriter] = {}

    def _writer(self, phase: str) -> tf.summary.SummaryWriter:
        if phase not in self._writers:
            self._writers[phase] = tf.summary.create_file_writer(os.path.join(self.log_dir, phase))
        return self._writers[phase]

    def scalars(self, phase: str, step: int, values: dict[str, float]) -> None:
        """Write each finite scalar of ``values`` at ``step``."""
        with self._writer(phase).as_default(step=int(step)):
            for name, value in values.items():
                if value is not None and np.isfinite(value):
                    tf.summary.scalar(name, float(value))

    def image_slices(self, phase: str, step: int, volumes: dict[str, Any]) -> None:
        """Write each entry as one image: the middle slice (last spatial axis) of an ``(X, Y, Z)``
        volume, or, for a list of volumes (a batch of samples, a row of interpolations), a grid of
        their middle slices (:func:`image_grid`)."""
        with self._writer(phase).as_default(step=int(step)):
            for name, volume in volumes.items():
                plane = image_grid(volume) if isinstance(volume, (list, tuple)) else _middle_slice(volume)
                tf.summary.image(name, plane[None, ..., None], max_outputs=1)

    def flush(self) -> None:
        """Flush every writer."""
        for writer in self._writers.values():
            writer.flush()

    def close(self) -> None:
        """Close every writer."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


def _middle_slice(volume: np.ndarray) -> np.ndarray:
    volume = np.asarray(volume, dtype=np.float32)
    while volume.ndim > 3:
        volume = volume[..., 0]
    plane = volume[:, :, volume.shape[2] // 2] if volume.ndim == 3 else volume
    low, high = float(plane.min()), float(plane.max())
    scaled = (plane - low) / (high - low) if high > low else np.zeros_like(plane)
    return np.rot90(scaled).astype(np.float32)


def image_grid(volumes: Sequence[np.ndarray], columns: int | None = None) -> np.ndarray:
    """The middle slices of ``volumes`` (each scaled to [0, 1] on its own) tiled row by row, with a
    one-pixel gap; ``columns`` defaults to ⌈√n⌉. Slices of different sizes are placed top-left in
    cells of the largest size."""
    planes = [_middle_slice(volume) for volume in volumes]
    if not planes:
        return np.zeros((1, 1), np.float32)
    columns = columns or math.ceil(math.sqrt(len(planes)))
    rows = math.ceil(len(planes) / columns)
    height = max(p.shape[0] for p in planes)
    width = max(p.shape[1] for p in planes)
    grid = np.zeros((rows * (height + 1) - 1, columns * (width + 1) - 1), np.float32)
    for index, plane in enumerate(planes):
        top, left = (index // columns) * (height + 1), (index % columns) * (width + 1)
        grid[top:top + plane.shape[0], left:left + plane.shape[1]] = plane
    return grid

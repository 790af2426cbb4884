"""TensorBoard logging: scalars and image slices, written eagerly outside compiled functions.

Writing from eager code with a Python-int step avoids the trap of a ``tf.function`` freezing every
event at the step it was traced with.
"""

from __future__ import annotations

import os

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

    def image_slices(self, phase: str, step: int, volumes: dict[str, np.ndarray]) -> None:
        """Write the middle slice (last spatial axis) of each (X, Y, Z) volume as an image."""
        with self._writer(phase).as_default(step=int(step)):
            for name, volume in volumes.items():
                tf.summary.image(name, _middle_slice(volume)[None, ..., None], max_outputs=1)

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

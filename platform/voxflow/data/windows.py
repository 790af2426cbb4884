"""The window an application cuts, and how a 2-D window reaches a 2-D network.

Every input section read into windows gives ``spatial_window_size``; they must agree (voxflow cuts
one window for every role). For inference ``[INFERENCE] spatial_window_size`` may choose another.
A window with one axis of size 1 is a 2-D window: the network is built with ``spatial_dims = 2``
and that axis is squeezed on the way in and restored on the way out. Spatial augmentation fetches a
larger window (``margin`` voxels on each side) and crops it back.

Example:
    >>> layout = WindowLayout.from_config(cfg, "train", sections=("T1", "label"))  # doctest: +SKIP
    >>> layout.window, layout.spatial_dims                                         # doctest: +SKIP
    ((96, 96, 1), 2)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from voxflow.errors import ConfigError


class WindowLayout:
    """A window ``(x, y, z)``, its flat axis (2-D windows), and the augmentation margin around it.

    Args:
        window: the spatial window size.

    Raises:
        ConfigError: more than one axis of size 1.
    """

    def __init__(self, window: Sequence[int]) -> None:
        self.window = tuple(int(v) for v in window)
        flat = [axis for axis, size in enumerate(self.window) if size == 1]
        if len(flat) > 1:
            raise ConfigError(f"spatial_window_size {self.text} has {len(flat)} axes of size 1: expected a 3-D "
                              "window or a 2-D window with exactly one axis of size 1.")
        self.flat_axis = flat[0] if flat else None
        self.spatial_dims = 2 if flat else 3
        self.margin: tuple[int, int, int] = (0, 0, 0)

    @classmethod
    def from_config(cls, cfg: Any, action: str, sections: Sequence[str]) -> WindowLayout:
        """The window of ``sections`` (or ``[INFERENCE] spatial_window_size`` for inference).

        Raises:
            ConfigError: no section gives a window, or they disagree.
        """
        if action == "inference" and cfg.inference.spatial_window_size:
            return cls(cfg.inference.spatial_window_size)
        windows = {s: tuple(cfg.inputs[s].spatial_window_size) for s in sections
                   if s in cfg.inputs and cfg.inputs[s].spatial_window_size}
        if not windows:
            raise ConfigError(
                f"Missing key `spatial_window_size` in [{sections[0]}] of {cfg.path}: expected the window size "
                "in voxels, e.g. 64,64,64 (or 96,96,1 for 2-D slices)."
            )
        distinct = set(windows.values())
        if len(distinct) > 1:
            listing = ", ".join(f"[{s}] {'×'.join(map(str, w))}" for s, w in windows.items())
            raise ConfigError(f"Input sections disagree on spatial_window_size ({listing}): voxflow uses one window "
                              "for every source.")
        return cls(distinct.pop())

    @property
    def text(self) -> str:
        """``64×64×64``."""
        return "×".join(str(v) for v in self.window)

    @property
    def fetch_window(self) -> tuple[int, int, int]:
        """The window samplers cut: the window plus the augmentation margin on each side."""
        return tuple(w + 2 * m for w, m in zip(self.window, self.margin))

    @property
    def network_window(self) -> tuple[int, ...]:
        """The window as the network sees it (without the flat axis of a 2-D window)."""
        return tuple(v for i, v in enumerate(self.window) if i != self.flat_axis)

    def example(self, channels: int) -> np.ndarray:
        """A zero batch of one window in the network's layout (builds a model)."""
        return np.zeros((1, *self.network_window, int(channels)), dtype=np.float32)

    def to_network(self, tensor: Any) -> Any:
        """Drop the flat axis of 2-D windows: ``(B, X, Y, 1, C)`` → ``(B, X, Y, C)``."""
        import tensorflow as tf  # noqa: PLC0415

        return tensor if self.flat_axis is None else tf.squeeze(tensor, axis=1 + self.flat_axis)

    def from_network(self, tensor: Any) -> Any:
        """Restore the flat axis of 2-D windows: ``(B, X, Y, K)`` → ``(B, X, Y, 1, K)``."""
        import tensorflow as tf  # noqa: PLC0415

        return tensor if self.flat_axis is None else tf.expand_dims(tensor, axis=1 + self.flat_axis)

    def check_fits_memory(self, batch_size: int, channels: int) -> None:
        """A batch of input windows alone must fit in this machine's memory (a network needs far more).

        Raises:
            ConfigError: naming the window, margin and batch, and the memory there is.
        """
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return
        needed = int(batch_size) * math.prod(self.fetch_window) * max(1, int(channels)) * 4
        if needed > memory:
            margin = f" (plus the augmentation margin {self.margin})" if any(self.margin) else ""
            raise ConfigError(
                f"spatial_window_size {self.text}{margin} with batch_size {batch_size} needs {needed / 2**30:.3g} GiB "
                f"for the input windows alone; this machine has {memory / 2**30:.3g} GiB: choose a smaller window or "
                "batch.")

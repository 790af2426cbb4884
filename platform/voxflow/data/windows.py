"""The window an application cuts, and how a 2-D window reaches a 2-D network.

Every input section read into windows gives ``spatial_window_size``. The largest is the window the
network reads; a smaller one (NiftyNet's valid-convolution configs give the label 9³ where the
image has 57³) must be the network's output window, centred in it: voxflow cuts every role at the
input window and crops the targets to the output window (:meth:`WindowLayout.crop_to_output`).
For inference ``[INFERENCE] spatial_window_size`` may choose another window; an axis of 0 there
means the whole extent of each volume along it (NiftyNet's meaning), grown to the smallest window
the network accepts (:meth:`WindowLayout.for_volume`).
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

    def __init__(self, window: Sequence[int], section_windows: dict[str, tuple[int, ...]] | None = None,
                 full_extent: Sequence[int] = ()) -> None:
        self.window = tuple(int(v) for v in window)
        flat = [axis for axis, size in enumerate(self.window) if size == 1]
        if len(flat) > 1:
            raise ConfigError(f"spatial_window_size {self.text} has {len(flat)} axes of size 1: expected a 3-D "
                              "window or a 2-D window with exactly one axis of size 1.")
        self.flat_axis = flat[0] if flat else None
        self.spatial_dims = 2 if flat else 3
        self.margin: tuple[int, int, int] = (0, 0, 0)
        #: ``{section: window}`` of the sections read, when they differ (the smaller: output windows).
        self.section_windows = dict(section_windows or {})
        #: Axes that take each volume's whole extent (``[INFERENCE] spatial_window_size`` with 0).
        self.full_extent = tuple(int(a) for a in full_extent)
        #: The window the network returns for :attr:`window` (set once the network is built).
        self.output_window = self.window

    @classmethod
    def from_config(cls, cfg: Any, action: str, sections: Sequence[str]) -> WindowLayout:
        """The window of ``sections`` (or ``[INFERENCE] spatial_window_size`` for inference).

        Raises:
            ConfigError: no section gives a window, or they disagree.
        """
        windows = {s: tuple(cfg.inputs[s].spatial_window_size) for s in sections
                   if s in cfg.inputs and cfg.inputs[s].spatial_window_size}
        inference = tuple(cfg.inference.spatial_window_size or ()) if action == "inference" else ()
        if inference:
            full = tuple(axis for axis, size in enumerate(inference) if size == 0)
            trained = max(windows.values(), key=math.prod) if windows else ()
            # full-extent axes are built (and checked) at the training window's size (16 without one)
            nominal = [(trained[axis] if axis < len(trained) else 16) if axis in full else size
                       for axis, size in enumerate(inference)]
            return cls(nominal, full_extent=full)
        if not windows:
            raise ConfigError(
                f"Missing key `spatial_window_size` in [{sections[0]}] of {cfg.path}: expected the window size "
                "in voxels, e.g. 64,64,64 (or 96,96,1 for 2-D slices)."
            )
        largest = max(windows.values(), key=math.prod)
        nested = all(all(w <= big for w, big in zip(window, largest)) for window in windows.values())
        if not nested or len(set(windows.values())) > 2:
            listing = ", ".join(f"[{s}] {'×'.join(map(str, w))}" for s, w in windows.items())
            raise ConfigError(f"Input sections disagree on spatial_window_size ({listing}): expected one window, or "
                              "the input window and a smaller output window inside it (valid-convolution networks).")
        return cls(largest, windows if len(set(windows.values())) > 1 else None)

    def check_output_window(self, output: Sequence[int], network: str) -> None:
        """Record the network's output window (spatial, window layout) and check the sections' smaller
        windows name it.

        Raises:
            ConfigError: a section whose window is neither the input nor the output window.
        """
        self.output_window = tuple(int(v) for v in output)
        for section, window in self.section_windows.items():
            if tuple(window) not in (self.window, self.output_window):
                raise ConfigError(
                    f"spatial_window_size {'×'.join(map(str, window))} of [{section}] is neither the input window "
                    f"{self.text} nor the window {'×'.join(map(str, self.output_window))} that [NETWORK] name = "
                    f"{network} returns for it: give the output window (or the input window).")

    @property
    def output_crop(self) -> tuple[int, int, int]:
        """Voxels between the input and the output window on each side, per axis."""
        return tuple((w - o) // 2 for w, o in zip(self.window, self.output_window))

    def crop_to_output(self, tensor: Any) -> Any:
        """The centre of a batch of windows ``(B, X, Y, Z, C)`` the size of the output window (the
        targets a smaller output is compared with); unchanged when the output has the input's size."""
        if self.output_window == self.window:
            return tensor
        start = [0, *self.output_crop, 0]
        size = [-1, *self.output_window, -1]
        import tensorflow as tf  # noqa: PLC0415

        return tf.slice(tensor, start, size)

    def for_volume(self, shape: Sequence[int], network: Any = None) -> WindowLayout:
        """The layout for one volume: the full-extent axes take its size, grown to the smallest window
        ``network`` takes (:func:`~voxflow.networks.window.smallest_valid_window`); the output window
        follows the network's window rule, or keeps this layout's crop."""
        if not self.full_extent:
            return self
        window = tuple(int(shape[axis]) if axis in self.full_extent else size for axis, size in enumerate(self.window))
        rule = getattr(network, "window_rule", None) if network is not None else None
        if network is not None:
            from voxflow.networks.window import output_window, smallest_valid_window  # noqa: PLC0415

            window = self.to_window(smallest_valid_window(network, self._network_axes(window)))
        layout = WindowLayout(window)
        if rule is not None:
            layout.output_window = self.to_window(output_window(network, self._network_axes(window)))
        else:
            layout.output_window = tuple(w - (iw - ow) for w, iw, ow in zip(window, self.window, self.output_window))
        return layout

    def _network_axes(self, window: Sequence[int]) -> tuple[int, ...]:
        return tuple(int(v) for i, v in enumerate(window) if i != self.flat_axis)

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

    def to_window(self, network_shape: Sequence[int]) -> tuple[int, int, int]:
        """A spatial size in the network's layout with the flat axis of a 2-D window put back."""
        shape = [int(v) for v in network_shape]
        if self.flat_axis is not None:
            shape.insert(self.flat_axis, 1)
        return tuple(shape)

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

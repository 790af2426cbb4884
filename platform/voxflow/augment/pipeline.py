"""An ordered list of augmentation layers applied to a batch, then cropped to the window.

Example:
    >>> aug = Augmentation([("RandomFlip", {}), ("RandomMotion", {"p": 0.25})], seed=1,
    ...                    maps={"t1": Kind.INTENSITY, "seg": Kind.LABEL})   # doctest: +SKIP
    >>> margin = aug.margin((64, 64, 64))     # fetch windows of 64 + 2 * margin
    >>> out = aug(batch, margin=margin)       # every map warped by its kind, cropped back
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from voxflow import registry
from voxflow.augment.base import RandomTransform
from voxflow.errors import ConfigError
from voxflow.roles import STANDARD_KINDS, Kind, kinds_of, maps_of


def build_layer(name: str, kwargs: dict[str, Any], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                seed: int | None = None, maps: dict[str, Kind] | None = None,
                intensity_keys: Sequence[str] | None = None) -> RandomTransform:
    """Build the layer registered as ``name`` (CamelCase or snake_case) with ``kwargs``.

    ``maps`` and ``intensity_keys`` say which batch entries are maps of which kind, and which take
    intensity transforms (see :mod:`voxflow.augment.base`).

    Raises:
        ConfigError: bad arguments, in one line.
    """
    layer_class = registry.resolve("augmentation", name)
    arguments = {"seed": seed, **kwargs, "spacing": tuple(spacing), "maps": maps, "intensity_keys": intensity_keys}
    try:
        return layer_class(**arguments)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"Invalid arguments for augmentation {name}: {err}") from None


def center_crop(batch: dict[str, tf.Tensor], margin: Sequence[int],
                maps: Sequence[str] = tuple(STANDARD_KINDS)) -> dict[str, tf.Tensor]:
    """Remove ``margin`` voxels from each side of every map and move ``location`` accordingly."""
    if not any(margin):
        return batch
    out = dict(batch)
    for key in maps:
        if key in batch:
            shape = batch[key].shape
            out[key] = batch[key][:, margin[0]:shape[1] - margin[0], margin[1]:shape[2] - margin[1],
                                  margin[2]:shape[3] - margin[2]]
    if "location" in batch:
        shift = tf.constant([0, *margin], dtype=batch["location"].dtype)
        out["location"] = batch["location"] + shift[: batch["location"].shape[-1]]
    return out


class Augmentation:
    """Transforms applied in order; each draws from its own stream of the batch's per-sample seeds.

    Args:
        steps: ``(name, kwargs)`` pairs.
        spacing: voxel size (mm) of the windows.
        seed: seed for batches without a ``"seed"`` entry.
        maps: ``{batch key: kind}`` of the maps (the application's roles); ``None`` = the standard
            ``image``/``label``/``weight``/``sampler``.
        intensity_keys: the maps that take intensity transforms; ``None`` = every intensity map.
    """

    def __init__(self, steps: Sequence[tuple[str, dict[str, Any]]], spacing: Sequence[float] = (1.0, 1.0, 1.0),
                 seed: int | None = None, maps: dict[str, Kind] | None = None,
                 intensity_keys: Sequence[str] | None = None) -> None:
        self.maps = maps_of(kinds_of(maps if maps is not None else STANDARD_KINDS, maps))
        maps = self.maps if maps is not None else None
        self.layers = [build_layer(name, kwargs, spacing, None if seed is None else seed + i, maps, intensity_keys)
                       for i, (name, kwargs) in enumerate(steps)]
        fields = [key for key, kind in self.maps.items() if kind is Kind.FIELD]
        if fields and self.spatial:
            moving = ", ".join(name for (name, _), layer in zip(steps, self.layers) if layer.spatial)
            raise ValueError(f"spatial augmentation ({moving}) cannot transform the displacement field(s) {fields}: "
                             "their vectors would need reorienting; use intensity augmentation only")
        self.last_params: list[dict[str, tf.Tensor]] = []

    def __bool__(self) -> bool:
        return bool(self.layers)

    @property
    def spatial(self) -> bool:
        """Whether any layer moves voxels."""
        return any(layer.spatial for layer in self.layers)

    def margin(self, window: Sequence[int]) -> tuple[int, int, int]:
        """Voxels to fetch on each side of ``window``: the sum of the layers' margins."""
        total = [0, 0, 0]
        for layer in self.layers:
            for axis, value in enumerate(layer.margin(window)):
                total[axis] += value if window[axis] > 1 else 0
        return tuple(total)

    def __call__(self, batch: dict[str, tf.Tensor], margin: Sequence[int] = (0, 0, 0)) -> dict[str, tf.Tensor]:
        """Augment ``batch`` and crop ``margin`` voxels from each side; parameters in :attr:`last_params`."""
        out = dict(batch)
        self.last_params = []
        for index, layer in enumerate(self.layers):
            if "seed" in batch:
                out["seed"] = tf.cast(batch["seed"], tf.int64) + tf.constant([index * 104729, 0], tf.int64)
            params = layer.sample(out)
            out = layer.apply(out, params)
            self.last_params.append(params)
        if "seed" in batch:
            out["seed"] = batch["seed"]
        return center_crop(out, margin, tuple(self.maps))

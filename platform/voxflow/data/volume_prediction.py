"""Whole volumes from window predictions.

:func:`predict_volume` runs a network over a preprocessed volume window by window — a grid of
windows (step = window − 2·border, the last flush with the far edge) stitched with blending, or the
whole volume resized to the window (``window_sampling = resize``) — splitting each batch of
windows over the ``tf.distribute`` replicas.

The prediction is then sent back to the input's grid by the preprocessor and written by a
:class:`~voxflow.data.writers.VolumeWriter`.

Example:
    >>> volume = pre.load(subject)                                                                # doctest: +SKIP
    >>> probabilities = predict_volume(volume.arrays["image"], predict, layout, 4, settings, strategy)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class GridSettings:
    """How a volume is cut for prediction (the ``[INFERENCE]`` and ``[NETWORK]`` keys)."""

    batch_size: int
    border: tuple[int, int, int] = (0, 0, 0)
    blending: str = "gaussian"
    fill_constant: float = 0.0
    resize: bool = False
    #: How a volume is extended where windows need context beyond it (``volume_padding_mode``).
    padding_mode: str = "minimum"

    @classmethod
    def from_config(cls, cfg: Any) -> GridSettings:
        """``batch_size``, ``border``, ``blending``, ``fill_constant``, ``window_sampling = resize`` and
        ``volume_padding_mode``."""
        return cls(int(cfg.network.batch_size), tuple(int(b) for b in cfg.inference.border), cfg.inference.blending,
                   float(cfg.inference.fill_constant), cfg.network.window_sampling == "resize",
                   str(getattr(cfg.network, "volume_padding_mode", "minimum") or "minimum"))


def predict_volume(image: np.ndarray, predict: Any, layout: Any, outputs: int, settings: GridSettings,
                   strategy: Any, output_window: Sequence[int] | None = None) -> np.ndarray:
    """The prediction for a whole ``(X, Y, Z, C)`` volume, ``(X, Y, Z, outputs)`` float32.

    A network whose output window is smaller than its input (valid convolutions: ``unet_2d``,
    ``deepmedic``) predicts the centre of each input window: the volume is extended by the
    difference (``padding_mode``), so output windows tile exactly the volume, and windows larger
    than the volume see it extended too; the result always has the volume's shape.

    Args:
        image: the preprocessed volume.
        predict: ``windows (B, x, y, z, C) → (B, x', y', z', outputs)`` in the window layout (a
            compiled function of the network, the layout conversions and the output activation).
        layout: the :class:`~voxflow.data.windows.WindowLayout`.
        outputs: the channels ``predict`` returns.
        settings: the grid (or resize) settings.
        strategy: the ``tf.distribute`` strategy; each batch of ``batch_size × replicas`` windows is
            split over the replicas and the stitched result equals one device's.
        output_window: the spatial size ``predict`` returns for ``layout.window`` (default: the same).
    """
    if settings.resize:
        return _predict_resized(image, predict, layout)
    from voxflow.data.aggregators import GridAggregator  # noqa: PLC0415
    from voxflow.data.samplers import GridSampler  # noqa: PLC0415

    window = tuple(int(w) for w in layout.window)
    out_window = tuple(int(w) for w in (output_window or window))
    crop = [(w - o) // 2 for w, o in zip(window, out_window)]
    shape = tuple(int(s) for s in image.shape[:3])
    # the output covers ``shape`` grown to at least one output window; the input is that plus the
    # crop on each side (so the first and last output windows reach the volume's faces)
    covered = [max(s, o) for s, o in zip(shape, out_window)]
    widths = [(c, c + cov - s) for c, cov, s in zip(crop, covered, shape)]
    if any(before or after for before, after in widths):
        from voxflow.data.preprocessing.padding import pad_array  # noqa: PLC0415

        image = pad_array(image, widths, settings.padding_mode)
    border = [b + c for b, c in zip(settings.border, crop)]
    sampler = GridSampler(image.shape[:3], window, border)
    aggregator = GridAggregator(covered, outputs, out_window, settings.border, blending=settings.blending,
                                fill_constant=settings.fill_constant)
    dataset = sampler.dataset(image).batch(settings.batch_size * strategy.num_replicas_in_sync)
    local = strategy.experimental_local_results
    for batch in strategy.experimental_distribute_dataset(dataset):
        predicted = strategy.run(lambda b: predict(b["image"]), args=(batch,))
        for values, locations in zip(local(predicted), local(batch["location"])):
            if np.asarray(locations).shape[0]:
                aggregator.add(np.asarray(values), np.asarray(locations))
    result = aggregator.result()
    return result if tuple(covered) == shape else np.ascontiguousarray(result[: shape[0], : shape[1], : shape[2]])


def _predict_resized(image: np.ndarray, predict: Any, layout: Any) -> np.ndarray:
    """The whole volume resized to the window and the prediction resized back."""
    from voxflow.data.aggregators import ResizeAggregator, resize_volume  # noqa: PLC0415

    window = resize_volume(image, layout.window, order=1)[None].astype(np.float32)
    aggregator = ResizeAggregator(image.shape[:3], interp_order=1)
    aggregator.add(np.asarray(predict(window)))
    return aggregator.result()

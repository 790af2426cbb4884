"""Whole volumes from window predictions, and output images written back on each input's grid.

:func:`predict_volume` runs a network over a preprocessed volume window by window — a grid of
windows (step = window − 2·border, the last flush with the far edge) stitched with blending, or the
whole volume resized to the window (``window_sampling = resize``) — splitting each batch of
windows over the ``tf.distribute`` replicas.

:class:`VolumeOutputs` writes one image per subject, ``<folder>/<subject><postfix>.nii.gz``, on
exactly the grid of the subject's first input file (every preprocessing step undone), and lists
them in ``inferred.csv``. It refuses, before any work, an output that would replace an input.

Example:
    >>> outputs = VolumeOutputs(folder, "_seg", subjects)           # doctest: +SKIP
    >>> for subject in subjects:                                    # doctest: +SKIP
    ...     volume = pre.load(subject)
    ...     probabilities = predict_volume(volume.arrays["image"], predict, layout, 4, settings, strategy)
    ...     outputs.write(subject, labels_of(pre.invert(probabilities, volume.geometry)), volume.geometry)
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxflow.atomic import atomic_write_text, refuse_replacing_inputs
from voxflow.io import write_image

log = logging.getLogger(__name__)

INFERRED_CSV = "inferred.csv"


@dataclass(frozen=True)
class GridSettings:
    """How a volume is cut for prediction (the ``[INFERENCE]`` and ``[NETWORK]`` keys)."""

    batch_size: int
    border: tuple[int, int, int] = (0, 0, 0)
    blending: str = "gaussian"
    fill_constant: float = 0.0
    resize: bool = False

    @classmethod
    def from_config(cls, cfg: Any) -> GridSettings:
        """``batch_size``, ``border``, ``blending``, ``fill_constant`` and ``window_sampling = resize``."""
        return cls(int(cfg.network.batch_size), tuple(int(b) for b in cfg.inference.border), cfg.inference.blending,
                   float(cfg.inference.fill_constant), cfg.network.window_sampling == "resize")


def predict_volume(image: np.ndarray, predict: Any, layout: Any, outputs: int, settings: GridSettings,
                   strategy: Any) -> np.ndarray:
    """The prediction for a whole ``(X, Y, Z, C)`` volume, ``(X, Y, Z, outputs)`` float32.

    Args:
        image: the preprocessed volume.
        predict: ``windows (B, x, y, z, C) → (B, x, y, z, outputs)`` in the window layout (a compiled
            function of the network, the layout conversions and the output activation).
        layout: the :class:`~voxflow.data.windows.WindowLayout`.
        outputs: the channels ``predict`` returns.
        settings: the grid (or resize) settings.
        strategy: the ``tf.distribute`` strategy; each batch of ``batch_size × replicas`` windows is
            split over the replicas and the stitched result equals one device's.
    """
    if settings.resize:
        return _predict_resized(image, predict, layout)
    from voxflow.data.aggregators import GridAggregator  # noqa: PLC0415
    from voxflow.data.samplers import GridSampler  # noqa: PLC0415

    shape = image.shape[:3]
    sampler = GridSampler(shape, layout.window, settings.border)
    aggregator = GridAggregator(shape, outputs, layout.window, settings.border, blending=settings.blending,
                                fill_constant=settings.fill_constant)
    dataset = sampler.dataset(image).batch(settings.batch_size * strategy.num_replicas_in_sync)
    local = strategy.experimental_local_results
    for batch in strategy.experimental_distribute_dataset(dataset):
        predicted = strategy.run(lambda b: predict(b["image"]), args=(batch,))
        for values, locations in zip(local(predicted), local(batch["location"])):
            if np.asarray(locations).shape[0]:
                aggregator.add(np.asarray(values), np.asarray(locations))
    return aggregator.result()


def _predict_resized(image: np.ndarray, predict: Any, layout: Any) -> np.ndarray:
    """The whole volume resized to the window and the prediction resized back."""
    from voxflow.data.aggregators import ResizeAggregator, resize_volume  # noqa: PLC0415

    window = resize_volume(image, layout.window, order=1)[None].astype(np.float32)
    aggregator = ResizeAggregator(image.shape[:3], interp_order=1)
    aggregator.add(np.asarray(predict(window)))
    return aggregator.result()


class VolumeOutputs:
    """Output images of the subjects of one inference, and their ``inferred.csv`` listing.

    Args:
        folder: where the images go (created).
        postfix: appended to each subject id (``[INFERENCE] output_postfix``).
        subjects: the subjects inference will write (their files are the run's inputs).
        what: how messages name an output (``segmentation``, ``regression output`` ...).

    Raises:
        OutputError: an output would replace one of the subjects' files (checked here, before any work).
    """

    def __init__(self, folder: str, postfix: str, subjects: list[Any], what: str = "output") -> None:
        self.folder, self.postfix = folder, postfix
        self.listing = os.path.join(folder, INFERRED_CSV)
        self.rows: list[tuple[str, str]] = []
        planned = [self.path(subject) for subject in subjects] + [self.listing]
        inputs = [path for subject in subjects for path in subject.files.values()]
        refuse_replacing_inputs(planned, inputs, what=what)

    def path(self, subject: Any) -> str:
        """Where ``subject``'s output goes."""
        return os.path.join(self.folder, f"{subject.id}{self.postfix}.nii.gz")

    def write(self, subject: Any, data: np.ndarray, geometry: Any) -> str:
        """Write ``data`` (on the subject's original grid) with its geometry; update the listing."""
        os.makedirs(self.folder, exist_ok=True)
        path = self.path(subject)
        write_image(path, data, geometry.affine, reference=geometry.reference)
        self.rows.append((subject.id, path))
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["subject_id", "path"])
        writer.writerows(self.rows)
        atomic_write_text(self.listing, buffer.getvalue())
        log.info("wrote %s", path)
        return path

"""What segmentation reads back from a subject's own input image after the network: its non-zero region
(``postprocessing = background_outside_input``) and its intensities (``refine_iterations``), for
skull-stripped images. The image is read on its own grid, the grid the outputs are written on."""

from __future__ import annotations

from typing import Any

import numpy as np

from voxflow.errors import ConfigError, DataError


def read_input(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The image at ``path`` and where it is non-zero in any channel, holes filled (zero-valued ventricles of a
    skull-stripped brain are inside): ``(data, region)``."""
    from scipy import ndimage  # noqa: PLC0415

    from voxflow.io import read_image  # noqa: PLC0415

    data = np.asarray(read_image(path).data)
    nonzero = data != 0
    while nonzero.ndim > 3:
        nonzero = nonzero.any(axis=-1)
    return data, ndimage.binary_fill_holes(nonzero)


def region_like(region: np.ndarray, shape: tuple[int, ...], path: str) -> np.ndarray:
    """``region`` shaped like a label map of ``shape`` (trailing axes of size 1)."""
    if region.shape != tuple(shape[:region.ndim]):
        raise DataError(f"postprocessing = background_outside_input: '{path}' has the spatial shape "
                        f"{region.shape}, expected {tuple(shape[:region.ndim])} (the output's grid).")
    return region.reshape(region.shape + (1,) * (len(shape) - region.ndim))


def refine(restored: np.ndarray, data: np.ndarray, region: np.ndarray, iterations: int, section: str,
           path: str) -> np.ndarray:
    """The class probabilities ``restored`` refined on ``data``'s intensities inside ``region``, over the classes
    other than background (:func:`voxflow.data.refinement.refine_probabilities`)."""
    from voxflow.data.refinement import refine_probabilities  # noqa: PLC0415

    image: Any = data if data.ndim == region.ndim else data.reshape(*region.shape, -1)
    if image.ndim > region.ndim:
        if image.shape[-1] != 1:
            raise ConfigError(f"[{section}] refine_iterations needs a single-channel image; '{path}' has "
                              f"{image.shape[-1]} channels.")
        image = image[..., 0]
    probabilities = restored.reshape(*region.shape, restored.shape[-1])
    refined = refine_probabilities(probabilities, image, region, range(1, restored.shape[-1]), iterations)
    return refined.reshape(restored.shape)

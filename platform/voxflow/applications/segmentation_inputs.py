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


def refine(restored: np.ndarray, data: np.ndarray, region: np.ndarray, options: dict[str, Any], section: str,
           path: str, spacing: tuple[float, ...]) -> np.ndarray:
    """The class probabilities ``restored`` refined on ``data``'s intensities inside ``region``, over the classes
    other than background (:func:`voxflow.data.refinement.refine_probabilities`; ``options``: ``iterations``,
    ``prior_weight``, ``variances`` and ``bias_field``, which first divides the image by its N4 bias field,
    :func:`~voxflow.data.refinement.bias_corrected`, with the voxel size ``spacing``)."""
    from voxflow.data.refinement import bias_corrected, refine_probabilities  # noqa: PLC0415

    image: Any = data if data.ndim == region.ndim else data.reshape(*region.shape, -1)
    if image.ndim > region.ndim:
        if image.shape[-1] != 1:
            raise ConfigError(f"[{section}] refine_iterations needs a single-channel image; '{path}' has "
                              f"{image.shape[-1]} channels.")
        image = image[..., 0]
    if options["bias_field"] and image.ndim == 3:
        image = bias_corrected(image, region, spacing)
    probabilities = restored.reshape(*region.shape, restored.shape[-1])
    refined = refine_probabilities(probabilities, image, region, range(1, restored.shape[-1]), options["iterations"],
                                   prior_weight=options["prior_weight"], variances=options["variances"])
    return refined.reshape(restored.shape)

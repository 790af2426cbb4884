"""Segmentation's outputs after the network: the ``postprocessing`` steps, and what it reads back from a
subject's own input image — its non-zero region (``postprocessing = background_outside_input``) and its
intensities (``refine_iterations``), for skull-stripped images. The image is read on its own grid, the
grid the outputs are written on. :class:`InputAwareOutputs` is the application's part of it."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from voxflow.config import Key
from voxflow.config.values import BoolType, ChoiceType, FloatType, IntType
from voxflow.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: The post-processing that ``postprocessing = auto`` chose, saved in ``model_dir`` by training.
POSTPROCESSING_FILE = "postprocessing.json"

#: ``[SEGMENTATION]`` keys of the refinement (:class:`InputAwareOutputs.refine`).
REFINEMENT_KEYS = (
    Key("refine_iterations", IntType(0, 100), 0,
        "Refine the class probabilities on the input image's own intensities before the argmax: EM iterations "
        "of a Gaussian mixture whose per-voxel weights are the network's probabilities (as Atropos and SPM use "
        "prior maps), inside the input's non-zero region and over the classes other than background (a "
        "skull-stripped image); 0 = off (new in voxflow)."),
    Key("refine_prior_weight", FloatType(0.0), 1.0,
        "`refine_iterations`: exponent of the network's probabilities in the posterior (1 = Bayes' rule; "
        "smaller trusts the image's intensities more, as Atropos' `priorweight`)."),
    Key("refine_variances", ChoiceType(("class", "tied")), "class",
        "`refine_iterations`: `class` fits a variance per class; `tied` one pooled variance for every class, "
        "so each boundary falls where k-means puts it (between the class means) rather than inside the "
        "tighter class."),
    Key("refine_bias_field", BoolType(), False,
        "`refine_iterations`: first divide the image by its N4 bias field (SimpleITK, fitted inside the "
        "region on a 6 mm grid; about 1 s for a 1 mm brain), so that a slowly varying intensity does not "
        "move a tissue across the mixture's boundaries; skipped, with a notice, for an image more than 1 % "
        "negative inside the region (N4 needs positive intensities)."),
)


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


def refined_probabilities(restored: np.ndarray, data: np.ndarray, region: np.ndarray, options: dict[str, Any], section: str,
                          path: str, spacing: tuple[float, ...]) -> np.ndarray:
    """The class probabilities ``restored`` refined on ``data``'s intensities inside ``region``, over the classes
    other than background (:func:`voxflow.data.refinement.refine_probabilities`; ``options``: ``iterations``,
    ``prior_weight``, ``variances`` and ``bias_field``, which first divides the image by its N4 bias field,
    :func:`~voxflow.data.refinement.bias_corrected`, with the voxel size ``spacing``)."""
    from voxflow.data.refinement import bias_corrected, mostly_signed, refine_probabilities  # noqa: PLC0415

    image: Any = data if data.ndim == region.ndim else data.reshape(*region.shape, -1)
    if image.ndim > region.ndim:
        if image.shape[-1] != 1:
            raise ConfigError(f"[{section}] refine_iterations needs a single-channel image; '{path}' has "
                              f"{image.shape[-1]} channels.")
        image = image[..., 0]
    if options["bias_field"] and image.ndim == 3:
        if mostly_signed(image, region):
            log.warning("notice: [%s] refine_bias_field: more than 1 %% of '%s' inside its non-zero region is "
                        "negative; N4 needs positive intensities, so the image is refined without it", section, path)
        else:
            image = bias_corrected(image, region, spacing)
    probabilities = restored.reshape(*region.shape, restored.shape[-1])
    refined = refine_probabilities(probabilities, image, region, range(1, restored.shape[-1]), options["iterations"],
                                   prior_weight=options["prior_weight"], variances=options["variances"])
    return refined.reshape(restored.shape)


class InputAwareOutputs:
    """The segmentation application's post-processing and refinement (mixed into it; uses its ``cfg`` and
    ``action``)."""

    cfg: Any
    action: str

    def postprocessing_steps(self) -> tuple[str, ...]:
        """The configured steps, or with ``auto`` those training chose (none before a choice was saved)."""
        steps = tuple(self.cfg.app.postprocessing or ())
        if steps != ("auto",):
            return steps
        if "_postprocessing_choice" not in self.__dict__:
            import os  # noqa: PLC0415

            from voxflow.data.postprocessing import load_choice  # noqa: PLC0415

            path = os.path.join(self.cfg.system.model_dir, POSTPROCESSING_FILE)
            self._postprocessing_choice = load_choice(path) if os.path.isfile(path) else None
            if self._postprocessing_choice is None and self.action == "inference":
                log.warning("notice: postprocessing = auto but %s does not exist (training chooses it at its end): "
                            "no post-processing", path)
        choice = self._postprocessing_choice
        return () if choice is None else tuple(choice.steps)

    def postprocess(self, labels: np.ndarray, geometry: Any) -> np.ndarray:
        """``labels`` through :meth:`postprocessing_steps` (voxflow.data.postprocessing), with the
        grid's spacing."""
        steps = self.postprocessing_steps()
        if "background_outside_input" in steps:
            labels = np.where(self.input_region(labels.shape, geometry), labels, 0).astype(labels.dtype)
            steps = tuple(step for step in steps if step != "background_outside_input")
        if not steps:
            return labels
        from voxflow.data.postprocessing import apply  # noqa: PLC0415
        from voxflow.evaluation.files import spacing_from_affine  # noqa: PLC0415

        squeezed = np.squeeze(labels)
        spacing = [s for s, n in zip(spacing_from_affine(geometry.affine, 3), labels.shape) if n > 1]
        done = apply(squeezed, steps, spacing=tuple(spacing), min_island_mm3=float(self.cfg.app.min_island_mm3))
        return done.reshape(labels.shape)

    def input_image(self, geometry: Any) -> tuple[np.ndarray, np.ndarray]:
        """The subject's first input file and its non-zero region (:mod:`segmentation_inputs`), read once per
        subject (refinement and post-processing both use it)."""
        cached = self.__dict__.get("_input_image")
        if cached is None or cached[0] != geometry.path:
            cached = self._input_image = (geometry.path, read_input(geometry.path))
        return cached[1]

    def input_region(self, shape: tuple[int, ...], geometry: Any) -> np.ndarray:
        """:meth:`input_image`'s region, shaped like ``shape`` (the label map's)."""
        return region_like(self.input_image(geometry)[1], shape, geometry.path)

    def refine(self, restored: np.ndarray, geometry: Any) -> np.ndarray:
        """``refine_iterations``: the class probabilities refined on the input image's intensities."""
        data, region = self.input_image(geometry)
        from voxflow.evaluation.files import spacing_from_affine  # noqa: PLC0415

        app = self.cfg.app
        options = {"iterations": int(app.refine_iterations), "prior_weight": float(app.refine_prior_weight),
                   "variances": str(app.refine_variances), "bias_field": bool(app.refine_bias_field)}
        spacing = tuple(spacing_from_affine(geometry.affine, 3))
        return refined_probabilities(restored, data, region, options, app.section_name, geometry.path, spacing)

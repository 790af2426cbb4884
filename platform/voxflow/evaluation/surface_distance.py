"""Surface-distance metrics in millimetres (NumPy/SciPy): Hausdorff, HD95, average distance.

Definitions, for boolean masks ``ref`` and ``seg`` and voxel ``spacing`` (mm per axis):

- **Surface** of a mask: its voxels with at least one 6-connected (3-D) / 4-connected (2-D)
  background neighbour, i.e. ``mask & ~binary_erosion(mask, connectivity-1 structure)``. Outside
  the image counts as background, so an object touching the image edge has a surface there too.
  Axes of length 1 are dropped first, so a 2-D image stored as ``(X, Y, 1)`` has in-plane contours.
- **Directed surface distances** ``d(A→B)``: for each surface voxel of A, the Euclidean distance in
  mm to the nearest surface voxel of B, read from ``distance_transform_edt(~surface_B,
  sampling=spacing)`` (never all pairs). The transform runs on the bounding box of ``A ∪ B`` plus
  one voxel, which gives the same result as the whole image.
- ``hausdorff`` = ``max(max d(ref→seg), max d(seg→ref))``.
- ``hausdorff95`` = ``max(P95 d(ref→seg), P95 d(seg→ref))``: the larger of the two directed 95th
  percentiles (MONAI ``HausdorffDistanceMetric(percentile=95)`` and DeepMind ``surface-distance``
  convention; NiftyNet too). Percentiles use NumPy's default linear interpolation; DeepMind weights
  surface elements by area instead, so values can differ slightly on coarse surfaces.
- ``average_surface_distance`` (ASSD) = mean of the union of both directed sets,
  ``(Σ d(ref→seg) + Σ d(seg→ref)) / (|surface ref| + |surface seg|)``.

Empty masks:

==================  ==========================
ref / seg           every distance metric
==================  ==========================
both empty          0.0
exactly one empty   ``inf`` (MONAI: inf, pymia: inf)
==================  ==========================
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from voxflow.evaluation.masks import as_mask_pair, as_spacing


def mask_surface(mask: np.ndarray) -> np.ndarray:
    """Return the boolean surface of ``mask`` (connectivity-1 erosion; the image edge is background)."""
    mask = np.asarray(mask, dtype=bool)
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=structure, border_value=0)


class SurfaceDistances:
    """Both directed surface-distance sets of a mask pair, computed once and reduced on demand.

    Example:
        >>> distances = SurfaceDistances(ref, seg, spacing=(1.0, 1.0, 2.5))
        >>> distances.hausdorff95(), distances.average()
    """

    def __init__(self, ref: np.ndarray, seg: np.ndarray, spacing: tuple[float, ...] | None = None):
        """Check the inputs; the distance transforms run on first use.

        Args:
            ref: reference mask (non-zero is foreground), 2-D or 3-D.
            seg: segmentation mask of the same shape.
            spacing: mm per voxel along each axis of the masks; default 1 mm.

        Raises:
            ValueError: different shapes or a spacing of the wrong length.
        """
        self._ref, self._seg = as_mask_pair(ref, seg)
        self._spacing = as_spacing(spacing, self._ref.ndim)
        self._ref_empty = not self._ref.any()
        self._seg_empty = not self._seg.any()
        self._directed: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def directed(self) -> tuple[np.ndarray, np.ndarray]:
        """``(d(ref→seg), d(seg→ref))`` in mm, one value per surface voxel; empty if a mask is."""
        if self._directed is None:
            self._directed = self._compute()
        return self._directed

    def _undefined(self) -> float | None:
        """The conventional value when a mask is empty, else ``None``."""
        if self._ref_empty and self._seg_empty:
            return 0.0
        if self._ref_empty or self._seg_empty:
            return float("inf")
        return None

    def hausdorff(self) -> float:
        """Symmetric Hausdorff distance (mm): the largest surface distance in either direction."""
        special = self._undefined()
        if special is not None:
            return special
        return float(max(d.max() for d in self.directed))

    def hausdorff95(self) -> float:
        """95th-percentile Hausdorff distance (mm): max of the two directed 95th percentiles."""
        return self.percentile(95.0)

    def percentile(self, q: float) -> float:
        """Max of the two directed ``q``-th percentiles (mm); ``q = 100`` is :meth:`hausdorff`."""
        special = self._undefined()
        if special is not None:
            return special
        return float(max(np.percentile(d, q) for d in self.directed))

    def average(self) -> float:
        """Average symmetric surface distance (mm): mean over both directed sets together."""
        special = self._undefined()
        if special is not None:
            return special
        return float(np.concatenate(self.directed).mean())

    def _compute(self) -> tuple[np.ndarray, np.ndarray]:
        if self._ref_empty or self._seg_empty:
            return np.zeros(0), np.zeros(0)
        ref, seg, spacing = _crop_to_union(self._ref, self._seg, self._spacing)
        ref_surface, seg_surface = mask_surface(ref), mask_surface(seg)
        to_seg = ndimage.distance_transform_edt(~seg_surface, sampling=spacing)
        to_ref = ndimage.distance_transform_edt(~ref_surface, sampling=spacing)
        return to_seg[ref_surface], to_ref[seg_surface]


def _crop_to_union(
    ref: np.ndarray, seg: np.ndarray, spacing: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Drop length-1 axes, then crop both masks to the union's bounding box plus one voxel."""
    keep = [axis for axis, size in enumerate(ref.shape) if size > 1] or [0]
    shape = tuple(ref.shape[axis] for axis in keep)
    ref, seg = ref.reshape(shape), seg.reshape(shape)
    spacing = tuple(spacing[axis] for axis in keep)
    union = ref | seg
    box = []
    for axis in range(union.ndim):
        other = tuple(a for a in range(union.ndim) if a != axis)
        hits = np.flatnonzero(union.any(axis=other)) if other else np.flatnonzero(union)
        box.append(slice(max(hits[0] - 1, 0), min(hits[-1] + 2, union.shape[axis])))
    return ref[tuple(box)], seg[tuple(box)], spacing


def hausdorff(ref: np.ndarray, seg: np.ndarray, spacing: tuple[float, ...] | None = None) -> float:
    """Hausdorff distance in mm: max of both directed maximal surface distances.

    Args:
        ref: reference mask (2-D or 3-D).
        seg: segmentation mask of the same shape.
        spacing: mm per voxel along each axis; default 1 mm.

    Returns:
        Distance in mm; 0.0 if both masks are empty, ``inf`` if exactly one is.
    """
    return SurfaceDistances(ref, seg, spacing).hausdorff()


def hausdorff95(ref: np.ndarray, seg: np.ndarray, spacing: tuple[float, ...] | None = None) -> float:
    """95th-percentile Hausdorff distance in mm: max of the two directed 95th percentiles.

    Args:
        ref: reference mask (2-D or 3-D).
        seg: segmentation mask of the same shape.
        spacing: mm per voxel along each axis; default 1 mm.

    Returns:
        Distance in mm; 0.0 if both masks are empty, ``inf`` if exactly one is.
    """
    return SurfaceDistances(ref, seg, spacing).hausdorff95()


def average_surface_distance(
    ref: np.ndarray, seg: np.ndarray, spacing: tuple[float, ...] | None = None
) -> float:
    """Average symmetric surface distance (ASSD) in mm, over both directed sets together.

    Args:
        ref: reference mask (2-D or 3-D).
        seg: segmentation mask of the same shape.
        spacing: mm per voxel along each axis; default 1 mm.

    Returns:
        Distance in mm; 0.0 if both masks are empty, ``inf`` if exactly one is.
    """
    return SurfaceDistances(ref, seg, spacing).average()

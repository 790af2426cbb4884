"""Pairing reference and segmentation files by subject id, and reading them with their spacing."""

from __future__ import annotations

import csv
import os

import numpy as np

from voxflow.errors import DataError
from voxflow.io import is_image_file, read_image, split_extension


def subject_id(path: str, suffix: str = "") -> str:
    """File name minus its image extension and minus ``suffix`` at its end (``sub01_seg`` → ``sub01``)."""
    stem, _ = split_extension(os.path.basename(path.rstrip("/")))
    return stem[: -len(suffix)] if suffix and stem.endswith(suffix) else stem


def list_files(source: str, suffix: str = "") -> dict[str, str]:
    """``{subject id: path}`` from a folder of images or a CSV ``subject_id,path``.

    Raises:
        DataError: a missing folder/CSV, a CSV without those columns, or a duplicate subject id.
    """
    if os.path.isfile(source) and source.lower().endswith(".csv"):
        with open(source, newline="", encoding="utf-8-sig") as handle:  # a BOM (Excel) is dropped
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"subject_id", "path"} <= set(reader.fieldnames):
                raise DataError(f"CSV {source} must have the columns subject_id,path. Received {reader.fieldnames}.")
            base = os.path.dirname(os.path.abspath(source))
            pairs = [(row["subject_id"], os.path.join(base, row["path"])) for row in reader]
    elif os.path.isdir(source):
        names = sorted(n for n in os.listdir(source) if is_image_file(n))
        pairs = [(subject_id(n, suffix), os.path.join(source, n)) for n in names]
    else:
        raise DataError(f"No such folder or CSV file: {source}.")
    found: dict[str, str] = {}
    for key, path in pairs:
        if key in found:
            raise DataError(f"Subject '{key}' appears twice in {source}: {found[key]} and {path}.")
        found[key] = path
    return found


def spacing_from_affine(affine: np.ndarray, ndim: int) -> tuple[float, ...]:
    """Voxel size in mm along the first ``ndim`` axes: the column norms of the affine."""
    return tuple(float(s) for s in np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(axis=0)))[:ndim]


def _spacing_text(affine: np.ndarray) -> str:
    return "×".join(f"{v:g}" for v in spacing_from_affine(affine, 3))


def _origin_text(affine: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:g}" for v in np.asarray(affine)[:3, 3]) + ")"


def _values(array: np.ndarray) -> np.ndarray:
    """Integer images (label maps) as they are, in their own integer type (a copy to int64 cost more
    than the metrics on a 256³ map); float images holding integers as int64; other images as float64,
    unrounded (intensities, whose MAE, RMSE, R², PSNR and SSIM must not be computed on integers).
    Every consumer of intensities converts to float64 first."""
    if array.dtype.kind in "biu":  # C order: NIfTI arrays come Fortran-ordered, and every mask,
        return np.ascontiguousarray(array)  # pad and flat index of the metrics would copy them again
    if np.array_equal(array, np.rint(array)):
        return np.rint(array).astype(np.int64)
    return array.astype(np.float64)


def read_pair(ref_path: str, seg_path: str) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    """Read two images, check they share shape and geometry, return their values and the spacing.

    Label maps come back as integers (their own integer type, or int64 from floats), continuous
    images as float64: label metrics
    compare rounded values, continuous metrics the values themselves.

    Raises:
        DataError: a missing or unreadable file, different shapes / affines, or values that are not
            finite (a NaN cast to an integer would become a label of its own).
    """
    for path in (ref_path, seg_path):
        if not os.path.exists(path):
            raise DataError(f"No such image file: {path}.")
    reference, segmentation = read_image(ref_path), read_image(seg_path)
    ref, seg = np.squeeze(np.asarray(reference.data)), np.squeeze(np.asarray(segmentation.data))
    if ref.shape != seg.shape:
        raise DataError(f"Segmentation {seg_path} (shape {seg.shape}) does not share the grid of reference "
                        f"{ref_path} (shape {ref.shape}): expected the same shape and affine.")
    if not np.allclose(reference.affine, segmentation.affine, atol=1e-3):
        raise DataError(f"Segmentation {seg_path} does not share the grid of reference {ref_path}: same shape "
                        f"{ref.shape} but different affines (voxel size {_spacing_text(segmentation.affine)} vs "
                        f"{_spacing_text(reference.affine)} mm, origin {_origin_text(segmentation.affine)} vs "
                        f"{_origin_text(reference.affine)}): expected the same shape and affine.")
    for name, path, values in (("Reference", ref_path, ref), ("Segmentation", seg_path, seg)):
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = int(values.size - np.isfinite(values).sum())
            raise DataError(f"{name} {path} has {bad} voxel(s) that are NaN or infinite: expected a label map.")
    return _values(ref), _values(seg), _spacing(reference, ref, ref_path)


def _spacing(image: object, values: np.ndarray, path: str) -> tuple[float, ...]:
    """The mm spacing of the axes of size > 1 of a single-channel label map read from ``path``."""
    full = spacing_from_affine(image.affine, 3)  # type: ignore[attr-defined]
    shape = np.asarray(image.data).shape  # type: ignore[attr-defined]
    spacing = tuple(full[axis] for axis in range(min(3, len(shape))) if shape[axis] > 1)
    if len(spacing) != values.ndim:
        raise DataError(f"Reference {path} has shape {shape}: expected a single-channel 2-D or 3-D label map.")
    return spacing


def read_reference(path: str) -> tuple[np.ndarray, tuple[float, ...]]:
    """One reference label map as :func:`read_pair` reads it: its values (size-1 axes dropped) and
    the spacing of its other axes (full-volume validation scores against it).

    Raises:
        DataError: a missing or unreadable file, non-finite values, or more than one channel.
    """
    if not os.path.exists(path):
        raise DataError(f"No such image file: {path}.")
    image = read_image(path)
    values = np.squeeze(np.asarray(image.data))
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise DataError(f"Reference {path} has voxels that are NaN or infinite: expected a label map.")
    return _values(values), _spacing(image, values, path)

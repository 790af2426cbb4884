"""SimpleITK images <-> voxflow arrays: axis order (z, y, x) -> (x, y, z) and LPS -> RAS+.

SimpleITK indexes arrays as ``[z, y, x]`` and maps the index ``(i, j, k)`` (x fastest) to an LPS
physical point ``origin + direction @ diag(spacing) @ (i, j, k)``.  nibabel indexes ``[x, y, z]``
and its affine maps ``(i, j, k, 1)`` to RAS+ millimetres.  Both describe the same geometry, so the
conversion is exact: transpose the array and flip the sign of the first two world axes.
"""

from __future__ import annotations

import os

import numpy as np
import SimpleITK as sitk

from voxflow.errors import DataError
from voxflow.io.formats import TWO_D_EXTENSIONS, split_extension

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
_ORTHONORMAL_TOLERANCE = 1e-4


def _geometry_to_affine(spacing, direction, origin) -> np.ndarray:
    """Builds a 4x4 RAS+ affine from SimpleITK (LPS) geometry of any dimension <= 3."""
    ndim = len(spacing)
    spacing3 = np.ones(3)
    spacing3[:ndim] = spacing
    direction3 = np.eye(3)
    direction3[:ndim, :ndim] = np.asarray(direction, dtype=np.float64).reshape(ndim, ndim)
    origin3 = np.zeros(3)
    origin3[:ndim] = origin
    affine = np.eye(4)
    affine[:3, :3] = LPS_TO_RAS @ direction3 @ np.diag(spacing3)
    affine[:3, 3] = LPS_TO_RAS @ origin3
    return affine


def sitk_to_array(image: sitk.Image) -> tuple[np.ndarray, np.ndarray]:
    """Converts a SimpleITK image to a nibabel-ordered array and a RAS+ affine.

    Args:
        image: a 2-D, 3-D or 4-D SimpleITK image, scalar or vector (multi-component).

    Returns:
        ``(data, affine)``: ``data`` is ``(X, Y, Z)`` for a scalar image or ``(X, Y, Z, C)`` when
        it has several components or a fourth axis (both become channels); a 2-D image gets
        ``Z = 1``. ``affine`` is 4x4 float64, voxel -> RAS+ mm.
    """
    ndim = image.GetDimension()
    array = sitk.GetArrayFromImage(image)  # (z, y, x[, c]) with spatial axes reversed
    vector = image.GetNumberOfComponentsPerPixel() > 1
    spatial = array.ndim - (1 if vector else 0)
    order = list(range(spatial))[::-1] + ([spatial] if vector else [])
    data = np.ascontiguousarray(np.transpose(array, order))  # (x, y[, z[, t]][, c])
    if ndim == 2:
        data = data[:, :, np.newaxis, ...]
    elif ndim == 4:
        if vector:
            raise ValueError("4-D images with vector pixels are not supported")
        # 4-D (x, y, z, t): the fourth axis becomes channels; keep the 3-D geometry.
        affine = _geometry_to_affine(
            image.GetSpacing()[:3],
            np.asarray(image.GetDirection()).reshape(4, 4)[:3, :3],
            image.GetOrigin()[:3],
        )
        return data, affine
    elif ndim != 3:
        raise ValueError(f"{ndim}-D images are not supported")
    affine = _geometry_to_affine(image.GetSpacing(), image.GetDirection(), image.GetOrigin())
    return data, affine


def affine_to_sitk_geometry(
    affine: np.ndarray, ndim: int = 3
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Splits a RAS+ affine into SimpleITK spacing, direction (row-major) and LPS origin.

    Args:
        affine: 4x4 voxel -> RAS+ affine.
        ndim: 3, or 2 for a 2-D image (the upper-left 2x2 block is used).

    Returns:
        ``(spacing, direction, origin)`` as SimpleITK expects them.

    Raises:
        ValueError: the affine is sheared (its columns are not orthogonal), which SimpleITK cannot
            represent.
    """
    lps = LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)[:3, :3]
    spacing = np.linalg.norm(lps, axis=0)
    if np.any(spacing == 0):
        raise ValueError("the affine has a zero-length axis")
    direction = lps / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=_ORTHONORMAL_TOLERANCE):
        raise ValueError("the affine is sheared; SimpleITK formats cannot store it (use .nii.gz)")
    origin = LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)[:3, 3]
    if ndim == 2:
        return tuple(spacing[:2]), tuple(direction[:2, :2].ravel()), tuple(origin[:2])
    return tuple(spacing), tuple(direction.ravel()), tuple(origin)


def array_to_sitk(data: np.ndarray, affine: np.ndarray, two_d: bool = False) -> sitk.Image:
    """Converts a nibabel-ordered array and RAS+ affine to a SimpleITK image.

    Args:
        data: ``(X, Y, Z)`` or ``(X, Y, Z, C)``; channels become vector components.
        affine: 4x4 voxel -> RAS+ affine.
        two_d: write a 2-D image (requires ``Z == 1``), e.g. for PNG.

    Returns:
        The SimpleITK image with spacing, direction and origin set.
    """
    vector = data.ndim == 4 and data.shape[3] > 1
    if data.ndim == 4 and not vector:
        data = data[..., 0]
    if two_d:
        if data.shape[2] != 1:
            raise ValueError(f"a 2-D format needs Z = 1, got shape {data.shape}")
        data = data[:, :, 0, ...]
    spatial = 2 if two_d else 3
    order = list(range(spatial))[::-1] + ([spatial] if vector else [])
    array = np.ascontiguousarray(np.transpose(data, order))
    image = sitk.GetImageFromArray(array, isVector=vector)
    spacing, direction, origin = affine_to_sitk_geometry(affine, ndim=spatial)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    image.SetOrigin(origin)
    return image


def read_dicom_series(folder: str) -> sitk.Image:
    """Reads the single DICOM series stored in ``folder``.

    Raises:
        DataError: the folder holds no series or several.
    """
    series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(folder)
    if not series:
        raise DataError(f"Cannot read DICOM folder '{folder}': no DICOM series found in it.")
    if len(series) > 1:
        raise DataError(
            f"Cannot read DICOM folder '{folder}': it holds {len(series)} series; "
            "expected one series per folder."
        )
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder, series[0]))
    return reader.Execute()


def read_sitk(path: str) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Reads a file (or DICOM folder) with SimpleITK.

    Returns:
        ``(data, affine, metadata)`` with data in nibabel axis order and a RAS+ affine.
    """
    if os.path.isdir(path):
        image = read_dicom_series(path)
        metadata: dict[str, str] = {}
    else:
        reader = sitk.ImageFileReader()
        reader.SetFileName(path)
        image = reader.Execute()
        metadata = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    data, affine = sitk_to_array(image)
    return data, affine, metadata


def write_sitk(path: str, data: np.ndarray, affine: np.ndarray) -> None:
    """Writes ``data`` with SimpleITK, choosing 2-D output for PNG/JPEG/BMP."""
    ext = split_extension(path)[1]
    two_d = ext in TWO_D_EXTENSIONS
    if two_d and data.dtype not in (np.uint8, np.uint16):
        if np.issubdtype(data.dtype, np.integer) and data.min() >= 0 and data.max() <= 65535:
            data = data.astype(np.uint8 if data.max() <= 255 else np.uint16)
        else:
            raise ValueError(f"{ext} stores only uint8/uint16 values, got {data.dtype}")
    image = array_to_sitk(data, affine, two_d=two_d)
    compress = ext in (".nrrd", ".nhdr", ".mha", ".mhd", ".tif", ".tiff")
    sitk.WriteImage(image, path, useCompression=compress)

"""Reading and writing images with their geometry.

NIfTI / Analyze / MGH go through nibabel; NRRD, MetaImage, PNG/JPEG/TIFF/BMP and DICOM series
(a folder) go through SimpleITK and are converted to nibabel's convention: array index
``(i, j, k)`` with x first, and a 4x4 affine mapping voxels to RAS+ millimetres.

Example:
    >>> img = read_image("sub01_T1.nii.gz")            # doctest: +SKIP
    >>> img.data.shape, img.affine.shape                 # doctest: +SKIP
    ((160, 192, 160), (4, 4))
    >>> write_image("out/sub01_seg.nii.gz", seg, img.affine, reference=img)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import DTypeLike

from voxflow.atomic import output_error, temp_prefix
from voxflow.errors import DataError
from voxflow.io.formats import (
    NIBABEL_EXTENSIONS,
    SITK_EXTENSIONS,
    smallest_int_dtype,
    split_extension,
)

LOADERS = ("nibabel", "simpleitk")
#: Voxel spacing (mm) at or below which an affine axis counts as zero (singular geometry).
MIN_SPACING = 1e-9
#: The same relative to the largest spacing, and the least |det| of the direction matrix.
MIN_RELATIVE_SPACING = 1e-6


@dataclass(frozen=True)
class ImageHeader:
    """What is needed to write an output "like" an input image.

    Attributes:
        loader: ``"nibabel"`` or ``"simpleitk"``.
        dtype: the data type stored in the file.
        nifti: a copy of the nibabel header (NIfTI-1/2 inputs only), whose qform/sform codes and
            units are reused by :func:`write_image`.
        metadata: SimpleITK metadata dictionary (informative only).
    """

    loader: str
    dtype: str
    nifti: Any = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class Image:
    """An image in memory.

    Attributes:
        data: ``(X, Y, Z)`` or ``(X, Y, Z, C)`` array in the file's dtype (float64 becomes
            float32); a 2-D image has ``Z = 1``.
        affine: 4x4 float64 voxel -> RAS+ mm (nibabel convention).
        path: the file (or DICOM folder) it was read from.
        header: format details used to write outputs like it.
    """

    data: np.ndarray
    affine: np.ndarray
    path: str
    header: ImageHeader


def _fail(path: str, what: str) -> DataError:
    return DataError(f"Cannot read image '{path}': {what}")


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no details"
    return f"{type(error).__name__}: {text}"


def _pick_loader(path: str, loader: str | None) -> str:
    if loader is not None:
        if loader not in LOADERS:
            raise DataError(
                f"Invalid loader {loader!r} for '{path}'. Expected one of: {', '.join(LOADERS)}."
            )
        return loader
    if os.path.isdir(path):
        return "simpleitk"
    ext = split_extension(path)[1]
    if ext in NIBABEL_EXTENSIONS:
        return "nibabel"
    if ext in SITK_EXTENSIONS:
        return "simpleitk"
    raise _fail(
        path,
        "unknown file extension. Expected one of: "
        + ", ".join(NIBABEL_EXTENSIONS + SITK_EXTENSIONS)
        + ", or a DICOM folder.",
    )


def _to_channels_last(data: np.ndarray, path: str) -> np.ndarray:
    """Brings a nibabel array to (X, Y, Z) or (X, Y, Z, C)."""
    if data.ndim == 2:
        return data[:, :, np.newaxis]
    if data.ndim in (3, 4):
        return data
    if data.ndim == 5:
        if data.shape[3] == 1:
            return data[:, :, :, 0, :]
        if data.shape[4] == 1:
            return data[:, :, :, :, 0]
        raise _fail(path, f"5-D data of shape {data.shape} has both time and channel axes > 1")
    raise _fail(path, f"expected 2-D to 5-D data, got shape {data.shape}")


def _read_nibabel(path: str) -> tuple[np.ndarray, np.ndarray, ImageHeader]:
    image = nib.load(path)
    data = np.asanyarray(image.dataobj)  # forces reading: truncated files fail here
    header = image.header
    nifti = header.copy() if isinstance(header, nib.Nifti1Header) else None
    stored = str(header.get_data_dtype()) if hasattr(header, "get_data_dtype") else str(data.dtype)
    return data, np.asarray(image.affine, dtype=np.float64), ImageHeader("nibabel", stored, nifti)


def read_image(path: str | os.PathLike, loader: str | None = None) -> Image:
    """Reads an image file (or a DICOM series folder) with its geometry.

    Args:
        path: the file or DICOM folder.
        loader: ``None`` to choose by extension, or ``"nibabel"`` / ``"simpleitk"`` to force one.

    Returns:
        The :class:`Image`; 4-D NIfTI volumes and vector images give ``(X, Y, Z, C)`` data.

    Raises:
        DataError: the file is missing, unreadable, truncated or not an image, its voxels are not
            real numbers (complex, RGB), or its affine is not finite or singular (one line naming it).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise _fail(path, "no such file or folder")
    chosen = _pick_loader(path, loader)
    try:
        if chosen == "nibabel":
            data, affine, header = _read_nibabel(path)
        else:
            from voxflow.io import sitk_io  # noqa: PLC0415 - SimpleITK only for formats nibabel does not read

            data, affine, metadata = sitk_io.read_sitk(path)
            header = ImageHeader("simpleitk", str(data.dtype), None, metadata)
    except DataError:
        raise
    except MemoryError:
        raise
    except Exception as error:  # nibabel, SimpleITK, zlib, EOF, struct... all mean "unreadable"
        raise _fail(path, f"{chosen} failed ({_describe(error)})") from error
    data = _to_channels_last(data, path)
    _check_values(data, path)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    _check_affine(affine, path)
    return Image(data=data, affine=affine, path=path, header=header)


def _check_values(data: np.ndarray, path: str) -> None:
    """Voxels must be real numbers: complex ones would silently lose their imaginary part."""
    if np.iscomplexobj(data):
        raise _fail(path, f"it holds complex voxels ({data.dtype}); expected real numbers. Save the "
                          "magnitude (or the real part) as a real-valued image")
    if data.dtype.kind not in "biuf":
        raise _fail(path, f"it holds voxels of type {data.dtype}; expected real numbers (RGB and other "
                          "compound voxel types are not supported)")


def _check_affine(affine: np.ndarray, path: str) -> None:
    """The voxel-to-world transform must be finite and invertible.

    A singular one (an axis of length 0, or axes that are parallel) cannot be resampled, reoriented
    or written back (nibabel cannot store it as a qform), so it would fail mid-run.
    """
    what = "its affine (voxel-to-world transform)"
    if not np.all(np.isfinite(affine)):
        raise _fail(path, f"{what} contains NaN or Inf")
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    for axis, length in enumerate(spacing):
        if length <= max(MIN_SPACING, MIN_RELATIVE_SPACING * float(spacing.max())):
            raise _fail(path, f"{what} is singular: voxel spacing {length:.3g} along axis {axis}")
    volume = abs(float(np.linalg.det(affine[:3, :3] / spacing)))
    if volume < MIN_RELATIVE_SPACING:
        raise _fail(path, f"{what} is singular: its axes are (nearly) parallel (determinant {volume:.3g} "
                          "of the direction matrix, 1 for perpendicular axes)")


def _output_dtype(data: np.ndarray, dtype: DTypeLike | None) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    if data.dtype == bool or np.issubdtype(data.dtype, np.integer):
        return smallest_int_dtype(data)
    if data.dtype == np.float64:
        return np.dtype(np.float32)
    return data.dtype


def _nifti_image(
    data: np.ndarray, affine: np.ndarray, reference: ImageHeader | None, dtype: np.dtype
) -> nib.Nifti1Image:
    qform_code, sform_code, units = 1, 1, ("mm", "sec")
    if reference is not None and reference.nifti is not None:
        ref = reference.nifti
        qform_code, sform_code = int(ref["qform_code"]), int(ref["sform_code"])
        if qform_code == 0 and sform_code == 0:
            qform_code, sform_code = 1, 1
        units = tuple(u or "unknown" for u in ref.get_xyzt_units())
    image = nib.Nifti1Image(data, affine, dtype=dtype)
    image.header.set_xyzt_units(*units)
    image.set_sform(affine, code=sform_code)
    image.set_qform(affine, code=qform_code)
    return image


def write_image(
    path: str | os.PathLike,
    data: np.ndarray,
    affine: np.ndarray,
    reference: Image | ImageHeader | None = None,
    dtype: DTypeLike | None = None,
) -> None:
    """Writes an image atomically (temporary name in the destination folder, then replace).

    Args:
        path: destination; its extension chooses the format (NIfTI/Analyze via nibabel, the
            others via SimpleITK). The folder is created if missing.
        data: ``(X, Y, Z)`` or ``(X, Y, Z, C)``; a single channel is written as a 3-D image.
        affine: 4x4 voxel -> RAS+ affine.
        reference: the input image (or its header) the output corresponds to; NIfTI outputs
            keep its qform/sform codes and units.
        dtype: stored data type. By default integer/boolean data is stored in the smallest of
            uint8, int16, int32 holding its values, float64 as float32, others unchanged.

    Raises:
        DataError: unknown extension, or geometry/data the format cannot store.
    """
    path = os.fspath(path)
    data = np.asarray(data)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim not in (3, 4):
        raise DataError(f"Cannot write '{path}': expected (X, Y, Z[, C]) data, got {data.shape}.")
    out_dtype = _output_dtype(data, dtype)
    data = data.astype(out_dtype, copy=False)
    header = reference.header if isinstance(reference, Image) else reference
    ext = split_extension(path)[1]
    if ext not in NIBABEL_EXTENSIONS and ext not in SITK_EXTENSIONS:
        raise DataError(
            f"Cannot write '{path}': unknown extension. Expected one of: "
            + ", ".join(NIBABEL_EXTENSIONS + SITK_EXTENSIONS)
            + "."
        )
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=temp_prefix("tmp"), dir=folder)
    except OSError as error:
        raise output_error(path, error) from error
    try:
        staged = os.path.join(staging, os.path.basename(path))
        try:
            if ext in NIBABEL_EXTENSIONS:
                if ext in (".mgz", ".mgh"):
                    nib.save(nib.MGHImage(data, affine), staged)
                elif ext in (".hdr", ".img", ".img.gz"):
                    nib.save(nib.Nifti1Pair(data, affine, dtype=out_dtype), staged)
                else:
                    nib.save(_nifti_image(data, affine, header, out_dtype), staged)
            else:
                from voxflow.io import sitk_io  # noqa: PLC0415 - SimpleITK only for formats nibabel does not write

                sitk_io.write_sitk(staged, data, affine)
        except (ValueError, RuntimeError, TypeError) as error:
            raise DataError(f"Cannot write '{path}': {_describe(error)}") from error
        # Companion files (.img/.raw) first, the named file last, each with os.replace.
        produced = sorted(os.listdir(staging), key=lambda n: n == os.path.basename(path))
        for name in produced:
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
    except OSError as error:  # a full disk, no permission: name the output, not the staging folder
        raise output_error(path, error) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)

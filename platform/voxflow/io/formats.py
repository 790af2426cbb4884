"""File formats voxflow reads and writes: extensions, DICOM series folders, output dtypes."""

from __future__ import annotations

import os

import numpy as np

#: Extensions read and written with nibabel (longest first so ``.nii.gz`` wins over ``.gz``).
NIBABEL_EXTENSIONS: tuple[str, ...] = (".nii.gz", ".img.gz", ".nii", ".hdr", ".img", ".mgz", ".mgh")

#: Extensions read and written with SimpleITK.
SITK_EXTENSIONS: tuple[str, ...] = (
    ".nrrd",
    ".nhdr",
    ".mha",
    ".mhd",
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".bmp",
    ".dcm",
)

#: Every image file extension voxflow recognises.
IMAGE_EXTENSIONS: tuple[str, ...] = tuple(
    sorted(NIBABEL_EXTENSIONS + SITK_EXTENSIONS, key=len, reverse=True)
)

#: SimpleITK formats that only hold 2-D images.
TWO_D_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp")

_DICOM_PROBE_FILES = 3


def split_extension(path: str | os.PathLike) -> tuple[str, str]:
    """Splits a file name into its stem and its (possibly double) image extension.

    Args:
        path: a file path or name.

    Returns:
        ``(stem, extension)`` where ``extension`` is lower-case and one of
        :data:`IMAGE_EXTENSIONS`, or ``""`` when the name has no known image extension
        (then ``stem`` is the whole base name).

    Example:
        >>> split_extension("/data/sub01_T1.nii.gz")
        ('sub01_T1', '.nii.gz')
    """
    name = os.path.basename(os.fspath(path).rstrip("/\\"))
    lower = name.lower()
    for ext in IMAGE_EXTENSIONS:
        if lower.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)], ext
    return name, ""


def is_image_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a file with a recognised image extension."""
    return split_extension(path)[1] != ""


def is_dicom_series_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding DICOM files (checks a few files only).

    A file counts as DICOM when it ends in ``.dcm`` or carries the ``DICM`` magic at byte 128.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        return False
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return False
    probed = 0
    for name in names:
        full = os.path.join(path, name)
        if not os.path.isfile(full):
            continue
        if name.lower().endswith(".dcm"):
            return True
        try:
            with open(full, "rb") as handle:
                handle.seek(128)
                if handle.read(4) == b"DICM":
                    return True
        except OSError:
            pass
        probed += 1
        if probed >= _DICOM_PROBE_FILES:
            break
    return False


def smallest_int_dtype(data: np.ndarray) -> np.dtype:
    """The smallest of uint8, int16, int32 that holds every value of an integer array.

    Args:
        data: an integer or boolean array (may be empty).

    Returns:
        ``uint8`` when values fit in 0..255, else ``int16`` when they fit, else ``int32``.

    Raises:
        ValueError: values outside the int32 range.
    """
    if data.size == 0 or data.dtype == bool:
        return np.dtype(np.uint8)
    lo, hi = int(data.min()), int(data.max())
    for candidate in (np.uint8, np.int16, np.int32):
        info = np.iinfo(candidate)
        if info.min <= lo and hi <= info.max:
            return np.dtype(candidate)
    raise ValueError(f"Integer values {lo}..{hi} do not fit in int32.")

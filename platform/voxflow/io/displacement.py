"""Displacement fields as NIfTI vector images that ITK, ANTs and SimpleITK read as transforms.

A field is written as a 5-D NIfTI ``(X, Y, Z, 1, 3)`` float32 with intent ``NIFTI_INTENT_DISPVECT``
(1006) on its image's grid and affine. Vector ``u(x)`` at voxel ``x`` (world point ``p``) is in
**millimetres along the world RAS+ axes**: the fixed image's point ``p`` corresponds to the moving
image's point ``p + u``. ITK reads such a file (``itk.imread``, ``sitk.ReadImage``) as a vector
image whose vectors it converts to its LPS convention (the first two components negated), so
``sitk.DisplacementFieldTransform`` of it maps fixed points to moving points, which is what
``sitk.Resample`` of the moving image on the fixed grid needs (checked in the tests). A 2-D field
is written with ``Z = 1`` and its third component 0.
"""

from __future__ import annotations

import numpy as np

from voxflow.atomic import atomic_path
from voxflow.errors import DataError

NIFTI_INTENT_DISPVECT = 1006


def write_displacement(path: str, field: np.ndarray, affine: np.ndarray) -> None:
    """Write ``field`` ``(X, Y, Z, 3)`` (world mm, RAS+) atomically as described in the module docstring."""
    import nibabel as nib  # noqa: PLC0415

    field = np.asarray(field, np.float32)
    if field.ndim != 4 or field.shape[-1] != 3:
        raise ValueError(f"a displacement field is (X, Y, Z, 3); got {field.shape}")
    image = nib.Nifti1Image(field[:, :, :, None, :], np.asarray(affine, np.float64))
    image.header.set_intent(NIFTI_INTENT_DISPVECT)
    image.header.set_xyzt_units("mm")
    image.set_qform(np.asarray(affine, np.float64), code=1)
    image.set_sform(np.asarray(affine, np.float64), code=1)
    with atomic_path(path, suffix=".nii.gz") as tmp:
        nib.save(image, tmp)


def read_displacement(path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(field (X, Y, Z, 3) world mm RAS+, affine)`` of a file written by :func:`write_displacement`
    (or any NIfTI whose last axis holds the three components).

    Raises:
        DataError: the file is not a 3-component field.
    """
    import nibabel as nib  # noqa: PLC0415

    try:
        image = nib.load(path)
        data = np.asarray(image.dataobj, np.float32)
    except Exception as err:  # nibabel raises several types for unreadable files
        raise DataError(f"Cannot read displacement field '{path}': {err}.") from err
    if data.ndim == 5 and data.shape[3] == 1:
        data = data[:, :, :, 0]
    if data.ndim != 4 or data.shape[-1] != 3:
        raise DataError(f"Displacement field '{path}' has shape {data.shape}; expected (X, Y, Z, 1, 3) or (X, Y, Z, 3).")
    return data, np.asarray(image.affine, np.float64)

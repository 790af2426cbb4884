"""Image input/output with geometry: nibabel for NIfTI, SimpleITK for the other formats.

Public API: :func:`read_image`, :func:`write_image`, :class:`Image`, :class:`ImageHeader`,
and helpers about file names (:func:`split_extension`, :func:`is_image_file`,
:func:`is_dicom_series_dir`, :data:`IMAGE_EXTENSIONS`).
"""

from voxflow.io.formats import (
    IMAGE_EXTENSIONS,
    is_dicom_series_dir,
    is_image_file,
    smallest_int_dtype,
    split_extension,
)
from voxflow.io.image_io import Image, ImageHeader, read_image, write_image

__all__ = [
    "IMAGE_EXTENSIONS",
    "Image",
    "ImageHeader",
    "is_dicom_series_dir",
    "is_image_file",
    "read_image",
    "smallest_int_dtype",
    "split_extension",
    "write_image",
]

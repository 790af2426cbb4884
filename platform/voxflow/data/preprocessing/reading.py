"""Reading the files of one subject for preprocessing, with the checks that name the culprit."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voxflow.errors import DataError
from voxflow.io.image_io import ImageHeader, read_image

GRID_TOLERANCE_MM = 1e-3
INTEGER_TOLERANCE = 1e-3
_SHOW = 8


@dataclass
class LoadedVolume:
    """One file of a subject as ``(X, Y, Z, C)`` float32, with its geometry."""

    section: str
    path: str
    data: np.ndarray
    affine: np.ndarray
    header: ImageHeader


def _few(values: Sequence) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:_SHOW])
    return "[" + shown + (f", ... ({len(values)} values)" if len(values) > _SHOW else "") + "]"


class ChannelCounts:
    """The channels of the first file read for each input section: every later file must match.

    Without it, a 4-D file among 3-D ones reaches the sampler, which can only say "Volume 3, role
    'image': 2 channels"; this names both files. Safe to share between loading threads.
    """

    def __init__(self) -> None:
        self._first: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def check(self, volume: LoadedVolume) -> None:
        """Remember ``volume``'s channels if it is its section's first file, else compare.

        Raises:
            DataError: naming the file, its section and channels, and the section's first file.
        """
        channels = int(volume.data.shape[-1])
        with self._lock:
            first_channels, first_path = self._first.setdefault(volume.section, (channels, volume.path))
        if channels != first_channels:
            raise DataError(
                f"Image '{volume.path}' of [{volume.section}] has {channels} channel(s) but "
                f"'{first_path}' of the same section has {first_channels}; every file of an input "
                "section must have the same number of channels (volumes along a 4-D file's fourth axis)."
            )


def read_volume(path: str, section: str, loader: str | None = None,
                channels: ChannelCounts | None = None) -> LoadedVolume:
    """Reads a file as ``(X, Y, Z, C)`` float32 and rejects NaN/Inf values.

    Args:
        path: the file (or DICOM folder).
        section: its input section, for messages.
        loader: ``None`` (by extension), ``"nibabel"`` or ``"simpleitk"``.
        channels: if given, the file's channels must match its section's other files.

    Raises:
        DataError: unreadable file, NaN/Inf voxels, or channels unlike the section's other files
            (naming the file).
    """
    image = read_image(path, loader=loader)
    data = image.data if image.data.ndim == 4 else image.data[..., np.newaxis]
    data = data.astype(np.float32, copy=False)
    if not np.all(np.isfinite(data)):
        count = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
        raise DataError(
            f"Image '{path}' of [{section}] contains {count} NaN/Inf voxel(s); expected finite "
            "values only."
        )
    volume = LoadedVolume(section, path, data, image.affine, image.header)
    if channels is not None:
        channels.check(volume)
    return volume


def check_same_grid(volumes: Sequence[LoadedVolume], subject_id: str) -> None:
    """All volumes of a subject must share spatial shape and affine (1e-3 mm).

    Raises:
        DataError: naming the first file and the file that differs.
    """
    first = volumes[0]
    for other in volumes[1:]:
        if other.data.shape[:3] != first.data.shape[:3]:
            raise DataError(
                f"Files of subject '{subject_id}' do not share one voxel grid: '{first.path}' "
                f"([{first.section}]) has shape {first.data.shape[:3]} but '{other.path}' "
                f"([{other.section}]) has shape {other.data.shape[:3]}."
            )
        difference = float(np.max(np.abs(other.affine - first.affine)))
        if difference > GRID_TOLERANCE_MM:
            raise DataError(
                f"Files of subject '{subject_id}' do not share one voxel grid: the affines of "
                f"'{first.path}' ([{first.section}]) and '{other.path}' ([{other.section}]) "
                f"differ by up to {difference:.4g} mm (tolerance {GRID_TOLERANCE_MM} mm): "
                f"{np.round(first.affine[:3], 4).tolist()} vs "
                f"{np.round(other.affine[:3], 4).tolist()}."
            )


def integer_labels(volume: LoadedVolume, subject_id: str) -> np.ndarray:
    """The label data rounded to integers.

    Raises:
        DataError: a value further than 1e-3 from an integer (naming subject and file).
    """
    rounded = np.rint(volume.data)
    off = np.abs(volume.data - rounded) > INTEGER_TOLERANCE
    if np.any(off):
        bad = np.unique(volume.data[off])
        raise DataError(
            f"Label file '{volume.path}' of subject '{subject_id}' ([{volume.section}]) holds "
            f"non-integer values {_few(bad.tolist())}; expected integer labels."
        )
    return rounded.astype(np.float32)


def check_label_range(
    labels: np.ndarray, volume: LoadedVolume, subject_id: str, num_classes: int
) -> None:
    """Without label normalisation labels must lie in ``0 .. num_classes - 1``.

    Raises:
        DataError: naming subject, file, offending values and ``num_classes``.
    """
    values = np.unique(labels)
    bad = values[(values < 0) | (values >= num_classes)]
    if bad.size:
        raise DataError(
            f"Label file '{volume.path}' of subject '{subject_id}' holds values "
            f"{_few(bad.tolist())} outside 0..{num_classes - 1} (num_classes = {num_classes}); "
            "fix num_classes or set label_normalisation = True to map the label values."
        )


def is_integer_valued(data: np.ndarray) -> bool:
    """Whether every value is within 1e-3 of an integer (weight/sampler maps)."""
    return bool(np.all(np.abs(data - np.rint(data)) <= INTEGER_TOLERANCE))

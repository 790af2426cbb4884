"""NiftyNet's CSV patch sampler: windows centred on locations listed per subject in a CSV file.

The file (``window_centres_file`` in the application section) has rows ``subject_id,x,y,z``: a
window centre in voxel indices (from 0) of the subject's first image file, the file that gives the
subject's grid, as a viewer shows them. A subject may have many rows; each window of a subject is
centred on one of its rows, drawn uniformly. Centres are mapped to the preprocessed volume through
world coordinates (reorientation, resampling and padding undone exactly, then rounded to the
nearest voxel), so they stay right whatever ``axcodes``, ``pixdim`` and ``volume_padding_size`` say.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.config.values import clip, clip_repr
from voxflow.data.samplers.base import CroppingSampler, SamplerError, uniform_index
from voxflow.errors import ConfigError
from voxflow.naming import closest
from voxflow.roles import Kind

log = logging.getLogger(__name__)

#: The application-section key naming the file.
CENTRES_KEY = "window_centres_file"
_ROW = "'subject_id,x,y,z' (a window centre in voxels of the subject's first image file)"


def read_window_centres(path: str) -> dict[str, list[tuple[int, np.ndarray]]]:
    """The rows of a window-centres CSV: ``{subject_id: [(line, (x, y, z) float64), ...]}``.

    Blank lines and lines starting with ``#`` are skipped; a first row whose coordinates are not
    numbers is a header.

    Raises:
        SamplerError: the file cannot be read, a row is not ``subject_id,x,y,z`` with finite
            numbers, or it lists no centre (one line naming the file and the line).
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [(line, [cell.strip() for cell in row]) for line, row in enumerate(csv.reader(handle), start=1)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        what = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise SamplerError(f"Cannot read {CENTRES_KEY} '{path}': {clip(what)}. Expected UTF-8 text with "
                           f"{_ROW} rows.") from None
    rows = [(line, row) for line, row in rows if any(row) and not row[0].startswith("#")]
    table: dict[str, list[tuple[int, np.ndarray]]] = {}
    for index, (line, row) in enumerate(rows):
        try:
            centre = np.array([float(cell) for cell in row[1:]], np.float64)
        except ValueError:
            if index == 0:
                continue  # a header: 'subject_id,x,y,z'
            centre = np.zeros(0)
        if len(row) != 4 or not row[0] or centre.size != 3 or not np.all(np.isfinite(centre)):
            raise SamplerError(f"Invalid row {line} in {CENTRES_KEY} '{path}': expected {_ROW} with finite numbers. "
                               f"Received: {clip_repr(','.join(row))}.")
        table.setdefault(row[0], []).append((line, centre))
    if not table:
        raise SamplerError(f"{CENTRES_KEY} '{path}' lists no window centre. Expected {_ROW} rows.")
    return table


def file_to_grid(geometry: Any) -> np.ndarray:
    """The 4×4 map from voxel indices of a subject's first image file to its preprocessed grid."""
    return np.linalg.inv(np.asarray(geometry.preprocessed_affine, np.float64)) @ np.asarray(geometry.affine, np.float64)


class CSVLocationSampler(CroppingSampler):
    """Windows centred on locations listed per subject in a CSV (``window_sampling = patch``).

    The window centred on voxel ``c`` starts at ``c - w // 2`` (the convention of every voxflow
    sampler). Each window of a volume is centred on one of its subject's rows, drawn uniformly with
    the stateless key, so a seeded stream repeats. Every sampled subject needs at least one row;
    rows of other subjects (validation, inference) are left for their samplers. Other arguments are
    those of :class:`~voxflow.data.samplers.base.WindowSampler`.

    ≠NiftyNet: NiftyNet read the centres from the ``csv_data_file`` of a ``sampler`` input section;
    voxflow's ``csv_data_file`` holds one row of values per subject, so the centres have their own
    key, ``window_centres_file`` (NiftyNet's form is read as it, with a notice). A row whose window
    would leave the volume is not sampled, with one warning per file (NiftyNet's default,
    ``remove``); a subject none of whose rows fits is an error naming the line and the padding that
    would let it fit.

    Args:
        centres_file: the CSV of ``subject_id,x,y,z`` rows.
        subjects: the volumes' subjects, in order: objects with ``id`` and ``geometry`` (a
            :class:`~voxflow.data.preprocessing.geometry.VolumeGeometry`), as the window builder
            passes them for volumes held in memory.

    Raises:
        SamplerError: no subjects given, an unreadable or malformed file, a subject without a row,
            or a centre whose window leaves the volume (one line naming the file and line).

    Example:
        >>> sampler = CSVLocationSampler([vol.arrays for vol in loaded], (32, 32, 32), seed=0,
        ...                              centres_file="lesions.csv", subjects=loaded)
    """

    #: The window builder passes ``subjects``: this sampler needs each volume's id and grid.
    takes_subjects = True

    def __init__(self, volumes: Sequence[Mapping[str, np.ndarray]], window_shape: tuple[int, int, int],
                 windows_per_volume: int = 1, shuffle_buffer: int = 5, num_parallel_calls: int = 2,
                 seed: int | None = None, kinds: Mapping[str, Kind] | None = None, sampling_role: str = "sampler",
                 groups: Mapping[str, str] | None = None, *, centres_file: str,
                 subjects: Sequence[Any] | None = None) -> None:
        self.centres_file = str(centres_file)
        if subjects is None:
            raise SamplerError(
                f"The patch sampler ({CENTRES_KEY} '{self.centres_file}') needs each volume's subject to find its "
                "rows; voxflow passes them only for volumes held in memory. Raise [SYSTEM] cache_size_mb above the "
                "size of the data, or set it to 0.")
        if len(subjects) != len(volumes):
            raise SamplerError(f"The patch sampler got {len(subjects)} subjects for {len(volumes)} volumes. "
                               "Expected one subject per volume.")
        self.subjects = list(subjects)
        self.centres = read_window_centres(self.centres_file)
        super().__init__(volumes, window_shape, windows_per_volume, shuffle_buffer, num_parallel_calls, seed,
                         kinds, sampling_role, groups)

    @classmethod
    def config_kwargs(cls, cfg: Any) -> dict[str, Any]:
        """``centres_file`` from the application section's ``window_centres_file``.

        Raises:
            ConfigError: the section has no such key, or it is not set.
        """
        app = cfg.app
        if CENTRES_KEY not in app or not app[CENTRES_KEY]:
            raise ConfigError(
                f"window_sampling = patch in [NETWORK] of {cfg.path} needs `{CENTRES_KEY}` in [{app.section_name}]: "
                f"a CSV of {_ROW} rows. Received: none.")
        return {"centres_file": app[CENTRES_KEY]}

    def _prepare_draws(self, volumes: list[dict[str, np.ndarray]]) -> None:
        starts, first, count, skipped = [], [], [], []
        for index, subject in enumerate(self.subjects):
            rows = self._rows_of(str(subject.id), index)
            to_grid = file_to_grid(subject.geometry)
            found = [(line, self._start(line, centre, to_grid, index, len(rows) == 1)) for line, centre in rows]
            kept = [start for _, start in found if start is not None]
            skipped.extend(line for line, start in found if start is None)
            if not kept:  # every row's window leaves the volume: the first one says how to fix it
                line, centre = rows[0]
                self._start(line, centre, to_grid, index, True)
            first.append(sum(count))
            count.append(len(kept))
            starts.extend(kept)
        if skipped:
            log.warning("%s '%s': %d row(s) whose window leaves the volume are not sampled (NiftyNet's "
                        "`remove`), e.g. line %d; pad the volumes ([NETWORK] volume_padding_size) to keep them.",
                        CENTRES_KEY, self.centres_file, len(skipped), skipped[0])
        self._starts = tf.constant(np.array(starts, np.int64).reshape(-1, 3))
        self._first = tf.constant(first, tf.int64)
        self._count = tf.constant(count, tf.int64)

    def _rows_of(self, subject_id: str, index: int) -> list[tuple[int, np.ndarray]]:
        if subject_id in self.centres:
            return self.centres[subject_id]
        sampled = {str(subject.id) for subject in self.subjects}
        near = closest(subject_id, [name for name in self.centres if name not in sampled])
        hint = f" Line {self.centres[near][0][0]} names '{clip(near)}': a typo?" if near else ""
        raise SamplerError(f"{CENTRES_KEY} '{self.centres_file}' has no row for subject '{clip(subject_id)}' "
                           f"(volume {index}). Expected at least one '{clip(subject_id)},x,y,z' row for every "
                           f"training and validation subject.{hint}")

    def _start(self, line: int, centre: np.ndarray, to_grid: np.ndarray, index: int,
               required: bool) -> np.ndarray | None:
        """The window start of one row; None when its window leaves the volume, an error when the row is
        ``required`` (the subject's only row, or none of its rows fits)."""
        voxel = np.rint(to_grid[:3, :3] @ centre + to_grid[:3, 3]).astype(np.int64)
        window = np.array(self.window_shape, np.int64)
        start = voxel - window // 2
        shape = np.array(self.volume_shapes[index], np.int64)
        short = np.maximum(np.maximum(-start, start + window - shape), 0)
        if short.any() and not required:
            return None
        if short.any():
            raise SamplerError(
                f"Row {line} of {CENTRES_KEY} '{self.centres_file}': the window {self.window_shape} centred at "
                f"({', '.join(f'{c:g}' for c in centre)}) (voxel {_ints(voxel)} of the preprocessed volume of subject "
                f"'{clip(str(self.subjects[index].id))}', shape {_ints(shape)}) leaves the volume. Expected centres at "
                f"least half a window from the border; pad the volumes by {_ints(short)} more voxels ([NETWORK] "
                "volume_padding_size) or move the centre.")
        return start

    def _draw_start(self, volume_index: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        row = self._first[volume_index] + uniform_index(key, self._count[volume_index])
        return self._starts[row]


def _ints(values: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in values)

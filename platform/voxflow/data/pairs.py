"""Image pairs for registration: which fixed image each moving image is registered to, on one grid.

**Forming pairs** (``[REGISTRATION] pairing``), from the subjects of the fixed sections and of the
moving sections:

===========  ===================================================================================
``subject``  each subject's moving image to its own fixed image (paired data: MR to ultrasound of
             one patient; NiftyNet's pairing by subject)
``all``      every ordered pair of two different subjects (inter-subject registration); training
             visits them in a new random order each epoch
``random``   as ``all``, but training draws a random pair at every step
``csv``      the pairs listed in ``pairs_file`` (columns ``fixed`` and ``moving``: subject ids)
``atlas``    the one subject of the fixed sections (an atlas or template) as the fixed image of
             every moving subject
===========  ===================================================================================

A pair belongs to the part of the data split (training, validation, inference) of its moving
subject; ``all`` and ``random`` pairs need both subjects in that part. A pair is named
``<moving>_to_<fixed>`` (``<subject>`` with ``subject`` pairing) in outputs.

**One grid.** Each side is preprocessed on its own (``axcodes``, ``pixdim``, whitening: the fixed
and moving roles are two groups, :mod:`voxflow.roles`), then the moving side is resampled onto the
fixed side's preprocessed grid through the two images' affines — voxel ``x`` of the fixed grid
takes the moving image at the world point ``A_fixed · x`` (linear for images, nearest for labels,
the edge voxel beyond the moving image's extent). Nothing assumes that the two images share voxel
indices; when their grids are the same, nothing is resampled.
"""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from voxflow.errors import ConfigError, DataError
from voxflow.roles import Kind

PAIRINGS = ("subject", "all", "random", "csv", "atlas")


@dataclass(frozen=True)
class Pair:
    """A moving subject registered to a fixed subject (:class:`~voxflow.data.subjects.Subject` each)."""

    fixed: Any
    moving: Any
    name: str


def pair_name(fixed_id: str, moving_id: str, pairing: str) -> str:
    """``<subject>`` for ``subject`` pairing, else ``<moving>_to_<fixed>``."""
    return moving_id if pairing == "subject" else f"{moving_id}_to_{fixed_id}"


def read_pairs_file(path: str) -> list[tuple[str, str]]:
    """``(fixed id, moving id)`` rows of a pairs CSV with columns ``fixed`` and ``moving``.

    Raises:
        ConfigError: a missing file or column, or an empty list.
    """
    if not path or not os.path.isfile(path):
        raise ConfigError(f"[REGISTRATION] pairing = csv needs `pairs_file`: a CSV with columns fixed,moving. "
                          f"Received: {path!r} (no such file).")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "fixed" not in columns or "moving" not in columns:
            raise ConfigError(f"Pairs file '{path}' ([REGISTRATION] pairs_file) needs the columns fixed,moving; "
                              f"found {', '.join(columns) or 'none'}.")
        rows = [((row.get("fixed") or "").strip(), (row.get("moving") or "").strip()) for row in reader]
    rows = [row for row in rows if row[0] and row[1]]
    if not rows:
        raise ConfigError(f"Pairs file '{path}' ([REGISTRATION] pairs_file) lists no pair.")
    return rows


def form_pairs(fixed: Sequence[Any], moving: Sequence[Any], pairing: str, allowed: Sequence[str] | None = None,
               pairs_file: str = "") -> list[Pair]:
    """The pairs of ``pairing`` (see the module docstring) among the subjects of one part of the split.

    Args:
        fixed, moving: the subjects found for the fixed and for the moving sections.
        pairing: one of :data:`PAIRINGS`.
        allowed: the subject ids of this part of the split (None: every subject).
        pairs_file: the CSV of ``csv`` pairing.

    Raises:
        ConfigError: an unknown pairing, an atlas that is not one subject, a pairs file naming
            subjects that have no files.
    """
    keep = set(allowed) if allowed is not None else None
    by_fixed = {s.id: s for s in fixed}
    by_moving = {s.id: s for s in moving}

    def kept(*ids: str) -> bool:
        return keep is None or all(i in keep for i in ids)

    if pairing == "subject":
        ids = [i for i in by_moving if i in by_fixed and kept(i)]
        return [Pair(by_fixed[i], by_moving[i], pair_name(i, i, pairing)) for i in ids]
    if pairing in ("all", "random"):
        ids = [i for i in by_moving if i in by_fixed and kept(i)]
        return [Pair(by_fixed[f], by_moving[m], pair_name(f, m, pairing)) for m, f in itertools.permutations(ids, 2)]
    if pairing == "atlas":
        if len(by_fixed) != 1:
            raise ConfigError(f"[REGISTRATION] pairing = atlas needs exactly one subject in the fixed sections; "
                              f"found {len(by_fixed)}: {', '.join(sorted(by_fixed)[:5])}.")
        atlas = next(iter(by_fixed.values()))
        return [Pair(atlas, s, pair_name(atlas.id, s.id, pairing)) for i, s in by_moving.items() if kept(i)]
    if pairing == "csv":
        pairs = []
        for fixed_id, moving_id in read_pairs_file(pairs_file):
            for side, table, subject_id in (("fixed", by_fixed, fixed_id), ("moving", by_moving, moving_id)):
                if subject_id not in table:
                    raise ConfigError(f"Pairs file '{pairs_file}' names {side} subject '{subject_id}', which has no "
                                      f"file in the {side} sections.")
            if kept(moving_id):
                pairs.append(Pair(by_fixed[fixed_id], by_moving[moving_id], pair_name(fixed_id, moving_id, pairing)))
        return pairs
    raise ConfigError(f"Invalid value for `pairing` in [REGISTRATION]. Expected one of: {', '.join(PAIRINGS)}. "
                      f"Received: {pairing!r}.")


def voxel_map(fixed_affine: np.ndarray, moving_affine: np.ndarray) -> np.ndarray:
    """The 4×4 map from fixed voxel indices to moving voxel indices through world space."""
    return np.linalg.inv(np.asarray(moving_affine, np.float64)) @ np.asarray(fixed_affine, np.float64)


def resample_onto(array: np.ndarray, matrix: np.ndarray, shape: Sequence[int], order: int) -> np.ndarray:
    """``array`` ``(X, Y, Z, C)`` sampled at ``matrix @ x`` for every voxel ``x`` of a ``shape`` grid
    (edge voxels beyond the array's extent)."""
    out = np.empty((*tuple(int(s) for s in shape), array.shape[-1]), np.float32)
    for channel in range(array.shape[-1]):
        out[..., channel] = ndimage.affine_transform(array[..., channel], matrix[:3, :3], matrix[:3, 3],
                                                     output_shape=tuple(int(s) for s in shape), order=order,
                                                     mode="nearest")
    return out


def same_grid(shape_a: Sequence[int], affine_a: np.ndarray, shape_b: Sequence[int], affine_b: np.ndarray) -> bool:
    """Whether two grids are one (shapes equal, affines equal to 1e-4 mm)."""
    return tuple(shape_a) == tuple(shape_b) and np.allclose(affine_a, affine_b, atol=1e-4)


class PairLoader:
    """Loads pairs on the fixed image's preprocessed grid (see the module docstring).

    Args:
        fixed_pre, moving_pre: the :class:`~voxflow.data.preprocessing.pipeline.Preprocessor` of each side.
        kinds: ``{role: kind}`` of the roles (labels are resampled by nearest neighbour).
        moving_roles: the roles of the moving side.
        cache: keep every preprocessed subject in memory (training visits them again and again).
    """

    def __init__(self, fixed_pre: Any, moving_pre: Any, kinds: dict[str, Kind], moving_roles: Sequence[str],
                 cache: bool = True) -> None:
        self.fixed_pre, self.moving_pre = fixed_pre, moving_pre
        self.kinds, self.moving_roles = kinds, tuple(moving_roles)
        self.cache = cache
        self._loaded: dict[tuple[str, str], Any] = {}

    def side(self, which: str, subject: Any) -> Any:
        """The preprocessed subject of one side (``fixed`` or ``moving``), cached."""
        key = (which, subject.id)
        if key in self._loaded:
            return self._loaded[key]
        loaded = (self.fixed_pre if which == "fixed" else self.moving_pre).load(subject)
        if self.cache:
            self._loaded[key] = loaded
        return loaded

    def load(self, pair: Pair) -> tuple[dict[str, np.ndarray], Any, Any]:
        """``(arrays, fixed, moving)``: every role on the fixed preprocessed grid, and each side's
        :class:`~voxflow.data.preprocessing.pipeline.PreprocessedSubject`."""
        fixed = self.side("fixed", pair.fixed)
        moving = self.side("moving", pair.moving)
        grid, shape = fixed.geometry.preprocessed_affine, fixed.geometry.preprocessed_shape
        arrays = dict(fixed.arrays)
        source = moving.geometry
        resample = not same_grid(shape, grid, source.preprocessed_shape, source.preprocessed_affine)
        matrix = voxel_map(grid, source.preprocessed_affine)
        for role in self.moving_roles:
            array = moving.arrays[role]
            if resample:
                array = resample_onto(array, matrix, shape, 0 if self.kinds[role] is Kind.LABEL else 1)
            arrays[role] = array
        return arrays, fixed, moving


def check_pairs(pairs: Sequence[Pair], action: str) -> None:
    """Raise ``DataError`` when an action has no pair to work on."""
    if not pairs:
        raise DataError(f"No image pair to {'train on' if action == 'train' else 'register'}: check the fixed and "
                        "moving sections, `pairing` in [REGISTRATION] and the data split.")

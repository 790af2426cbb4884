"""The data fingerprint: what the planner needs to know about a labelled dataset.

:func:`compute_fingerprint` reads every case once (voxflow's reader, so every supported format
works) and records:

* per case: the voxel spacing in mm (the lengths of the affine's columns, in the array's axis
  order, which is voxflow's axis order), the shape, and the size (voxels) of the bounding box of
  the foreground (label > 0);
* per image channel: intensity statistics of the foreground voxels, computed (as nnU-Net does)
  from a sample of :data:`SAMPLES_PER_CASE` foreground voxels per case drawn *with replacement*
  under a fixed seed, so that small cases weigh as much as large ones, a run takes seconds and two
  runs give the same numbers: mean, std, min, max, median, the 0.5 and 99.5 percentiles, and the
  mean and std after clipping to those percentiles (used by the CT normalisation);
* the class frequencies: voxels per label value over all cases (exact, not sampled);
* the fraction of each case's volume inside the bounding box of its non-zero image voxels
  (nnU-Net's "relative size after cropping"; small for skull-stripped or masked images);
* per case, the array axis closest to the patient's left-right direction (world x of the affine,
  RAS): the axis across which anatomy is mirror-symmetric, so the one mirroring keeps anatomical.

A channel is **CT-like** (:data:`CT_RULE`) when every voxel of it, in every case, is an integer
(Hounsfield units are stored as integers), its darkest voxel is at or below -500 HU in at least half
of the cases (air around the body, about -1000 HU, or the scanner's padding value), no voxel is
below -3124 (-3024, the lowest padding value scanners write, minus a 100 HU margin) and the
foreground's 99.5 percentile is at most 3171 (the 12-bit HU ceiling 3071 plus the margin). MR
images are non-negative, so they never pass. The detection can be overridden with ``ct_channels``.

Example:
    >>> cases = cases_from_config(cfg, ["CT"], "label")          # doctest: +SKIP
    >>> fp = compute_fingerprint(cases, image_sections=["CT"], label_section="label")  # doctest: +SKIP
    >>> save_fingerprint(fp, "model/fingerprint.json")           # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from voxflow.atomic import atomic_write_text
from voxflow.data.preprocessing.reading import check_same_grid, integer_labels, is_integer_valued, read_volume
from voxflow.data.splits import split_subjects
from voxflow.data.subjects import list_section_files
from voxflow.errors import DataError

logger = logging.getLogger(__name__)

#: Foreground voxels sampled per case for the intensity statistics (nnU-Net v1's number).
SAMPLES_PER_CASE = 10_000
#: Seed of the foreground sampling (nnU-Net's); case ``i`` draws from ``default_rng([seed, i])``.
SEED = 1234
#: Percentiles of the foreground used for clipping (nnU-Net's CT normalisation).
CLIP_PERCENTILES = (0.5, 99.5)
#: Version of the JSON layout written by :meth:`Fingerprint.to_json`.
FORMAT_VERSION = 1
CT_DARKEST_AT_MOST = -500.0
CT_LOWEST_ALLOWED = -3024.0 - 100.0
CT_HIGHEST_P995 = 3071.0 + 100.0
CT_RULE = ("integer voxels; darkest voxel <= -500 in at least half of the cases; no voxel < -3124; "
           "foreground 99.5 percentile <= 3171")


class Case(NamedTuple):
    """One labelled case: its id, one image file per input section (channel order), its label file."""

    subject_id: str
    images: Sequence[str]
    label: str


@dataclass
class ChannelStats:
    """Foreground intensity statistics of one image channel over the whole dataset.

    Attributes:
        section: the input section the channel comes from ("" when unknown).
        mean, std, minimum, maximum, median, p00_5, p99_5: statistics of the sampled foreground.
        clipped_mean, clipped_std: mean and std of the samples clipped to ``[p00_5, p99_5]``.
        ct_like: whether the channel is treated as CT (see :data:`CT_RULE`).
        ct_reason: why (or why not), one line.
    """

    section: str
    mean: float
    std: float
    minimum: float
    maximum: float
    median: float
    p00_5: float
    p99_5: float
    clipped_mean: float
    clipped_std: float
    ct_like: bool
    ct_reason: str


@dataclass
class Fingerprint:
    """What :func:`compute_fingerprint` found; every list has one entry per case, in case order.

    Attributes:
        subject_ids: the case ids.
        spacings: voxel spacing (mm) per axis.
        shapes: voxels per spatial axis.
        foreground_boxes: size (voxels) of the foreground's bounding box per axis (zeros if empty).
        nonzero_fractions: fraction of the volume inside the bounding box of non-zero image voxels.
        channels: one :class:`ChannelStats` per image channel.
        class_voxels: voxel count per label value, over all cases.
        label_section: the label's input section ("" when unknown).
        samples_per_case, seed: how the foreground was sampled.
        left_right_axes: per case, the array axis closest to world x (left-right); empty in
            fingerprints written before it was recorded.
    """

    subject_ids: list[str]
    spacings: list[list[float]]
    shapes: list[list[int]]
    foreground_boxes: list[list[int]]
    nonzero_fractions: list[float]
    channels: list[ChannelStats]
    class_voxels: dict[int, int]
    label_section: str = ""
    samples_per_case: int = SAMPLES_PER_CASE
    seed: int = SEED
    version: int = field(default=FORMAT_VERSION)
    left_right_axes: list[int] = field(default_factory=list)

    @property
    def num_cases(self) -> int:
        """Number of cases."""
        return len(self.subject_ids)

    @property
    def label_values(self) -> list[int]:
        """The label values present, sorted."""
        return sorted(self.class_voxels)

    @property
    def num_classes(self) -> int:
        """Classes the network predicts: the number of label values (``label_normalisation`` maps
        values that are not ``0..K-1``)."""
        return len(self.label_values)

    @property
    def labels_contiguous(self) -> bool:
        """Whether the label values are exactly ``0, 1, ..., K-1``."""
        return self.label_values == list(range(len(self.label_values)))

    def to_json(self) -> str:
        """The fingerprint as indented JSON text."""
        data = dataclasses.asdict(self)
        data["class_voxels"] = {str(k): v for k, v in self.class_voxels.items()}
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "fingerprint") -> Fingerprint:
        """Reads what :meth:`to_json` wrote.

        Raises:
            DataError: not JSON, another format version, or missing/unknown fields (naming ``source``).
        """
        try:
            data = json.loads(text)
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"format version {data.get('version')!r}, expected {FORMAT_VERSION}")
            data["channels"] = [ChannelStats(**c) for c in data["channels"]]
            data["class_voxels"] = {int(k): int(v) for k, v in data["class_voxels"].items()}
            return cls(**data)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise DataError(f"Cannot read the fingerprint '{source}': {error}; expected the JSON "
                            "written by voxflow's compute_fingerprint.") from None


def save_fingerprint(fp: Fingerprint, path: str | os.PathLike) -> None:
    """Writes ``fp`` as JSON, atomically (a temporary file, then a rename)."""
    atomic_write_text(os.fspath(path), fp.to_json())


def load_fingerprint(path: str | os.PathLike) -> Fingerprint:
    """Reads a fingerprint written by :func:`save_fingerprint`.

    Raises:
        DataError: the file is missing, unreadable or not a fingerprint.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise DataError(f"Cannot read the fingerprint '{path}': {error.strerror or error}.") from None
    return Fingerprint.from_json(text, source=path)


def _spacing(affine: np.ndarray) -> list[float]:
    return [float(s) for s in np.linalg.norm(affine[:3, :3], axis=0)]


def left_right_axis(affine: np.ndarray) -> int:
    """The array axis whose direction is closest to world x (left-right in RAS)."""
    columns = np.asarray(affine, dtype=float)[:3, :3]
    return int(np.argmax(np.abs(columns[0]) / np.maximum(np.linalg.norm(columns, axis=0), 1e-12)))


def _box_size(mask: np.ndarray) -> list[int]:
    if not mask.any():
        return [0] * mask.ndim
    sizes = []
    for axis in range(mask.ndim):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        sizes.append(int(hits[-1] - hits[0] + 1))
    return sizes


class _ChannelScan:
    """Running evidence about one channel: sampled foreground values and the CT-rule facts."""

    def __init__(self) -> None:
        self.samples: list[np.ndarray] = []
        self.integer = True
        self.darkest: list[float] = []

    def add(self, channel: np.ndarray, picked: np.ndarray) -> None:
        self.samples.append(picked)
        self.darkest.append(float(channel.min()))
        self.integer = self.integer and is_integer_valued(channel)

    def stats(self, section: str, override: bool | None) -> ChannelStats:
        values = np.concatenate(self.samples) if self.samples else np.zeros(0, np.float32)
        if values.size == 0:
            raise DataError(f"No foreground voxel (label > 0) in any case for the channel of [{section or '?'}]; "
                            "expected labelled foreground to compute intensity statistics.")
        values = values.astype(np.float64)
        low, median, high = np.percentile(values, (CLIP_PERCENTILES[0], 50.0, CLIP_PERCENTILES[1]))
        clipped = np.clip(values, low, high)
        ct_like, reason = self._ct_rule(float(high))
        if override is not None:
            ct_like, reason = bool(override), f"set by the user (detection said: {reason})"
        return ChannelStats(section, float(values.mean()), float(values.std()), float(values.min()),
                            float(values.max()), float(median), float(low), float(high),
                            float(clipped.mean()), float(clipped.std()), ct_like, reason)

    def _ct_rule(self, p99_5: float) -> tuple[bool, str]:
        darkest = np.asarray(self.darkest)
        if not self.integer:
            return False, "non-integer voxels (CT stores integer HU)"
        if darkest.min() < CT_LOWEST_ALLOWED:
            return False, f"darkest voxel {darkest.min():g} < {CT_LOWEST_ALLOWED:g} (below any HU padding)"
        if p99_5 > CT_HIGHEST_P995:
            return False, f"foreground 99.5 percentile {p99_5:g} > {CT_HIGHEST_P995:g} (above the HU range)"
        dark_cases = int(np.sum(darkest <= CT_DARKEST_AT_MOST))
        if 2 * dark_cases < len(darkest):
            return False, f"only {dark_cases}/{len(darkest)} cases have voxels <= {CT_DARKEST_AT_MOST:g} (air)"
        return True, f"integer HU-range voxels, air (<= {CT_DARKEST_AT_MOST:g}) in {dark_cases}/{len(darkest)} cases"


def compute_fingerprint(
    cases: Sequence[Case],
    *,
    image_sections: Sequence[str] | None = None,
    label_section: str = "",
    ct_channels: Sequence[bool | None] | None = None,
    samples_per_case: int = SAMPLES_PER_CASE,
    seed: int = SEED,
) -> Fingerprint:
    """Reads every case once and summarises the dataset (see the module docstring).

    Args:
        cases: the labelled cases; every case has the same number of image files.
        image_sections: the input section of each image file (recorded for the renderer); a
            multi-channel (4-D) file gives its section to each of its channels.
        label_section: the label's input section (recorded for the renderer).
        ct_channels: per channel, ``True``/``False`` to force CT-like or not, ``None`` to detect.
        samples_per_case: foreground voxels sampled per case and channel.
        seed: seed of the sampling.

    Returns:
        The :class:`Fingerprint`.

    Raises:
        DataError: no case, an unreadable file, files of a case on different grids, non-integer
            labels, a different number of channels between cases, or no foreground at all.
    """
    if not cases:
        raise DataError("No labelled case to fingerprint; expected at least one (image files, label file) case.")
    scans: list[_ChannelScan] = []
    sections: list[str] = []
    spacings, shapes, boxes, nonzero, counts, left_right = [], [], [], [], {}, []
    for index, case in enumerate(cases):
        names = list(image_sections) if image_sections else [f"image{i}" for i in range(len(case.images))]
        if len(names) != len(case.images):
            raise DataError(f"Case '{case.subject_id}' has {len(case.images)} image file(s) for {len(names)} image "
                            f"section(s) {names}; expected one file per section.")
        volumes = [read_volume(path, name) for path, name in zip(case.images, names)]
        label_volume = read_volume(case.label, label_section or "label")
        check_same_grid([*volumes, label_volume], case.subject_id)
        labels = integer_labels(label_volume, case.subject_id)[..., 0]
        image = np.concatenate([v.data for v in volumes], axis=-1)
        if index == 0:
            sections = [v.section if image_sections else "" for v in volumes for _ in range(v.data.shape[-1])]
            scans = [_ChannelScan() for _ in range(image.shape[-1])]
        elif image.shape[-1] != len(scans):
            raise DataError(f"Case '{case.subject_id}' has {image.shape[-1]} image channel(s) but case "
                            f"'{cases[0].subject_id}' has {len(scans)}; expected the same channels in every case.")
        foreground = labels > 0
        where = np.flatnonzero(foreground)
        rng = np.random.default_rng([seed, index])
        picked = rng.choice(where, samples_per_case, replace=True) if where.size else where
        for channel, scan in enumerate(scans):
            data = image[..., channel]
            scan.add(data, data.reshape(-1)[picked])
        values, number = np.unique(labels.astype(np.int64), return_counts=True)
        for value, count in zip(values.tolist(), number.tolist()):
            counts[value] = counts.get(value, 0) + count
        spacings.append(_spacing(label_volume.affine))
        left_right.append(left_right_axis(label_volume.affine))
        shapes.append([int(s) for s in labels.shape])
        boxes.append(_box_size(foreground))
        nonzero_box = _box_size(np.any(image != 0, axis=-1))
        nonzero.append(float(np.prod(nonzero_box) / np.prod(labels.shape)))
    overrides = list(ct_channels) if ct_channels is not None else [None] * len(scans)
    if len(overrides) != len(scans):
        raise DataError(f"ct_channels gives {len(overrides)} value(s) for {len(scans)} image channel(s); "
                        "expected one per channel.")
    channels = [scan.stats(section, force) for scan, section, force in zip(scans, sections, overrides)]
    return Fingerprint([c.subject_id for c in cases], spacings, shapes, boxes, nonzero, channels,
                       dict(sorted(counts.items())), label_section, samples_per_case, seed,
                       left_right_axes=left_right)


def cases_from_config(cfg: Any, image_sections: Sequence[str], label_section: str) -> list[Case]:
    """The labelled training cases of a configuration.

    Every subject with a file in ``label_section`` is a case (subjects with images but no label,
    kept for inference, are skipped). When ``[SYSTEM] dataset_split_file`` exists only its
    ``training`` subjects are used (subjects it does not list count as inference ones); without it
    every labelled subject is used and no split file is written.

    Args:
        cfg: the loaded configuration.
        image_sections: the image input sections, in channel order.
        label_section: the label input section.

    Raises:
        ConfigError: a section is not defined.
        DataError: a labelled subject lacks an image file, or no labelled subject is found.
    """
    labels = list_section_files(cfg, label_section)
    per_section = {name: list_section_files(cfg, name) for name in image_sections}
    for name, files in per_section.items():
        missing = sorted(set(labels) - set(files))
        if missing:
            raise DataError(f"Subject '{missing[0]}' has a label in [{label_section}] ('{labels[missing[0]]}') "
                            f"but no file in [{name}] ({len(missing)} such subject(s)); expected an image per label.")
    ids = sorted(labels)
    split_file = cfg.system.dataset_split_file
    if split_file and os.path.isfile(split_file):
        ids = split_subjects(ids, cfg, action="evaluation")["training"]
    if not ids:
        raise DataError(f"No labelled training subject found for [{label_section}]; expected at least one.")
    return [Case(i, [per_section[name][i] for name in image_sections], labels[i]) for i in ids]

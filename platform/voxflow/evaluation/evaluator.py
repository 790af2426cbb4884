"""Evaluate subjects: chosen metrics per subject and per unit (label, foreground or component).

Units (``[SEGMENTATION] evaluation_units``):

- ``label``: each label value ``l`` binarised as ``map == l`` (default: every non-zero value).
- ``foreground``: one row, every non-zero voxel against background (LABEL ``foreground``).
- ``cc``: each connected component of the reference (full connectivity) against the union of the
  segmentation's components overlapping it (LABEL ``cc<n>``, numbered by ``scipy.ndimage.label``);
  unmatched segmentation components are rows ``fp<n>`` with an empty reference.

Example:
    >>> evaluator = Evaluator(["dice", "hausdorff95"], labels=[1, 2])
    >>> evaluator.add("sub01", ref, seg, spacing=(1.0, 1.0, 2.5))
    >>> evaluator.rows[0]
    {'SUBJECT': 'sub01', 'LABEL': 1, 'dice': 0.91, 'hausdorff95': 2.5}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage

from voxflow.evaluation.context import MaskPair
from voxflow.evaluation.metrics import (
    _spatial_maps,
    as_labels,
    compute_metric,
    evaluate_labels,
    is_continuous,
    resolve_metrics,
)

UNITS = ("label", "foreground", "cc")
SUBJECT, LABEL = "SUBJECT", "LABEL"


class Evaluator:
    """Collects one row per subject and unit: ``{SUBJECT, LABEL, <metric>: value, ...}``."""

    def __init__(self, metrics: Iterable[str], labels: Sequence[int] | None = None, units: str = "label"):
        """Resolve the metric names (ValueError with a suggestion on a typo).

        Args:
            metrics: metric names (see :func:`~voxflow.evaluation.metrics.resolve_metrics`).
            labels: label values for ``units="label"``; default every non-zero value present.
            units: ``label``, ``foreground`` or ``cc``.
        """
        if units not in UNITS:
            raise ValueError(f"Expected evaluation units one of: {', '.join(UNITS)}. Received {units!r}.")
        self.resolved = resolve_metrics(metrics)
        self.metric_names = [column for column, _ in self.resolved]
        self.labels = None if labels is None else list(labels)
        self.units = units
        self.rows: list[dict[str, object]] = []

    def add(self, subject: str, ref: np.ndarray, seg: np.ndarray,
            spacing: Sequence[float] | None = None) -> list[dict[str, object]]:
        """Evaluate one subject's label maps (same shape; a trailing size-1 channel is dropped)."""
        if self.units == "label":
            rows = evaluate_labels(ref, seg, self.labels, spacing, self.metric_names)
            new = [{SUBJECT: subject, LABEL: row.pop("label"), **row} for row in rows]
        else:
            ref, seg = _spatial_maps(np.asarray(ref), np.asarray(seg), spacing)
            whole = {c: float(m(ref, seg, spacing)) for c, m in self.resolved if is_continuous(m)}
            new = []
            for unit, ref_mask, seg_mask in self._units(as_labels(ref) != 0, as_labels(seg) != 0):
                pair = MaskPair(ref_mask, seg_mask, spacing)
                row: dict[str, object] = {SUBJECT: subject, LABEL: unit}
                for column, metric in self.resolved:
                    row[column] = whole[column] if column in whole else compute_metric(metric, pair)
                new.append(row)
        self.rows.extend(new)
        return new

    def _units(self, ref: np.ndarray, seg: np.ndarray):
        if self.units == "foreground":
            yield "foreground", ref, seg
            return
        structure = ndimage.generate_binary_structure(ref.ndim, ref.ndim)
        ref_cc, n_ref = ndimage.label(ref, structure)
        seg_cc, n_seg = ndimage.label(seg, structure)
        matched = np.zeros(n_seg + 1, dtype=bool)
        for index in range(1, n_ref + 1):
            component = ref_cc == index
            overlapping = np.unique(seg_cc[component & (seg_cc > 0)])
            matched[overlapping] = True
            yield f"cc{index}", component, np.isin(seg_cc, overlapping) & (seg_cc > 0)
        for index in np.flatnonzero(~matched[1:]) + 1:
            yield f"fp{index}", np.zeros_like(ref), seg_cc == index

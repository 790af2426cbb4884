"""Segmentation evaluation and the console report.

Evaluation compares the segmentations — those inference listed in ``inferred.csv``, or the files
of the ``[SEGMENTATION] inferred`` sections when given — with the labels in their native space
(spacing in mm from the affine) and writes a CSV.
"""

from __future__ import annotations

import csv
import logging
import os
from typing import Any

import numpy as np

from voxflow.data.writers import INFERRED_CSV
from voxflow.errors import CheckpointError, DataError

log = logging.getLogger(__name__)

EVALUATION_CSV = "evaluation.csv"
EVALUATION_STATISTICS_CSV = "evaluation_statistics.csv"


def evaluate(app: Any) -> dict:
    """Per-subject metrics of the inferred segmentations (per label, foreground or component).

    Writes ``evaluation.csv`` (columns SUBJECT, LABEL, metrics) and ``evaluation_statistics.csv``
    (per label and metric over subjects) to ``save_csv_dir``, atomically.
    """
    from voxflow.data.subjects import find_subjects  # noqa: PLC0415
    from voxflow.evaluation import writers  # noqa: PLC0415
    from voxflow.evaluation.evaluator import Evaluator  # noqa: PLC0415
    from voxflow.evaluation.files import read_pair  # noqa: PLC0415

    cfg = app.cfg
    inferred = _inferred(cfg)
    labels_by_id = {s.id: s for s in find_subjects(cfg, sections=tuple(cfg.app.label))}
    label_values = [int(v) for v in np.asarray(app.pre.labels_to_original(np.arange(1, app.num_classes))).ravel()]
    evaluator = Evaluator(tuple(cfg.evaluation.evaluations), labels=label_values,
                          units=getattr(cfg.app, "evaluation_units", None) or "label")
    for subject_id, seg_path in inferred:
        if subject_id not in labels_by_id:
            raise DataError(f"Inferred subject '{subject_id}' ({seg_path}) has no label in [{cfg.app.label[0]}].")
        ref, seg, spacing = read_pair(labels_by_id[subject_id].files[cfg.app.label[0]], seg_path)
        evaluator.add(subject_id, ref, seg, spacing)
    metrics = evaluator.metric_names
    out = os.path.join(cfg.evaluation.save_csv_dir, EVALUATION_CSV)
    writers.write_rows_csv(out, evaluator.rows, metrics)
    stats_path = os.path.join(cfg.evaluation.save_csv_dir, EVALUATION_STATISTICS_CSV)
    writers.write_statistics_csv(stats_path, evaluator.rows, metrics)
    return {"csv": out, "statistics_csv": stats_path, "subjects": len(inferred),
            "statistics": writers.console_statistics(evaluator.rows, metrics)}


def _inferred(cfg: Any) -> list[tuple[str, str]]:
    """``(subject, segmentation file)`` pairs: the ``inferred`` sections' files, else ``inferred.csv``."""
    from voxflow.data.subjects import find_subjects  # noqa: PLC0415

    if cfg.app.inferred:
        section = cfg.app.inferred[0]
        return [(s.id, s.files[section]) for s in find_subjects(cfg, sections=(section,))]
    listing = os.path.join(cfg.inference.save_seg_dir, INFERRED_CSV)
    if not os.path.isfile(listing):
        raise CheckpointError(f"No inferred output: {listing} does not exist. Run `net_segment inference -c {cfg.path}` "
                              "first, or name the segmentations to evaluate with [SEGMENTATION] inferred.")
    with open(listing, newline="", encoding="utf-8") as handle:
        inferred = [(row["subject_id"], row["path"]) for row in csv.DictReader(handle)]
    if not inferred:
        raise CheckpointError(f"No inferred output listed in {listing}.")
    return inferred


def report(action: str, result: dict) -> str:
    """A short human summary of an action's result."""
    if action == "train":
        if not result:
            return "training: nothing to do"
        parts = [f"{k}={v:.4f}" for k, v in result.items()]
        return "training finished: " + ", ".join(parts)
    if action == "inference":
        return f"inference: wrote {len(result['outputs'])} segmentation(s) to {result['folder']} (listed in {INFERRED_CSV})"
    return (f"evaluation of {result['subjects']} subject(s) written to {result['csv']} "
            f"(statistics in {result['statistics_csv']}); over subjects (finite values):\n{result['statistics']}")

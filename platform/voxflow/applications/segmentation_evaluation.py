"""Segmentation evaluation and the console report.

Evaluation compares the segmentations — those inference listed in ``inferred.csv``, or the files
of the ``[SEGMENTATION] inferred`` sections when given — with the labels in their native space
(spacing in mm from the affine) and writes a CSV.

It reads files only: with ``inferred`` given, it needs no ``image``, no window size and no trained
``model_dir`` (no ``settings_train.ini``, checkpoint or histogram file), so a config holding the
label and inferred sections, ``num_classes`` and ``[EVALUATION]`` evaluates segmentations made
anywhere. Both the references and voxflow's segmentations hold the original label values, so label
normalisation only decides *which* values are evaluated (``evaluation_units = label``):

- without ``label_normalisation``: ``1 .. num_classes - 1``;
- with it: the label map's values of classes ``1 .. K - 1`` — the map training learnt
  (``model_dir/label_map.json``) or NiftyNet's mapping in ``histogram_ref_file``, checked against
  ``num_classes`` as in training; with neither (no trained model), every non-zero value found in
  each subject's reference or segmentation, as ``net_evaluate`` does. Nothing is learnt or written
  into ``model_dir``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from voxflow.data.writers import INFERRED_CSV, read_inferred
from voxflow.errors import ConfigError, DataError

log = logging.getLogger(__name__)

EVALUATION_CSV = "evaluation.csv"
EVALUATION_STATISTICS_CSV = "evaluation_statistics.csv"


@dataclass
class EvaluationPlan:
    """What an evaluation compares, found before any work.

    Attributes:
        pairs: ``(subject, reference file, segmentation file)`` per evaluated subject.
        labels: the label values evaluated (``evaluation_units = label``); None = every non-zero
            value present in each pair.
        reference_map: the label map that merges values into classes (NiftyNet's whole-tumour
            mapping): the references go through it, as the segmentations hold its classes.
    """

    pairs: list[tuple[str, str, str]]
    labels: list[int] | None
    reference_map: Any = None


def plan(app: Any) -> EvaluationPlan:
    """Check the metric names, pair every segmentation with its reference and choose the labels.

    Raises:
        ConfigError: an unknown metric.
        CheckpointError: no segmentation to evaluate.
        DataError: a segmentation whose subject has no reference; a label map whose size is not
            ``num_classes``.
    """
    from voxflow.data.subjects import find_subjects  # noqa: PLC0415
    from voxflow.evaluation.metrics import resolve_metrics  # noqa: PLC0415

    cfg = app.cfg
    try:
        resolve_metrics(cfg.evaluation.evaluations)
    except ValueError as err:
        raise ConfigError(f"Invalid value for `evaluations` in [EVALUATION] of {cfg.path}: {err}") from err
    labels, label_map = _evaluated_labels(cfg, app.num_classes)
    section = cfg.app.label[0]
    references = {s.id: s.files[section] for s in find_subjects(cfg, sections=(section,))}
    pairs = []
    for subject_id, seg_path in _inferred(cfg):
        if subject_id not in references:
            raise DataError(f"Inferred subject '{subject_id}' ({seg_path}) has no label in [{section}].")
        pairs.append((subject_id, references[subject_id], seg_path))
    return EvaluationPlan(pairs, labels, label_map if label_map is not None and label_map.merges else None)


def _evaluated_labels(cfg: Any, num_classes: int) -> tuple[list[int] | None, Any]:
    """The label values of classes ``1 .. K-1`` (see the module docstring), and the label map."""
    if not cfg.app.label_normalisation:
        return list(range(1, num_classes)), None
    from voxflow.data.preprocessing import Preprocessor  # noqa: PLC0415
    from voxflow.roles import Kind  # noqa: PLC0415

    label_map = Preprocessor(cfg, {"label": tuple(cfg.app.label)}, kinds={"label": Kind.LABEL}).learnt_label_map()
    if label_map is None:
        log.warning("label_normalisation = True but there is no label map (no model trained in %s, no NiftyNet "
                    "label mapping in histogram_ref_file): evaluating every non-zero label value found in each "
                    "subject's reference or segmentation", cfg.system.model_dir)
        return None, None
    return list(label_map.output_values[1:]), label_map


def validation_labels(app: Any) -> tuple[list[int] | None, Any]:
    """The labels full-volume validation scores and the label map merging its references: those
    :func:`plan` gives evaluation."""
    labels, label_map = _evaluated_labels(app.cfg, app.num_classes)
    return labels, label_map if label_map is not None and label_map.merges else None


def evaluate(app: Any) -> dict:
    """Per-subject metrics of the planned pairs (per label, foreground or component).

    Writes ``evaluation.csv`` (columns SUBJECT, LABEL, metrics) and ``evaluation_statistics.csv``
    (per label and metric over subjects) to ``save_csv_dir``, atomically.
    """
    from voxflow.evaluation import writers  # noqa: PLC0415
    from voxflow.evaluation.evaluator import Evaluator  # noqa: PLC0415
    from voxflow.evaluation.files import read_pair  # noqa: PLC0415

    cfg = app.cfg
    evaluator = Evaluator(tuple(cfg.evaluation.evaluations), labels=app.evaluation_plan.labels,
                          units=cfg.app.evaluation_units)
    for subject_id, ref_path, seg_path in app.evaluation_plan.pairs:
        ref, seg, spacing = read_pair(ref_path, seg_path)
        if app.evaluation_plan.reference_map is not None:
            ref = merged_reference(app.evaluation_plan.reference_map, ref, ref_path)
        evaluator.add(subject_id, ref, seg, spacing)
    metrics = evaluator.metric_names
    out = os.path.join(cfg.evaluation.save_csv_dir, EVALUATION_CSV)
    writers.write_rows_csv(out, evaluator.rows, metrics)
    stats_path = os.path.join(cfg.evaluation.save_csv_dir, EVALUATION_STATISTICS_CSV)
    writers.write_statistics_csv(stats_path, evaluator.rows, metrics)
    return {"csv": out, "statistics_csv": stats_path, "subjects": len(app.evaluation_plan.pairs),
            "statistics": writers.console_statistics(evaluator.rows, metrics)}


def merged_reference(label_map: Any, ref: Any, path: str) -> Any:
    """The reference's values sent to the classes of a map that merges them.

    Raises:
        DataError: a reference value the map does not hold.
    """
    unknown = label_map.unknown(ref)
    if unknown:
        raise DataError(f"Reference '{path}' holds label values {unknown} that the label map "
                        f"{label_map.describe()} does not hold.")
    return label_map.to_indices(ref).astype(ref.dtype if ref.dtype.kind in "iu" else "int16")


def _inferred(cfg: Any) -> list[tuple[str, str]]:
    """``(subject, segmentation file)`` pairs: the ``inferred`` sections' files, else ``inferred.csv``."""
    return read_inferred(cfg, cfg.app.inferred, "SEGMENTATION", "net_segment")


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

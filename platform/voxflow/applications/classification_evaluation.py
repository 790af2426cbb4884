"""Classification evaluation: the inferred class of each subject against its true class.

Over the subjects evaluated (never windows of them): ``accuracy`` (a fraction), ``balanced_accuracy``
(the mean of the per-class recalls over the classes present), per-class ``precision``, ``recall``
and ``f1``, ``macro_f1`` (their mean over the classes present in either), and ``roc_auc``: the exact
area under the ROC curve (ties counted half; the Mann–Whitney statistic), one class against the
rest, averaged over the classes present (MONAI's default ``macro``) — it needs the probabilities,
so inference must run with ``output_prob = True``; without them it is NaN. Writes to
``save_csv_dir``: ``evaluation.csv`` (one row per metric, then one per class and metric),
``confusion_matrix.csv`` (rows = true class, columns = predicted, counts) and, with matplotlib,
``confusion_matrix.png`` (row-normalised).
"""

from __future__ import annotations

import csv
import logging
import math
import os
from typing import Any

import numpy as np

from voxflow.atomic import atomic_path, atomic_write_text
from voxflow.errors import ConfigError, DataError

log = logging.getLogger(__name__)

EVALUATION_CSV = "evaluation.csv"
CONFUSION_CSV = "confusion_matrix.csv"


def check_metrics(cfg: Any) -> list[str]:
    """The ``[EVALUATION] evaluations`` names, checked against what classification computes."""
    from voxflow.applications.classification import CLASSIFICATION_METRICS  # noqa: PLC0415

    names = [str(name).lower() for name in cfg.evaluation.evaluations]
    unknown = [name for name in names if name not in CLASSIFICATION_METRICS]
    if unknown:
        raise ConfigError(f"Invalid value for `evaluations` in [EVALUATION] of {cfg.path}: {', '.join(unknown)} "
                          f"{'is' if len(unknown) == 1 else 'are'} not computed for classification. Expected some of: "
                          f"{', '.join(CLASSIFICATION_METRICS)} (per-class precision, recall and F1 are always written).")
    return names


def binary_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The exact ROC AUC of ``scores`` for the boolean ``positive`` (ties count half); NaN without both."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):  # average ranks of ties
        stop = start
        while stop + 1 < len(scores) and sorted_scores[stop + 1] == sorted_scores[start]:
            stop += 1
        ranks[order[start:stop + 1]] = (start + stop) / 2.0 + 1.0
        start = stop + 1
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_metrics(true: np.ndarray, predicted: np.ndarray, num_classes: int,
                           probabilities: np.ndarray | None = None) -> dict[str, Any]:
    """The metrics of the module docstring for class indices ``true`` and ``predicted``."""
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (true, predicted), 1)
    tp = np.diag(confusion).astype(np.float64)
    support, predicted_count = confusion.sum(1).astype(np.float64), confusion.sum(0).astype(np.float64)
    present = (support + predicted_count) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted_count > 0, tp / predicted_count, 0.0)
        recall = np.where(support > 0, tp / support, np.nan)
        f1 = np.where(tp > 0, 2 * tp / (support + predicted_count), 0.0)
    auc = math.nan
    if probabilities is not None:
        per_class = [binary_auc(probabilities[:, k], true == k) for k in range(num_classes) if support[k] > 0]
        finite = [v for v in per_class if math.isfinite(v)]
        auc = float(np.mean(finite)) if finite else math.nan
    return {"accuracy": float(tp.sum() / max(len(true), 1)),
            "balanced_accuracy": float(np.nanmean(recall)) if np.isfinite(recall).any() else math.nan,
            "macro_f1": float(f1[present].mean()) if present.any() else math.nan,
            "roc_auc": auc, "precision": precision, "recall": recall, "f1": f1, "support": support,
            "confusion": confusion}


def _inferred_rows(app: Any) -> list[tuple[str, list[str]]]:
    """``(subject, [class, p_...])`` of each inferred subject (per-subject CSVs or a classes table)."""
    from voxflow.data.subjects import read_subject_tokens  # noqa: PLC0415
    from voxflow.data.writers import read_inferred  # noqa: PLC0415

    cfg = app.cfg
    rows = []
    for subject_id, path in read_inferred(cfg, cfg.app.inferred, "CLASSIFICATION", "net_classify"):
        rows.append((subject_id, list(read_subject_tokens(path, "inferred", subject_id))))
    return rows


def evaluate(app: Any) -> dict:
    """Compare the inferred classes with the ``label`` classes; write the CSVs (and the plot)."""
    cfg = app.cfg
    names = check_metrics(cfg)
    index = {name: k for k, name in enumerate(app.class_names)}
    truth = app.class_tokens()
    true, predicted, probabilities = [], [], []
    for subject_id, cells in _inferred_rows(app):
        if subject_id not in truth:
            raise DataError(f"Inferred subject '{subject_id}' has no class in [{cfg.app.label[0]}].")
        for token in (truth[subject_id], cells[0]):
            if token not in index:
                raise DataError(f"Subject '{subject_id}': class '{token}' is not one of the trained classes "
                                f"{app.class_names}.")
        true.append(index[truth[subject_id]])
        predicted.append(index[cells[0]])
        if len(cells) == 1 + app.num_classes:
            probabilities.append([float(c) for c in cells[1:]])
    if not true:
        raise DataError("No inferred subject to evaluate.")
    probs = np.asarray(probabilities) if len(probabilities) == len(true) else None
    if probs is None and "roc_auc" in names:
        log.warning("roc_auc needs the class probabilities: run inference with output_prob = True (it is NaN)")
    result = classification_metrics(np.asarray(true), np.asarray(predicted), app.num_classes, probs)
    folder = cfg.evaluation.save_csv_dir
    os.makedirs(folder, exist_ok=True)
    lines = [["metric", "class", "value"]]
    lines += [[name, "", _text(result[name])] for name in names]
    for k, name in enumerate(app.class_names):
        lines += [[metric, name, _text(float(result[metric][k]))] for metric in ("precision", "recall", "f1", "support")]
    out = os.path.join(folder, EVALUATION_CSV)
    atomic_write_text(out, _csv(lines))
    confusion_path = os.path.join(folder, CONFUSION_CSV)
    atomic_write_text(confusion_path, _csv([["true \\ predicted", *app.class_names],
                                            *([name, *map(str, row)] for name, row in
                                              zip(app.class_names, result["confusion"]))]))
    _plot(result["confusion"], app.class_names, os.path.join(folder, "confusion_matrix.png"))
    return {"csv": out, "confusion_csv": confusion_path, "subjects": len(true),
            "summary": {name: result[name] for name in names}}


def _text(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else "nan"


def _csv(rows: list[list[str]]) -> str:
    import io  # noqa: PLC0415

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _plot(confusion: np.ndarray, names: list[str], path: str) -> None:
    """The row-normalised confusion matrix as a PNG (skipped without matplotlib)."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError:
        return
    rows = confusion.sum(1, keepdims=True)
    normalised = np.divide(confusion, rows, out=np.zeros(confusion.shape, np.float64), where=rows > 0)
    figure, axes = plt.subplots(figsize=(1.2 + 0.6 * len(names), 1.0 + 0.6 * len(names)))
    axes.imshow(normalised, vmin=0, vmax=1, cmap="Blues")
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (i, j), count in np.ndenumerate(confusion):
        axes.text(j, i, str(count), ha="center", va="center", color="black")
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp)
    plt.close(figure)

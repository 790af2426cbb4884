"""Regression evaluation: continuous metrics of each inferred output against its target.

One row per subject over the whole image (``LABEL`` = ``image``) and, with ``[REGRESSION] mask``,
one inside the mask (``LABEL`` = ``mask``: the voxels where the mask is non-zero; SSIM over the
mask's bounding box). Outputs and targets are read as floating point, never rounded, on their own
grid (the target's and the output's grids must match). Writes ``evaluation.csv`` and
``evaluation_statistics.csv`` to ``save_csv_dir``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from voxflow.data.writers import read_inferred
from voxflow.errors import ConfigError, DataError

EVALUATION_CSV = "evaluation.csv"
EVALUATION_STATISTICS_CSV = "evaluation_statistics.csv"


def continuous_metrics(cfg: Any, what: str = "a regression") -> list[tuple[str, Any]]:
    """``[(name, metric)]`` of ``[EVALUATION] evaluations``, each a continuous metric.

    Raises:
        ConfigError: an unknown metric, or one that compares label maps (``what`` names the task).
    """
    from voxflow.evaluation.metrics import is_continuous, resolve_metrics  # noqa: PLC0415

    try:
        resolved = resolve_metrics(cfg.evaluation.evaluations)
    except ValueError as err:
        raise ConfigError(f"Invalid value for `evaluations` in [EVALUATION] of {cfg.path}: {err}") from err
    discrete = [name for name, metric in resolved if not is_continuous(metric)]
    if discrete:
        raise ConfigError(f"Invalid value for `evaluations` in [EVALUATION] of {cfg.path}: {', '.join(discrete)} "
                          f"compare label maps; {what} is evaluated with continuous metrics (mae, mse, rmse, "
                          "nrmse, psnr, ssim, r2).")
    return resolved


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    where = np.argwhere(mask)
    return tuple(slice(int(lo), int(hi) + 1) for lo, hi in zip(where.min(0), where.max(0)))


def evaluate(app: Any) -> dict:
    """Rows per subject (whole image, and inside the mask if given) to CSV, with statistics."""
    from voxflow.data.subjects import find_subjects  # noqa: PLC0415
    from voxflow.evaluation.files import read_pair  # noqa: PLC0415

    cfg = app.cfg
    resolved = continuous_metrics(cfg)
    section = cfg.app.output[0]
    targets = {s.id: s.files[section] for s in find_subjects(cfg, sections=(section,))}
    masks = {}
    if cfg.app.mask:
        masks = {s.id: s.files[cfg.app.mask[0]] for s in find_subjects(cfg, sections=(cfg.app.mask[0],))}
    rows = []
    inferred = read_inferred(cfg, cfg.app.inferred, "REGRESSION", "net_regress")
    for subject_id, path in inferred:
        if subject_id not in targets:
            raise DataError(f"Inferred subject '{subject_id}' ({path}) has no target in [{section}].")
        reference, output, _ = read_pair(targets[subject_id], path)
        reference, output = reference.astype(np.float64), output.astype(np.float64)
        rows.append({"SUBJECT": subject_id, "LABEL": "image",
                     **{name: float(metric(reference, output)) for name, metric in resolved}})
        if masks:
            if subject_id not in masks:
                raise DataError(f"Subject '{subject_id}' has no mask in [{cfg.app.mask[0]}].")
            _, mask, _ = read_pair(targets[subject_id], masks[subject_id])
            inside = np.asarray(mask) != 0
            if not inside.any():
                raise DataError(f"The mask {masks[subject_id]} of subject '{subject_id}' is empty.")
            box = _bounding_box(inside)
            row = {"SUBJECT": subject_id, "LABEL": "mask"}
            for name, metric in resolved:
                pair = (reference[box], output[box]) if name == "ssim" else (reference[inside], output[inside])
                row[name] = float(metric(*pair))
            rows.append(row)
    return write_evaluation(cfg, rows, [name for name, _ in resolved], len(inferred))


def write_evaluation(cfg: Any, rows: list[dict], metrics: list[str], subjects: int) -> dict:
    """``evaluation.csv`` and ``evaluation_statistics.csv`` in ``save_csv_dir``; what ``report`` prints."""
    from voxflow.evaluation import writers  # noqa: PLC0415

    out = os.path.join(cfg.evaluation.save_csv_dir, EVALUATION_CSV)
    writers.write_rows_csv(out, rows, metrics)
    stats_path = os.path.join(cfg.evaluation.save_csv_dir, EVALUATION_STATISTICS_CSV)
    writers.write_statistics_csv(stats_path, rows, metrics)
    return {"csv": out, "statistics_csv": stats_path, "subjects": subjects,
            "statistics": writers.console_statistics(rows, metrics)}

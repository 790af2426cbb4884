"""Registration evaluation: per pair and label, before and after registration, to CSV with statistics and plots.

For each row of ``<save_seg_dir>/inferred.csv`` (written by inference): the fixed label map (of
``fixed_label``), the moving label map (of ``moving_label``) brought onto the fixed grid by the two
affines alone (*before*), and the warped labels inference wrote (*after*). Per label value present in
the fixed map: ``dice``, ``hausdorff95`` (mm, symmetric, 95th percentile of surface distances) and
``centroid_tre`` (mm between the label's centroids: DeepReg's label TRE, in millimetres), each
``_before`` and ``_after``. Per pair, from the written field: the Jacobian statistics of
:mod:`voxflow.evaluation.registration` inside the fixed labels' foreground (the whole grid without
labels). With ``landmarks_file``, per pair and point listed for both subjects: ``tre_before`` and
``tre_after`` (mm; the fixed point mapped by the field, against the moving point) in
``registration_landmarks.csv``. Writes to ``[EVALUATION] save_csv_dir``: ``registration_labels.csv``,
``registration_jacobian.csv``, ``registration_statistics.csv`` and ``registration_boxplots.png``
(one box per label, or one for all of them when an atlas has more than 20).
"""

from __future__ import annotations

import csv
import math
import os
from typing import Any

import numpy as np

from voxflow.errors import CheckpointError, ConfigError, DataError

LABELS_CSV = "registration_labels.csv"
LANDMARKS_CSV = "registration_landmarks.csv"
JACOBIAN_CSV = "registration_jacobian.csv"
STATISTICS_CSV = "registration_statistics.csv"
BOXPLOTS = "registration_boxplots.png"
LABEL_METRICS = tuple(f"{m}_{w}" for m in ("dice", "hausdorff95", "centroid_tre") for w in ("before", "after"))
JACOBIAN_METRICS = ("folded_percent", "folded_voxels", "sd_log_jacobian", "mean_jacobian", "ncc_before", "ncc_after")
#: Above this many label values (an atlas's regions), the box plots pool them into one box per metric.
MAX_PLOTTED_LABELS = 20


def read_listing(cfg: Any) -> list[dict[str, str]]:
    """The rows of inference's ``inferred.csv``.

    Raises:
        CheckpointError: no listing, or not one written by registration inference.
    """
    path = os.path.join(cfg.inference.save_seg_dir, "inferred.csv")
    if not os.path.isfile(path):
        raise CheckpointError(f"No registration output: {path} does not exist. Run `net_reg inference -c {cfg.path}` "
                              "first.")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if "field" not in (reader.fieldnames or []):
            raise CheckpointError(f"{path} was not written by registration inference (no `field` column).")
        return list(reader)


def _label_files(cfg: Any, role: str) -> dict[str, str]:
    from voxflow.data.subjects import find_subjects  # noqa: PLC0415

    sections = tuple(getattr(cfg.app, role) or ())
    if not sections:
        return {}
    return {s.id: s.files[sections[0]] for s in find_subjects(cfg, sections=sections[:1])}


def read_landmarks(path: str) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """``{(subject, side): {point: (x, y, z)}}`` of a landmarks CSV: columns subject_id,point,x,y,z (world mm,
    RAS+) and, optionally, side (``fixed`` or ``moving``: the points of one image when a subject holds both,
    as paired data do; empty or absent: the subject's points on either side).

    Raises:
        ConfigError: a missing file or column, or a coordinate that is not a number.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"[REGISTRATION] landmarks_file '{path}' does not exist.")
    table: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("subject_id", "point", "x", "y", "z") if c not in (reader.fieldnames or [])]
        if missing:
            raise ConfigError(f"Landmarks file '{path}' ([REGISTRATION] landmarks_file) has no column "
                              f"{missing[0]}; expected subject_id,point,x,y,z.")
        for number, row in enumerate(reader, start=2):
            try:
                point = np.array([float(row[c]) for c in ("x", "y", "z")])
            except ValueError as err:
                raise ConfigError(f"Landmarks file '{path}' line {number}: {err}.") from err
            side = (row.get("side") or "").strip().lower()
            if side not in ("", "fixed", "moving"):
                raise ConfigError(f"Landmarks file '{path}' line {number}: side must be fixed, moving or empty; "
                                  f"found '{side}'.")
            sides = (side,) if side else ("fixed", "moving")
            for which in sides:
                table.setdefault((row["subject_id"].strip(), which), {})[row["point"].strip()] = point
    return table


def _landmark_rows(pair: str, fixed_id: str, moving_id: str, table: dict, field: np.ndarray,
                   affine: np.ndarray) -> list[dict]:
    from voxflow.evaluation.registration import landmark_errors  # noqa: PLC0415

    fixed, moving = table.get((fixed_id, "fixed"), {}), table.get((moving_id, "moving"), {})
    shared = [p for p in fixed if p in moving]
    if not shared:
        return []
    before, after = landmark_errors(field, affine, np.stack([fixed[p] for p in shared]),
                                    np.stack([moving[p] for p in shared]))
    return [{"SUBJECT": pair, "LABEL": point, "tre_before": float(b), "tre_after": float(a)}
            for point, b, a in zip(shared, before, after, strict=True)]


def _label_rows(pair: str, fixed: np.ndarray, before: np.ndarray, after: np.ndarray, affine: np.ndarray) -> list[dict]:
    from voxflow.evaluation.registration import centroid_distance  # noqa: PLC0415
    from voxflow.evaluation.surface_distance import SurfaceDistances  # noqa: PLC0415

    spacing = tuple(float(s) for s in np.linalg.norm(np.asarray(affine)[:3, :3], axis=0))
    rows = []
    for value in [v for v in np.unique(fixed) if v != 0]:
        reference = fixed == value
        row: dict[str, Any] = {"SUBJECT": pair, "LABEL": int(value)}
        for when, labels in (("before", before), ("after", after)):
            mask = labels == value
            total = reference.sum() + mask.sum()
            row[f"dice_{when}"] = float(2.0 * np.logical_and(reference, mask).sum() / total) if total else math.nan
            row[f"hausdorff95_{when}"] = SurfaceDistances(reference, mask, spacing).hausdorff95() if mask.any() \
                else math.inf
            row[f"centroid_tre_{when}"] = centroid_distance(reference, mask, affine)
        rows.append(row)
    return rows


def _ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> float:
    """Pearson correlation of two images (inside ``mask`` when given)."""
    a, b = (np.asarray(x, np.float64).ravel() if mask is None else np.asarray(x, np.float64)[mask] for x in (a, b))
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else math.nan


def _similarity(row: dict, fixed_images: dict, moving_images: dict, mask: np.ndarray | None) -> dict[str, float]:
    """``ncc_before``/``ncc_after``: the fixed image's correlation with the moving image resampled by the
    affines and with the warped image (first channels, inside the fixed labels' foreground); NaN when the
    images' sections are not in the config."""
    from voxflow.data.registration_outputs import warp_file_data  # noqa: PLC0415
    from voxflow.io import read_image  # noqa: PLC0415

    if row["fixed_id"] not in fixed_images or row["moving_id"] not in moving_images:
        return {"ncc_before": math.nan, "ncc_after": math.nan}
    fixed = read_image(fixed_images[row["fixed_id"]])
    moving = read_image(moving_images[row["moving_id"]])
    shape = fixed.data.shape[:3]
    first = np.asarray(fixed.data, np.float32).reshape(*shape, -1)[..., 0]
    before = warp_file_data(np.asarray(moving.data, np.float32).reshape(*moving.data.shape[:3], -1)[..., :1],
                            moving.affine, None, shape, fixed.affine, 1)[..., 0]
    after = np.asarray(read_image(row["warped_image"]).data, np.float32).reshape(*shape, -1)[..., 0]
    return {"ncc_before": _ncc(first, before, mask), "ncc_after": _ncc(first, after, mask)}


def evaluate(cfg: Any) -> dict:
    """Evaluate every registered pair (see the module docstring)."""
    from voxflow.data.registration_outputs import warp_file_data  # noqa: PLC0415
    from voxflow.evaluation import writers  # noqa: PLC0415
    from voxflow.evaluation.plots import box_plots  # noqa: PLC0415
    from voxflow.evaluation.registration import jacobian_determinant, jacobian_statistics  # noqa: PLC0415
    from voxflow.io import read_image  # noqa: PLC0415
    from voxflow.io.displacement import read_displacement  # noqa: PLC0415

    listing = read_listing(cfg)
    fixed_files, moving_files = _label_files(cfg, "fixed_label"), _label_files(cfg, "moving_label")
    fixed_images, moving_images = ({} if any(n not in cfg.inputs for n in (getattr(cfg.app, role) or ()))
                                    else _label_files(cfg, role) for role in ("fixed_image", "moving_image"))
    landmarks = read_landmarks(cfg.app.landmarks_file) if cfg.app.landmarks_file else None
    label_rows, jacobian_rows, landmark_rows = [], [], []
    for row in listing:
        field, affine = read_displacement(row["field"])
        if landmarks is not None:
            landmark_rows += _landmark_rows(row["pair_id"], row["fixed_id"], row["moving_id"], landmarks, field, affine)
        mask = None
        if fixed_files:
            if row["fixed_id"] not in fixed_files:
                raise DataError(f"Pair '{row['pair_id']}': fixed subject '{row['fixed_id']}' has no file in the "
                                "fixed_label sections.")
            fixed = read_image(fixed_files[row["fixed_id"]])
            labels = np.rint(np.asarray(fixed.data, np.float64)).astype(np.int64).reshape(fixed.data.shape[:3])
            mask = labels > 0
            if not row["warped_label"] or row["moving_id"] not in moving_files:
                raise ConfigError(f"Evaluating pair '{row['pair_id']}' needs its moving labels: set [REGISTRATION] "
                                  "moving_label and run inference again.")
            moving = read_image(moving_files[row["moving_id"]])
            before = warp_file_data(np.asarray(moving.data, np.float32).reshape(moving.data.shape[:3]),
                                    moving.affine, None, labels.shape, fixed.affine, 0)
            after = np.asarray(read_image(row["warped_label"]).data).reshape(labels.shape)
            label_rows += _label_rows(row["pair_id"], labels, np.rint(before).astype(np.int64),
                                      np.rint(after).astype(np.int64), fixed.affine)
        stats = jacobian_statistics(jacobian_determinant(field, affine), mask)
        stats.update(_similarity(row, fixed_images, moving_images, mask))
        jacobian_rows.append({"SUBJECT": row["pair_id"], "LABEL": "foreground" if mask is not None else "grid", **stats})
    folder = cfg.evaluation.save_csv_dir
    os.makedirs(folder, exist_ok=True)
    writers.write_rows_csv(os.path.join(folder, JACOBIAN_CSV), jacobian_rows, JACOBIAN_METRICS, ("PAIR", "LABEL"))
    summary = {f"mean_{k}": float(np.mean([r[k] for r in jacobian_rows]))
               for k in ("folded_percent", "sd_log_jacobian", "ncc_before", "ncc_after")}
    if landmark_rows:
        writers.write_rows_csv(os.path.join(folder, LANDMARKS_CSV), landmark_rows, ("tre_before", "tre_after"),
                               ("PAIR", "POINT"))
        summary.update({f"mean_landmark_{k}": float(np.mean([r[k] for r in landmark_rows]))
                        for k in ("tre_before", "tre_after")})
    elif landmarks is not None:
        raise DataError(f"No registered pair has points in [REGISTRATION] landmarks_file '{cfg.app.landmarks_file}' "
                        "for both its fixed and its moving subject.")
    if label_rows:
        writers.write_rows_csv(os.path.join(folder, LABELS_CSV), label_rows, LABEL_METRICS, ("PAIR", "LABEL"))
        writers.write_statistics_csv(os.path.join(folder, STATISTICS_CSV), label_rows, LABEL_METRICS)
        labels = {row["LABEL"] for row in label_rows}
        plotted = label_rows if len(labels) <= MAX_PLOTTED_LABELS else [{**row, "LABEL": "all"} for row in label_rows]
        box_plots(os.path.join(folder, BOXPLOTS), plotted, LABEL_METRICS)
        for key in ("dice_before", "dice_after", "centroid_tre_before", "centroid_tre_after"):
            values = np.array([r[key] for r in label_rows], np.float64)
            summary[f"mean_{key}"] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    return {"pairs": len(listing), "csv": os.path.join(folder, LABELS_CSV if label_rows else JACOBIAN_CSV),
            "summary": summary}

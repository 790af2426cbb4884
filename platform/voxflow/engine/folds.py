"""k-fold cross-validation (``[SYSTEM] num_folds``, ``fold``): one model per fold, their summary,
and the ensemble of the folds.

Fold ``k`` is an ordinary run whose ``model_dir`` is ``<model_dir>/fold_<k>`` and whose
``dataset_split_file`` validates on fold ``k`` (:mod:`voxflow.data.folds`); the config is loaded
again for it with those two keys set, so every path derived from ``model_dir`` (checkpoints, logs,
learnt state, outputs) follows.

- ``train``, ``fold = k``: trains fold ``k``. ``fold = -1``: trains every fold in turn (a fold whose
  last checkpoint reached ``max_iter`` is skipped, so an interrupted run resumes where it stopped
  with ``starting_iter = -1``), then writes the cross-validation summary — the mean and standard
  deviation over folds of each fold's final full-volume validation scores — as
  ``cross_validation.csv`` and ``.json`` in ``model_dir``, and lets the application make its
  cross-validated choices (segmentation: ``postprocessing = auto`` on every fold's validation
  subjects together, nnU-Net's rule).
- ``inference``/``evaluation``, ``fold = k``: that fold's model, outputs in its folder.
  ``fold = -1``: the ensemble of every fold (their probabilities averaged), outputs in
  ``model_dir``'s ``save_seg_dir`` / ``save_csv_dir``, as without folds.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from voxflow.atomic import atomic_write_text
from voxflow.data.folds import FOLDS_FILE, fold_split, folds_for
from voxflow.data.splits import split_subjects
from voxflow.data.subjects import find_subjects
from voxflow.engine.checkpoints import CheckpointStore
from voxflow.engine.trainer import FINAL_VALIDATION_FILE
from voxflow.errors import ConfigError

log = logging.getLogger(__name__)

SUMMARY = "cross_validation"


def fold_dir(cfg: Any, fold: int) -> str:
    """The model folder of ``fold``."""
    return os.path.join(cfg.system.model_dir, f"fold_{fold}")


def run_folds(app_class: type, cfg: Any, reload: Callable[[list[str]], Any], action: str,
              output: str | None = None) -> dict[str, Any]:
    """Run ``action`` with ``num_folds`` (see the module docstring); ``reload(overrides)`` loads the
    config again with extra ``--key value`` overrides."""
    from voxflow.engine.driver import ApplicationDriver  # noqa: PLC0415

    count, chosen = int(cfg.system.num_folds), int(cfg.system.fold)
    if chosen >= count:
        raise ConfigError(f"[SYSTEM] fold = {chosen} but num_folds = {count}: expected -1 (every fold) or 0..{count - 1}.")
    if action == "export" and chosen < 0:
        raise ConfigError("export writes one model: choose the fold with --fold K (0..num_folds-1).")
    if action != "train":
        if chosen >= 0:
            return ApplicationDriver(app_class, reload(_fold_overrides(cfg, chosen))).run(action, output)
        dirs = [fold_dir(cfg, k) for k in range(count)]
        extra = [*_fold_overrides(cfg, 0), "--dataset_split_file", cfg.system.dataset_split_file,
                 "--save_seg_dir", cfg.inference.save_seg_dir, "--save_csv_dir", cfg.evaluation.save_csv_dir]
        if action == "inference":
            extra += ["--ensemble_model_dirs", ",".join([*dirs[1:], *cfg.inference.ensemble_model_dirs])]
        log.info("%s with the ensemble of the %d folds in %s", action, count, cfg.system.model_dir)
        return ApplicationDriver(app_class, reload(extra)).run(action, output)
    folds, inference = _folds(app_class, cfg)
    results: dict[str, Any] = {}
    for k in range(count) if chosen < 0 else [chosen]:
        folder = fold_dir(cfg, k)
        os.makedirs(folder, exist_ok=True)
        split = os.path.join(folder, "dataset_split.csv")
        atomic_write_text(split, fold_split(folds, k, inference))
        latest = CheckpointStore(os.path.join(folder, "models")).latest()
        if chosen < 0 and latest is not None and latest >= cfg.training.max_iter:
            log.info("fold %d of %d: already trained to iteration %d, skipped", k, count, latest)
            continue
        log.info("fold %d of %d: validating on %d subject(s), model in %s", k, count,
                 sum(1 for f in folds.values() if f == k), folder)
        results[f"fold_{k}"] = ApplicationDriver(app_class, reload(_fold_overrides(cfg, k))).run("train")
    if chosen >= 0:
        return results[f"fold_{chosen}"]
    return summarise(app_class, cfg, [fold_dir(cfg, k) for k in range(count)])


def _fold_overrides(cfg: Any, fold: int) -> list[str]:
    folder = fold_dir(cfg, fold)
    return ["--model_dir", folder, "--dataset_split_file", os.path.join(folder, "dataset_split.csv"),
            "--num_folds", "0", "--fold", "-1"]


def _folds(app_class: type, cfg: Any) -> tuple[dict[str, int], list[str]]:
    """The saved (or new) folds of the subjects outside the inference split, and those inference ids."""
    sections = [s for role in app_class.ROLES if role.required is True or "train" in (role.required or ())
                for s in getattr(cfg.app, role.name)]
    ids = [s.id for s in find_subjects(cfg, sections=tuple(dict.fromkeys(sections)))]
    split_file = cfg.system.dataset_split_file
    inference = split_subjects(ids, cfg, "evaluation")["inference"] if os.path.isfile(split_file) else []
    if inference == sorted(ids):  # a split file that lists nobody for training: no inference split
        inference = []
    os.makedirs(cfg.system.model_dir, exist_ok=True)
    pool = sorted(set(ids) - set(inference))
    return folds_for(os.path.join(cfg.system.model_dir, FOLDS_FILE), pool, int(cfg.system.num_folds),
                     cfg.system.seed), inference


def summarise(app_class: type, cfg: Any, dirs: list[str]) -> dict[str, Any]:
    """Mean and standard deviation over folds of each fold's ``final_validation.json`` scalars,
    written as ``cross_validation.csv`` / ``.json``, plus the application's cross-validated choices."""
    per_fold = []
    for folder in dirs:
        path = os.path.join(folder, FINAL_VALIDATION_FILE)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                per_fold.append((os.path.basename(folder), json.load(handle)))
    names = [n for n in dict.fromkeys(n for _, scores in per_fold for n in scores) if n != "iteration"]
    summary: dict[str, Any] = {}
    for name in names:
        values = np.array([scores.get(name, np.nan) for _, scores in per_fold], dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size:
            summary[f"cv_{name}"] = float(finite.mean())
            summary[f"cv_{name}_std"] = float(finite.std())
    extra = app_class.cross_validate(cfg, dirs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["fold", *names])
    for fold, scores in per_fold:
        writer.writerow([fold, *(scores.get(n, "") for n in names)])
    writer.writerow(["mean", *(summary.get(f"cv_{n}", "") for n in names)])
    writer.writerow(["std", *(summary.get(f"cv_{n}_std", "") for n in names)])
    atomic_write_text(os.path.join(cfg.system.model_dir, f"{SUMMARY}.csv"), buffer.getvalue())
    atomic_write_text(os.path.join(cfg.system.model_dir, f"{SUMMARY}.json"),
                      json.dumps({"folds": dict(per_fold), "summary": summary, **extra}, indent=2) + "\n")
    log.info("cross-validation over %d fold(s): %s", len(per_fold),
             ", ".join(f"{k}={v:.4f}" for k, v in summary.items() if not k.endswith("_std")) or "no scores")
    return {k: v for k, v in {**summary, **extra}.items() if isinstance(v, (int, float))}

"""Train / validation / inference partitions of the subjects.

``dataset_split_file`` (CSV ``subject_id,phase``) fixes the partition when it exists; otherwise
training draws one from the exclude fractions under ``[SYSTEM] seed`` and writes it, so the same
split is used by every later run.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from typing import Any

import numpy as np

from voxflow.atomic import atomic_write_text
from voxflow.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

PHASES = ("training", "validation", "inference")
_SHOW = 5


def _few(items: list[str]) -> str:
    shown = ", ".join(repr(i) for i in items[:_SHOW])
    return shown + (f" and {len(items) - _SHOW} more" if len(items) > _SHOW else "")


def _read_split_file(path: str) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {p: [] for p in PHASES}
    with open(path, newline="", encoding="utf-8-sig") as handle:  # a BOM (Excel) is dropped
        for line, row in enumerate(csv.reader(handle), start=1):
            row = [cell.strip() for cell in row]
            if not any(row) or row[0].startswith("#"):
                continue
            if line == 1 and row[0].lower() in ("subject_id", "subject", "id"):
                continue
            phase = row[1].lower() if len(row) >= 2 else ""
            if phase not in PHASES:
                raise DataError(
                    f"Invalid phase on line {line} of dataset_split_file '{path}'. Expected one "
                    f"of: {', '.join(PHASES)}. Received: {','.join(row)!r}."
                )
            if row[0] not in parts[phase]:
                parts[phase].append(row[0])
    return parts


def _write_split_file(path: str, parts: dict[str, list[str]]) -> None:
    rows = sorted((sid, phase) for phase in PHASES for sid in parts[phase])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def _count(fraction: float, total: int) -> int:
    if not fraction or fraction <= 0:
        return 0
    return max(1, int(round(fraction * total)))


def random_split(ids: list[str], fraction_validation: float, fraction_inference: float,
                 seed: int | None) -> dict[str, list[str]]:
    """Seeded random split of ``ids`` by fractions (each non-zero fraction gets >= 1 subject).

    Raises:
        DataError: the fractions leave no training subject.
    """
    ids = sorted(ids)
    n_val = _count(fraction_validation, len(ids))
    n_inf = _count(fraction_inference, len(ids))
    if n_val + n_inf >= len(ids):
        raise DataError(
            f"Cannot split {len(ids)} subject(s) with exclude_fraction_for_validation = "
            f"{fraction_validation} and exclude_fraction_for_inference = {fraction_inference}: "
            f"{n_val} + {n_inf} excluded subjects leave none for training."
        )
    order = np.random.default_rng(0 if seed is None else seed).permutation(len(ids))
    shuffled = [ids[i] for i in order]
    return {
        "validation": sorted(shuffled[:n_val]),
        "inference": sorted(shuffled[n_val : n_val + n_inf]),
        "training": sorted(shuffled[n_val + n_inf :]),
    }


def split_subjects(ids: list[str], cfg: Any, action: str | None = None) -> dict[str, list[str]]:
    """Splits subject ids into training / validation / inference partitions.

    With an existing ``cfg.system.dataset_split_file`` (CSV ``subject_id,phase``) that file is
    the split: listed ids that were not found are ignored (warning). Found ids it does not list
    are an error when training; for other actions they are added to ``inference`` (warning), so
    that a trained model can be run on new subjects. Without the file, training makes a seeded
    random split by ``exclude_fraction_for_validation`` / ``_for_inference`` and writes it;
    other actions put every subject in every partition (as NiftyNet did).

    Args:
        ids: subject ids found by :func:`find_subjects`.
        cfg: the configuration.
        action: ``"train"``, ``"inference"`` or ``"evaluation"``; ``None`` uses ``cfg.action``
            when present, else ``"train"``.

    Returns:
        ``{"training": [...], "validation": [...], "inference": [...]}``, each sorted.

    Raises:
        DataError: a bad phase in the split file, unlisted subjects when training, or fractions
            that leave no training subject.
    """
    action = action or getattr(cfg, "action", None) or "train"
    ids = sorted(dict.fromkeys(ids))
    split_file = cfg.system.dataset_split_file
    if split_file and os.path.isfile(split_file):
        listed = _read_split_file(split_file)
        known = set(ids)
        in_file = {sid for phase in PHASES for sid in listed[phase]}
        stale = sorted(in_file - known)
        if stale:
            logger.warning(
                "%d subject(s) in dataset_split_file '%s' were not found and are ignored: %s",
                len(stale), split_file, _few(stale),
            )
        unlisted = sorted(known - in_file)
        parts = {p: sorted(s for s in listed[p] if s in known) for p in PHASES}
        if unlisted and action == "train":
            raise DataError(
                f"{len(unlisted)} subject(s) found by the input sections are not listed in "
                f"dataset_split_file '{split_file}': {_few(unlisted)}. Add them to the file, "
                "or delete it to make a new random split."
            )
        if unlisted:
            logger.warning(
                "%d subject(s) not listed in dataset_split_file '%s' are used for inference: %s",
                len(unlisted), split_file, _few(unlisted),
            )
            parts["inference"] = sorted(set(parts["inference"]) | set(unlisted))
        return parts
    if action == "train":
        parts = random_split(
            ids,
            cfg.training.exclude_fraction_for_validation,
            cfg.training.exclude_fraction_for_inference,
            cfg.system.seed,
        )
        if split_file:
            _write_split_file(split_file, parts)
            logger.info("Wrote dataset split to '%s'", split_file)
        return parts
    return {phase: list(ids) for phase in PHASES}


def subjects_to_infer(parts: dict[str, list[str]], dataset_to_infer: str = "") -> list[str]:
    """The ids an inference/evaluation run processes, from ``[INFERENCE] dataset_to_infer``.

    Args:
        parts: the output of :func:`split_subjects`.
        dataset_to_infer: ``""`` (the inference partition if non-empty, else every subject),
            ``"all"``, ``"training"``, ``"validation"`` or ``"inference"``.

    Returns:
        Sorted ids.

    Raises:
        ConfigError: an unknown ``dataset_to_infer``.
        DataError: the requested partition is empty.
    """
    choice = (dataset_to_infer or "").lower()
    everyone = sorted(set().union(*(set(parts.get(p, ())) for p in PHASES)))
    if choice == "":
        return sorted(parts.get("inference", ())) or everyone
    if choice == "all":
        chosen = everyone
    elif choice in PHASES:
        chosen = sorted(parts.get(choice, ()))
    else:
        raise ConfigError(
            "Invalid value for `dataset_to_infer` in [INFERENCE]. Expected one of: '', all, "
            f"{', '.join(PHASES)}. Received: {dataset_to_infer!r}."
        )
    if not chosen:
        raise DataError(
            f"dataset_to_infer = {dataset_to_infer!r} selects no subject: the partition is empty."
        )
    return chosen

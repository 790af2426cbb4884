"""k-fold cross-validation splits (``[SYSTEM] num_folds``), saved once and reused.

The subjects that are not in the inference split of ``dataset_split_file`` (all subjects when
there is none) are shuffled with ``[SYSTEM] seed`` and dealt round-robin into ``num_folds``
folds, so fold sizes differ by at most one (nnU-Net: ``KFold(5, shuffle=True, random_state=12345)``
over the training cases; voxflow uses the config's seed). The assignment is written to
``model_dir/folds.csv`` (``subject_id,fold``) by the first run and read by every later one; fold
``k`` validates on its subjects and trains on the others, and its split is written as that
fold's ``dataset_split_file`` (inference subjects kept as they were).
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from voxflow.atomic import atomic_write_text
from voxflow.data.splits import PHASES, _few
from voxflow.errors import DataError

FOLDS_FILE = "folds.csv"


def make_folds(ids: list[str], num_folds: int, seed: int | None) -> dict[str, int]:
    """``{subject: fold}``: ``ids`` shuffled with ``seed`` and dealt into ``num_folds`` folds.

    Raises:
        DataError: fewer subjects than folds.
    """
    ids = sorted(ids)
    if len(ids) < num_folds:
        raise DataError(f"num_folds = {num_folds} needs at least {num_folds} subjects to cross-validate; found "
                        f"{len(ids)}.")
    order = np.random.default_rng(0 if seed is None else seed).permutation(len(ids))
    return {ids[index]: position % num_folds for position, index in enumerate(order)}


def read_folds(path: str) -> dict[str, int]:
    """``{subject: fold}`` from a ``folds.csv``.

    Raises:
        DataError: a row that is not ``subject_id,fold`` with a non-negative integer fold.
    """
    folds: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if line == 1 and row[:2] == ["subject_id", "fold"]:
                continue
            if not row:
                continue
            if len(row) != 2 or not row[1].strip().isdigit():
                raise DataError(f"Line {line} of {path} is {','.join(row)!r}: expected `subject_id,fold` with a fold "
                                "number; delete the file to split again.")
            folds[row[0].strip()] = int(row[1])
    return folds


def folds_for(path: str, ids: list[str], num_folds: int, seed: int | None) -> dict[str, int]:
    """The saved folds of ``path`` (checked against ``ids`` and ``num_folds``), or new ones written there.

    Raises:
        DataError: the saved folds list other subjects or another number of folds.
    """
    if os.path.isfile(path):
        folds = read_folds(path)
        found = sorted(set(folds.values()))
        new, gone = sorted(set(ids) - set(folds)), sorted(set(folds) - set(ids))
        if found != list(range(num_folds)) or new or gone:
            what = (f"{len(found)} folds, not num_folds = {num_folds}" if found != list(range(num_folds)) else
                    f"other subjects ({'new: ' + _few(new) if new else 'missing: ' + _few(gone)})")
            raise DataError(f"{path} holds {what}: delete it to split again (every fold's model then needs "
                            "training again), or restore the data it was made for.")
        return folds
    folds = make_folds(ids, num_folds, seed)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["subject_id", "fold"])
    writer.writerows(sorted(folds.items()))
    atomic_write_text(path, buffer.getvalue())
    return folds


def fold_split(folds: dict[str, int], fold: int, inference: list[str]) -> str:
    """The ``dataset_split_file`` text of ``fold``: its subjects validate, the others train, and
    ``inference`` stays the inference split."""
    rows = sorted((sid, "validation" if k == fold else "training") for sid, k in folds.items())
    rows += sorted((sid, "inference") for sid in inference if sid not in folds)
    assert all(phase in PHASES for _, phase in rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()

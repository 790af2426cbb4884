"""k-fold splits (``[SYSTEM] num_folds``): a seeded partition, saved and checked."""

import pytest

from voxflow.data.folds import fold_split, folds_for, make_folds
from voxflow.errors import DataError

IDS = [f"s{i:02d}" for i in range(11)]


def test_folds_partition_the_subjects_evenly_and_reproducibly():
    folds = make_folds(IDS, 5, seed=7)
    assert sorted(folds) == IDS
    sizes = sorted(list(folds.values()).count(k) for k in range(5))
    assert sizes == [2, 2, 2, 2, 3]
    assert make_folds(IDS, 5, seed=7) == folds
    assert make_folds(IDS, 5, seed=8) != folds
    with pytest.raises(DataError, match="at least 5 subjects"):
        make_folds(IDS[:4], 5, seed=0)


def test_saved_folds_are_reused_and_checked(tmp_path):
    path = str(tmp_path / "folds.csv")
    first = folds_for(path, IDS, 3, seed=0)
    assert folds_for(path, IDS, 3, seed=99) == first  # read back, not redrawn
    with pytest.raises(DataError, match="delete it to split again"):
        folds_for(path, [*IDS, "new"], 3, seed=0)
    with pytest.raises(DataError, match="not num_folds = 4"):
        folds_for(path, IDS, 4, seed=0)


def test_a_fold_validates_on_its_subjects_and_keeps_the_inference_split():
    folds = make_folds(IDS, 3, seed=0)
    rows = dict(line.split(",") for line in fold_split(folds, 1, ["t1", "t2"]).splitlines())
    assert {s for s, p in rows.items() if p == "validation"} == {s for s, k in folds.items() if k == 1}
    assert {s for s, p in rows.items() if p == "training"} == {s for s, k in folds.items() if k != 1}
    assert rows["t1"] == rows["t2"] == "inference"

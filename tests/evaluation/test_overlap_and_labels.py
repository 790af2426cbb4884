"""Overlap metrics, per-class Dice and per-label evaluation rows."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from voxflow import registry
from voxflow.evaluation.metrics import dice, evaluate_labels, jaccard, per_class_dice


def test_dice_jaccard_hand_computed():
    ref = np.zeros((4, 4), dtype=bool)
    seg = np.zeros((4, 4), dtype=bool)
    ref[0, :3] = True  # 3 voxels
    seg[0, 1:] = True  # 3 voxels, 2 shared
    assert dice(ref, seg) == pytest.approx(4 / 6)
    assert jaccard(ref, seg) == pytest.approx(2 / 4)


def test_empty_and_single_voxel():
    empty = np.zeros((3, 3, 3), dtype=bool)
    voxel = empty.copy()
    voxel[1, 1, 1] = True
    assert dice(empty, empty) == 1.0 and jaccard(empty, empty) == 1.0
    assert dice(empty, voxel) == 0.0 and jaccard(voxel, empty) == 0.0
    assert dice(voxel, voxel) == 1.0 and jaccard(voxel, voxel) == 1.0


def test_jaccard_dice_relation_and_symmetry():
    rng = np.random.default_rng(0)
    for shape in [(6, 7), (5, 4, 3)]:
        ref, seg = rng.random(shape) < 0.4, rng.random(shape) < 0.5
        d = dice(ref, seg)
        assert jaccard(ref, seg) == pytest.approx(d / (2 - d))
        assert dice(seg, ref) == d and jaccard(seg, ref) == jaccard(ref, seg)


def test_per_class_dice():
    ref = np.array([[0, 0, 1, 1], [2, 2, 0, 0]])
    seg = np.array([[0, 1, 1, 1], [2, 0, 0, 0]])
    scores = per_class_dice(ref, seg, num_classes=4)
    np.testing.assert_allclose(scores[:3], [2 * 3 / (4 + 4), 2 * 2 / (2 + 3), 2 * 1 / (2 + 1)])
    assert math.isnan(scores[3])  # absent from both
    # float maps with a trailing channel on one side (voxflow's (X, Y, Z, 1) labels)
    again = per_class_dice(ref[..., None].astype(np.float32), seg, num_classes=4)
    np.testing.assert_allclose(again, scores, equal_nan=True)
    for k in range(3):
        assert scores[k] == pytest.approx(dice(ref == k, seg == k))


def test_evaluate_labels_rows():
    ref = np.zeros((8, 8, 6, 1), dtype=np.float32)
    seg = np.zeros((8, 8, 6), dtype=np.int64)
    ref[1:4, 1:4, 1:4] = 1
    seg[1:4, 1:4, 1:5] = 1  # one extra slice, 2 mm away from ref's last slice
    ref[5:7, 5:7, 2:4] = 2  # label 2 missed entirely
    rows = evaluate_labels(ref, seg, labels=[1, 2, 3], spacing=(1.0, 1.0, 2.0))
    assert [row["label"] for row in rows] == [1, 2, 3]
    assert list(rows[0]) == ["label", "dice", "jaccard", "hausdorff95", "average_distance"]
    assert rows[0]["dice"] == pytest.approx(2 * 27 / (27 + 36))
    assert rows[0]["jaccard"] == pytest.approx(27 / 36)
    assert rows[0]["hausdorff95"] == pytest.approx(2.0)
    assert rows[1] == {"label": 2, "dice": 0.0, "jaccard": 0.0, "hausdorff95": math.inf,
                       "average_distance": math.inf}
    assert rows[2] == {"label": 3, "dice": 1.0, "jaccard": 1.0, "hausdorff95": 0.0,
                       "average_distance": 0.0}


def test_evaluate_labels_defaults_and_names():
    ref = np.zeros((6, 6), dtype=np.int32)
    ref[1:3, 1:3] = 1
    ref[4:6, 4:6] = 3
    rows = evaluate_labels(ref, ref, metrics=("Dice", "hausdorff"))
    assert [row["label"] for row in rows] == [1, 3]  # non-zero labels present
    assert rows[0] == {"label": 1, "dice": 1.0, "hausdorff": 0.0}


def test_unknown_metric_suggests():
    ref = np.zeros((4, 4), dtype=np.int32)
    with pytest.raises(ValueError, match="Did you mean 'hausdorff95'"):
        evaluate_labels(ref, ref, labels=[1], metrics=("hausdorf95",))


@pytest.mark.parametrize("name", registry.names("metric"))
def test_every_registered_metric_shares_the_signature(name):
    metric = registry.resolve("metric", name)
    ref = np.zeros((12, 12, 12), dtype=bool)  # every metric's smallest image (the Gaussian SSIM's window: 11)
    ref[1:4, 1:3, 2:5] = True
    seg = np.roll(ref, 1, axis=0)
    value = metric(ref, seg, (1.0, 1.0, 2.0))
    assert isinstance(value, float)
    assert value == pytest.approx(metric(ref, seg, spacing=(1.0, 1.0, 2.0)), nan_ok=True)


def test_evaluation_does_not_import_tensorflow():
    code = "import sys, voxflow.evaluation.metrics; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_niftynets_counts_and_rates_match_hand_counts():
    """NiftyNet's PairwiseMeasures names (n_pos_ref … vol_diff, com_dist) used to be refused."""
    ref = np.zeros((4, 5), dtype=bool)
    seg = np.zeros((4, 5), dtype=bool)
    ref[0, :3] = True  # 3 voxels
    seg[0, 1:5] = True  # 4 voxels, 2 shared: TP 2, FP 2, FN 1, TN 15
    value = {name: registry.resolve("metric", name)(ref, seg, (2.0, 1.0)) for name in (
        "n_pos_ref", "n_pos_seg", "n_neg_ref", "n_neg_seg", "n_union", "negative_predictive_values",
        "informedness", "markedness", "vol_diff", "com_dist")}
    assert (value["n_pos_ref"], value["n_pos_seg"], value["n_neg_ref"], value["n_neg_seg"], value["n_union"]) == \
        (3, 4, 17, 16, 5)
    assert value["negative_predictive_values"] == pytest.approx(15 / 16)
    assert value["informedness"] == pytest.approx(2 / 3 + 15 / 17 - 1)
    assert value["markedness"] == pytest.approx(2 / 4 + 15 / 16 - 1)
    assert value["vol_diff"] == pytest.approx(4 / 3)
    assert value["com_dist"] == pytest.approx(abs(2.5 - 1.0))  # columns 1 and 2.5, 1 mm apart per column
    assert math.isnan(registry.resolve("metric", "com_dist")(ref, np.zeros_like(seg)))


def test_the_metric_catalogue_loads_neither_the_evaluator_nor_ndimage():
    """Config checks read the catalogue in every command; importing it loaded the whole evaluation package
    (the evaluator, SciPy's ndimage: a quarter of a second of start-up) before the names became lazy."""
    code = ("import sys, voxflow.evaluation.catalogue; "
            "sys.exit(any(m in sys.modules for m in ('voxflow.evaluation.evaluator', 'scipy.ndimage')))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    from voxflow.evaluation import Evaluator, evaluate_labels  # the package's names still import
    assert callable(evaluate_labels) and Evaluator.__name__ == "Evaluator"


def test_large_maps_evaluate_their_labels_in_threads_with_the_same_rows():
    """Maps of a million voxels or more evaluate labels concurrently; the rows, their order and values are
    those of one label at a time."""
    from voxflow.evaluation import metrics

    rng = np.random.default_rng(0)
    grid = np.indices((128, 128, 64)).astype(np.float32)
    radius = np.sqrt(((grid - np.array([64, 64, 32])[:, None, None, None]) ** 2).sum(0))
    ref = np.digitize(radius + rng.normal(0, 1.5, radius.shape), [20, 35, 50]).astype(np.uint8)
    seg = np.digitize(radius + rng.normal(0, 1.5, radius.shape) + 1.0, [20, 35, 50]).astype(np.uint8)
    assert ref.size >= metrics._THREADED_VOXELS
    names = ["dice", "hausdorff95", "average_distance"]
    together = metrics.evaluate_labels(ref, seg, spacing=(1.0, 1.0, 2.0), metrics=names)
    alone = [metrics.evaluate_labels(ref, seg, labels=[v], spacing=(1.0, 1.0, 2.0), metrics=names)[0]
             for v in (1, 2, 3)]
    assert together == alone and [row["label"] for row in together] == [1, 2, 3]

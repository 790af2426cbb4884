"""Confusion-matrix, statistical, size and continuous metrics: hand values, empties, identities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voxflow import registry
from voxflow.evaluation.metrics import resolve_metrics

M = {name: registry.resolve("metric", name) for name in registry.names("metric")}


@pytest.fixture
def pair():
    """1-D-like 2-D masks: ref = 4 voxels, seg = 3 voxels, 2 shared, 10 voxels in all."""
    ref = np.zeros((2, 5), dtype=bool)
    seg = np.zeros((2, 5), dtype=bool)
    ref[0, :4] = True
    seg[0, 2:5] = True
    return ref, seg  # TP 2, FP 1, FN 2, TN 5


def test_confusion_hand_values(pair):
    ref, seg = pair
    values = {name: M[name](ref, seg) for name in M if not name.startswith("ssim")}  # SSIM needs 7+ voxels per axis
    assert (values["tp"], values["fp"], values["fn"], values["tn"]) == (2, 1, 2, 5)
    assert values["sensitivity"] == pytest.approx(2 / 4)
    assert values["specificity"] == pytest.approx(5 / 6)
    assert values["fallout"] == pytest.approx(1 / 6)
    assert values["false_negative_rate"] == pytest.approx(2 / 4)
    assert values["precision"] == pytest.approx(2 / 3)
    assert values["accuracy"] == pytest.approx(7 / 10)
    assert values["f_measure"] == pytest.approx(values["dice"]) == pytest.approx(4 / 7)
    assert M["f_measure"](ref, seg, beta=2.0) == pytest.approx(5 * 2 / (5 * 2 + 4 * 2 + 1))
    assert values["volume_similarity"] == pytest.approx(1 - 1 / 7)
    assert values["auc"] == pytest.approx((0.5 + 5 / 6) / 2)
    # kappa: p_o = 0.7, p_e = (0.6*0.7 + 0.4*0.3) = 0.54
    assert values["cohens_kappa"] == pytest.approx((0.7 - 0.54) / (1 - 0.54))
    # Rand: pairs agreeing out of 45
    labels_ref, labels_seg = ref.ravel(), seg.ravel()
    agree = sum((labels_ref[i] == labels_ref[j]) == (labels_seg[i] == labels_seg[j])
                for i in range(10) for j in range(i + 1, 10))
    assert values["rand_index"] == pytest.approx(agree / 45)
    h = lambda *p: -sum(x * math.log2(x) for x in p if x)  # noqa: E731
    mi = h(0.4, 0.6) + h(0.3, 0.7) - h(0.2, 0.1, 0.2, 0.5)
    assert values["mutual_information"] == pytest.approx(mi)
    assert values["variation_of_information"] == pytest.approx(h(0.4, 0.6) + h(0.3, 0.7) - 2 * mi)
    assert values["probabilistic_distance"] == pytest.approx(3 / 4)
    assert values["reference_volume"] == 4.0 and values["segmentation_area"] == 3.0


def test_identities_and_symmetry():
    rng = np.random.default_rng(1)
    ref, seg = rng.random((6, 7, 5)) < 0.4, rng.random((6, 7, 5)) < 0.5
    d, j = M["dice"](ref, seg), M["jaccard"](ref, seg)
    assert d == pytest.approx(2 * j / (1 + j))
    assert M["fallout"](ref, seg) == pytest.approx(1 - M["specificity"](ref, seg))
    assert M["false_negative_rate"](ref, seg) == pytest.approx(1 - M["sensitivity"](ref, seg))
    for name in ("dice", "jaccard", "accuracy", "volume_similarity", "rand_index", "adjusted_rand_index",
                 "mutual_information", "variation_of_information", "cohens_kappa", "global_consistency_error",
                 "interclass_correlation", "probabilistic_distance", "mahalanobis", "hausdorff", "hausdorff95",
                 "average_distance", "surface_dice"):
        assert M[name](ref, seg, (1.0, 0.5, 2.0)) == pytest.approx(M[name](seg, ref, (1.0, 0.5, 2.0))), name
    assert M["variation_of_information"](ref, ref) == pytest.approx(0.0, abs=1e-12)
    assert M["adjusted_rand_index"](ref, ref) == pytest.approx(1.0)


def test_empty_conventions():
    empty = np.zeros((4, 4, 4), dtype=bool)
    one = empty.copy()
    one[1, 2, 3] = True
    assert M["dice"](empty, empty) == 1.0 and M["f_measure"](empty, empty) == 1.0
    assert M["volume_similarity"](empty, empty) == 1.0 and M["probabilistic_distance"](empty, empty) == 0.0
    assert math.isnan(M["sensitivity"](empty, one)) and math.isnan(M["precision"](one, empty))
    assert M["sensitivity"](one, empty) == 0.0 and M["specificity"](one, empty) == 1.0
    assert M["mahalanobis"](empty, one) == math.inf and M["mahalanobis"](empty, empty) == 0.0
    assert math.isnan(M["mahalanobis"](one, one))  # single voxels: no covariance
    assert M["probabilistic_distance"](one, np.roll(one, 1)) == math.inf
    assert M["reference_volume"](one, empty, (0.5, 2.0, 3.0)) == pytest.approx(3.0)
    assert M["mutual_information"](empty, one) == pytest.approx(0.0)


def test_mahalanobis_is_spacing_free_and_hand_computed():
    ref = np.zeros((8, 3), dtype=bool)
    ref[1:4, 1] = True  # x = 1, 2, 3
    seg = np.roll(ref, 2, axis=0)  # x = 3, 4, 5
    ref[2, 0] = ref[2, 2] = seg[4, 0] = seg[4, 2] = True  # give the clouds a y spread
    value = M["mahalanobis"](ref, seg)
    assert value == pytest.approx(M["mahalanobis"](ref, seg, (0.3, 5.0)))
    assert value > 0


def test_continuous_metrics():
    ref = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    pred = ref + 1.0
    assert M["mae"](ref, pred) == 1.0 and M["mse"](ref, pred) == 1.0 and M["rmse"](ref, pred) == 1.0
    assert M["nrmse"](ref, pred) == pytest.approx(1 / 23)
    assert M["r2"](ref, pred) == pytest.approx(1 - 24 / np.square(ref - ref.mean()).sum())
    assert M["psnr"](ref, pred) == pytest.approx(10 * math.log10(23**2))
    assert M["psnr"](ref, ref) == math.inf
    image = np.random.default_rng(0).random((9, 10, 11))
    assert M["ssim"](image, image) == pytest.approx(1.0)
    assert M["ssim"](image, image * 0.5) < 1.0


def test_parametrised_names():
    columns = [c for c, _ in resolve_metrics(["hausdorff99", "hausdorff@90", "surface_dice@2", "surface_dice_1.5mm",
                                              "surface_overlap@1", "f_measure@0.5", "reference_area@0"])]
    assert columns == ["hausdorff99", "hausdorff@90", "surface_dice@2", "surface_dice_1.5mm", "surface_overlap@1",
                       "f_measure@0.5", "reference_area@0"]
    for bad in ("hausdorff101", "dice@2", "surface_dice@x", "jaccard_1mm"):
        with pytest.raises(ValueError, match="Unknown metric"):
            resolve_metrics([bad])

"""Metrics of the binary confusion matrix ``(TP, FP, FN, TN)`` of a mask pair (pymia's set).

Undefined ratios (a zero denominator) return NaN, not pymia's ``-inf``/0; see docs/evaluation.md
for every metric's value on empty masks. Information metrics use base-2 logarithms.
"""

from __future__ import annotations

import math

from voxflow.evaluation.context import MaskPair, pair_metric, ratio


@pair_metric
def true_positives(pair: MaskPair) -> float:
    """Number of voxels foreground in both masks."""
    return pair.counts[0]


@pair_metric
def false_positives(pair: MaskPair) -> float:
    """Number of voxels foreground in the segmentation only."""
    return pair.counts[1]


@pair_metric
def false_negatives(pair: MaskPair) -> float:
    """Number of voxels foreground in the reference only."""
    return pair.counts[2]


@pair_metric
def true_negatives(pair: MaskPair) -> float:
    """Number of voxels background in both masks."""
    return pair.counts[3]


@pair_metric
def sensitivity(pair: MaskPair) -> float:
    """True-positive rate (recall) ``TP / (TP + FN)``; NaN for an empty reference."""
    tp, _, fn, _ = pair.counts
    return ratio(tp, tp + fn)


@pair_metric
def specificity(pair: MaskPair) -> float:
    """True-negative rate ``TN / (TN + FP)``; NaN if the reference covers the image."""
    _, fp, _, tn = pair.counts
    return ratio(tn, tn + fp)


@pair_metric
def fallout(pair: MaskPair) -> float:
    """False-positive rate ``FP / (TN + FP)`` = 1 − specificity."""
    _, fp, _, tn = pair.counts
    return ratio(fp, tn + fp)


@pair_metric
def false_negative_rate(pair: MaskPair) -> float:
    """Miss rate ``FN / (TP + FN)`` = 1 − sensitivity; NaN for an empty reference."""
    tp, _, fn, _ = pair.counts
    return ratio(fn, tp + fn)


@pair_metric
def precision(pair: MaskPair) -> float:
    """Positive predictive value ``TP / (TP + FP)``; NaN for an empty segmentation."""
    tp, fp, _, _ = pair.counts
    return ratio(tp, tp + fp)


@pair_metric
def accuracy(pair: MaskPair) -> float:
    """``(TP + TN) / N``."""
    tp, fp, fn, tn = pair.counts
    return ratio(tp + tn, tp + fp + fn + tn)


@pair_metric
def f_measure(pair: MaskPair, beta: float = 1.0) -> float:
    """F-beta ``(1 + β²) P R / (β² P + R)``; β = 1 is Dice. 1.0 both empty, 0.0 one empty."""
    tp, fp, fn, _ = pair.counts
    b2 = beta * beta
    denominator = (1 + b2) * tp + b2 * fn + fp
    return 1.0 if denominator == 0 else (1 + b2) * tp / denominator


@pair_metric
def volume_similarity(pair: MaskPair) -> float:
    """``1 − |FN − FP| / (2 TP + FN + FP)``; 1.0 if both masks are empty."""
    tp, fp, fn, _ = pair.counts
    total = 2 * tp + fn + fp
    return 1.0 if total == 0 else 1.0 - abs(fn - fp) / total


@pair_metric
def global_consistency_error(pair: MaskPair) -> float:
    """Global consistency error (Martin et al. 2001) of the two-region partitions; 0 is best.

    ``min(E1, E2)`` with ``E1 = (FN (FN + 2TP)/(TP + FN) + FP (FP + 2TN)/(TN + FP)) / N`` and
    ``E2`` the same with FP and FN swapped; a partition with an empty region contributes 0 for it.
    """
    tp, fp, fn, tn = pair.counts
    n = tp + fp + fn + tn

    def term(a: int, b: int, total: int) -> float:
        return a * (a + 2 * b) / total if total else 0.0

    e1 = (term(fn, tp, tp + fn) + term(fp, tn, tn + fp)) / n
    e2 = (term(fp, tp, tp + fp) + term(fn, tn, tn + fn)) / n
    return min(e1, e2)


def _pair_counts(pair: MaskPair) -> tuple[float, float, float, float]:
    """Rand's pair counts ``(a, b, c, d)``: agreeing-same, split, merged, agreeing-different."""
    tp, fp, fn, tn = (float(v) for v in pair.counts)
    n = tp + fp + fn + tn
    squares = tp * tp + tn * tn + fp * fp + fn * fn
    seg_sizes = (tn + fn) ** 2 + (tp + fp) ** 2
    ref_sizes = (tn + fp) ** 2 + (tp + fn) ** 2
    a = (tp * (tp - 1) + fp * (fp - 1) + tn * (tn - 1) + fn * (fn - 1)) / 2.0
    b = (ref_sizes - squares) / 2.0
    c = (seg_sizes - squares) / 2.0
    d = (n * n + squares - seg_sizes - ref_sizes) / 2.0
    return a, b, c, d


@pair_metric
def rand_index(pair: MaskPair) -> float:
    """Rand index: share of voxel pairs on which both partitions agree."""
    a, b, c, d = _pair_counts(pair)
    return ratio(a + d, a + b + c + d)


@pair_metric
def adjusted_rand_index(pair: MaskPair) -> float:
    """Rand index corrected for chance (Hubert & Arabie 1985); NaN when undefined."""
    a, b, c, d = _pair_counts(pair)
    expected = (a + c) * (a + b) / (a + b + c + d)
    maximum = ((a + c) + (a + b)) / 2.0
    return ratio(a - expected, maximum - expected)


def _entropies(pair: MaskPair) -> tuple[float, float, float]:
    """``(H(ref), H(seg), H(ref, seg))`` in bits."""
    tp, fp, fn, tn = pair.counts
    n = tp + fp + fn + tn

    def entropy(*counts: int) -> float:
        return -sum(c / n * math.log2(c / n) for c in counts if c)

    return entropy(tp + fn, fp + tn), entropy(tp + fp, fn + tn), entropy(tp, fp, fn, tn)


@pair_metric
def mutual_information(pair: MaskPair) -> float:
    """Mutual information ``H(ref) + H(seg) − H(ref, seg)`` in bits."""
    h_ref, h_seg, joint = _entropies(pair)
    return h_ref + h_seg - joint


@pair_metric
def variation_of_information(pair: MaskPair) -> float:
    """Variation of information ``H(ref) + H(seg) − 2 MI`` in bits; 0 for identical masks."""
    h_ref, h_seg, joint = _entropies(pair)
    return h_ref + h_seg - 2.0 * (h_ref + h_seg - joint)


@pair_metric
def cohens_kappa(pair: MaskPair) -> float:
    """Cohen's kappa ``(p_o − p_e) / (1 − p_e)``; NaN when chance agreement is 1."""
    tp, fp, fn, tn = pair.counts
    n = tp + fp + fn + tn
    chance = ((tn + fn) * (tn + fp) + (fp + tp) * (fn + tp)) / n
    return ratio(tp + tn - chance, n - chance)


@pair_metric
def area_under_curve(pair: MaskPair) -> float:
    """ROC AUC of a binary decision: ``(sensitivity + specificity) / 2``; NaN if undefined."""
    tp, fp, fn, tn = pair.counts
    return (ratio(tp, tp + fn) + ratio(tn, tn + fp)) / 2.0


# NiftyNet's counts and rates (its PairwiseMeasures names), from the same confusion matrix.
@pair_metric
def reference_count(pair: MaskPair) -> float:
    """Reference voxels ``TP + FN`` (NiftyNet's ``n_pos_ref``)."""
    tp, _, fn, _ = pair.counts
    return tp + fn


@pair_metric
def segmentation_count(pair: MaskPair) -> float:
    """Segmentation voxels ``TP + FP`` (NiftyNet's ``n_pos_seg``)."""
    tp, fp, _, _ = pair.counts
    return tp + fp


@pair_metric
def reference_background_count(pair: MaskPair) -> float:
    """Voxels outside the reference ``FP + TN`` (NiftyNet's ``n_neg_ref``)."""
    _, fp, _, tn = pair.counts
    return fp + tn


@pair_metric
def segmentation_background_count(pair: MaskPair) -> float:
    """Voxels outside the segmentation ``FN + TN`` (NiftyNet's ``n_neg_seg``)."""
    _, _, fn, tn = pair.counts
    return fn + tn


@pair_metric
def union_count(pair: MaskPair) -> float:
    """Voxels of the union ``TP + FP + FN`` (NiftyNet's ``n_union``)."""
    tp, fp, fn, _ = pair.counts
    return tp + fp + fn


@pair_metric
def negative_predictive_value(pair: MaskPair) -> float:
    """``TN / (TN + FN)``; NaN if the segmentation covers the image."""
    _, _, fn, tn = pair.counts
    return ratio(tn, tn + fn)


@pair_metric
def informedness(pair: MaskPair) -> float:
    """Sensitivity + specificity − 1 (Youden's J)."""
    return sensitivity.compute(pair) + specificity.compute(pair) - 1.0


@pair_metric
def markedness(pair: MaskPair) -> float:
    """Precision + negative predictive value − 1."""
    return precision.compute(pair) + negative_predictive_value.compute(pair) - 1.0


@pair_metric
def volume_ratio(pair: MaskPair) -> float:
    """Segmented / reference volume ``(TP + FP) / (TP + FN)`` (NiftyNet's ``vol_diff``, a ratio
    despite its name); NaN for an empty reference."""
    tp, fp, fn, _ = pair.counts
    return ratio(tp + fp, tp + fn)

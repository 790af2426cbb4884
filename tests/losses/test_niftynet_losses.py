"""NiftyNet's generalised Wasserstein Dice (`WGDL`) and sensitivity-specificity (`SensSpec`) losses.

Checked against NumPy references written from the papers' formulas (Fidon et al. 2017; Brosch et
al. 2015), for their limits (perfect prediction, the binary case) and for finite gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from voxflow import registry  # noqa: E402
from voxflow.losses import get_loss  # noqa: E402
from voxflow.losses import segmentation as seg  # noqa: E402

EPS = 1e-5
BRATS = np.array(seg.BRATS_DISTANCE_MATRIX)


# ---------------------------------------------------------------- NumPy references (float64, loops)
def _softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _samples(labels, logits, weight):
    """Yield, per sample, the probabilities (N, K), integer labels (N,) and weights (N,)."""
    batch, k = logits.shape[0], logits.shape[-1]
    probs = _softmax(logits.astype(np.float64)).reshape(batch, -1, k)
    labels = labels.reshape(batch, -1).astype(int)
    weights = np.ones(labels.shape) if weight is None else np.broadcast_to(weight.reshape(batch, -1), labels.shape)
    for b in range(batch):
        yield probs[b], labels[b], weights[b].astype(np.float64)


def ref_wgdl(labels, logits, weight=None, matrix=None):
    """Fidon et al. 2017: W_i = Σ_c M[c, l_i] p_ic; TP = Σ_i M[l_i, 0] (1 − W_i); AE = Σ_i W_i."""
    k = logits.shape[-1]
    matrix = BRATS[:k, :k] if matrix is None else np.asarray(matrix, np.float64)
    scores = []
    for p, lab, w in _samples(labels, logits, weight):
        tp = err = 0.0
        for i in range(len(lab)):
            distance = sum(matrix[c, lab[i]] * p[i, c] for c in range(k))
            tp += w[i] * matrix[lab[i], 0] * (1.0 - distance)
            err += w[i] * distance
        scores.append((2 * tp + EPS) / (2 * tp + err + EPS))
    return 1.0 - np.mean(scores)


def ref_sensspec(labels, logits, weight=None, r=0.05):
    """Brosch et al. 2015, per class, summed over classes: r·A + (1 − r)·B."""
    k = logits.shape[-1]
    values = []
    for p, lab, w in _samples(labels, logits, weight):
        total = 0.0
        for c in range(k):
            g = (lab == c).astype(np.float64)
            error = (g - p[:, c]) ** 2
            sens = np.sum(w * error * g) / (np.sum(w * g) + EPS)
            spec = np.sum(w * error * (1 - g)) / (np.sum(w * (1 - g)) + EPS)
            total += r * sens + (1 - r) * spec
        values.append(total)
    return np.mean(values)


def _inputs(spatial, k, seed=0, with_weight=False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, size=(2, *spatial, 1)).astype(np.float32)
    logits = rng.normal(scale=2.0, size=(2, *spatial, k)).astype(np.float32)
    weight = rng.random((2, *spatial, 1)).astype(np.float32) if with_weight else None
    return labels, logits, weight


def _perfect(labels, k):
    return (np.eye(k)[labels[..., 0].astype(int)] * 40.0 - 20.0).astype(np.float32)


# ---------------------------------------------------------------- values
@pytest.mark.parametrize("spatial", [(5, 4, 3), (6, 5)], ids=["3d", "2d"])
@pytest.mark.parametrize("with_weight", [False, True], ids=["no_weight", "weight"])
@pytest.mark.parametrize("k", [2, 4, 5])
def test_wgdl_equals_reference(spatial, with_weight, k):
    labels, logits, weight = _inputs(spatial, k, seed=k, with_weight=with_weight)
    value = seg.generalised_wasserstein_dice_loss(labels, logits, weight)
    np.testing.assert_allclose(float(value), ref_wgdl(labels, logits, weight), rtol=1e-5, atol=1e-6)


def test_wgdl_with_a_user_matrix_equals_reference():
    matrix = [[0, 1, 0.8], [1, 0, 0.3], [0.8, 0.3, 0]]
    labels, logits, weight = _inputs((4, 4, 3), 3, seed=7, with_weight=True)
    loss = seg.make_generalised_wasserstein_dice_loss(matrix)
    np.testing.assert_allclose(float(loss(labels, logits, weight)), ref_wgdl(labels, logits, weight, matrix),
                               rtol=1e-5)
    assert float(loss(labels, logits)) != pytest.approx(float(seg.generalised_wasserstein_dice_loss(labels, logits)))


@pytest.mark.parametrize("spatial", [(5, 4, 3), (6, 5)], ids=["3d", "2d"])
@pytest.mark.parametrize("with_weight", [False, True], ids=["no_weight", "weight"])
@pytest.mark.parametrize("r", [0.05, 0.5])
def test_sensspec_equals_reference(spatial, with_weight, r):
    labels, logits, weight = _inputs(spatial, 3, seed=3, with_weight=with_weight)
    value = seg.sensitivity_specificity_loss(labels, logits, weight, r=r)
    np.testing.assert_allclose(float(value), ref_sensspec(labels, logits, weight, r), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss", [seg.generalised_wasserstein_dice_loss, seg.sensitivity_specificity_loss])
@pytest.mark.parametrize("spatial", [(4, 4, 3), (6, 5)], ids=["3d", "2d"])
def test_perfect_prediction_gives_about_zero(loss, spatial):
    labels, _, weight = _inputs(spatial, 4, seed=1, with_weight=True)
    logits = _perfect(labels, 4)
    assert float(loss(labels, logits)) == pytest.approx(0.0, abs=1e-5)
    assert float(loss(labels, logits, weight)) == pytest.approx(0.0, abs=1e-5)
    background_only = np.zeros_like(labels)  # no true positive: NiftyNet's WGDL divided 0 by 0 here
    assert float(loss(background_only, _perfect(background_only, 4))) == pytest.approx(0.0, abs=1e-5)


def test_weight_zero_voxels_do_not_count():
    labels, logits, _ = _inputs((6, 4, 2), 3, seed=5)
    weight = np.ones_like(labels)
    weight[:, 3:] = 0.0
    for loss in (seg.generalised_wasserstein_dice_loss, seg.sensitivity_specificity_loss):
        cropped = float(loss(labels[:, :3], logits[:, :3]))
        assert float(loss(labels, logits, weight)) == pytest.approx(cropped, rel=1e-5)


# ---------------------------------------------------------------- the distance matrix
def test_binary_zero_one_matrix_gives_the_foreground_soft_dice():
    """Fidon et al.: with L = {0, 1} and M = [[0, 1], [1, 0]] the score is the soft binary Dice."""
    labels, logits, _ = _inputs((5, 4, 3), 2, seed=11)
    value = seg.generalised_wasserstein_dice_loss(labels, logits, distance_matrix=[[0, 1], [1, 0]])
    scores = []
    for p, lab, _ in _samples(labels, logits, None):
        g = (lab == 1).astype(np.float64)
        scores.append((2 * np.sum(p[:, 1] * g) + EPS) / (np.sum(p[:, 1]) + np.sum(g) + EPS))
    np.testing.assert_allclose(float(value), 1 - np.mean(scores), rtol=1e-5)


def test_zero_one_matrix_counts_every_mistake_alike():
    """With all-ones off the diagonal, W_i = 1 − p_i(label): GWD = 2 TP_fg / (2 TP_fg + Σ_i (1 − p_i(l_i)))."""
    k = 4
    labels, logits, _ = _inputs((5, 4, 3), k, seed=12)
    ones = 1.0 - np.eye(k)
    scores = []
    for p, lab, _ in _samples(labels, logits, None):
        p_true = p[np.arange(len(lab)), lab]
        tp = np.sum(p_true * (lab > 0))
        scores.append((2 * tp + EPS) / (2 * tp + np.sum(1 - p_true) + EPS))
    value = seg.generalised_wasserstein_dice_loss(labels, logits, distance_matrix=ones)
    np.testing.assert_allclose(float(value), 1 - np.mean(scores), rtol=1e-5)


def test_a_mistake_between_close_classes_costs_less():
    """BraTS tree: labelling class 1 as 3 (distance 0.2) is cheaper than as 2 (0.6) or as background (1)."""
    labels = np.zeros((1, 4, 4, 2, 1), np.float32)
    labels[0, :2] = 1.0

    def predicted(wrong):
        guess = labels.copy()
        guess[0, 0] = wrong  # half the class-1 voxels labelled `wrong`
        return _perfect(guess, 5)

    losses = [float(seg.generalised_wasserstein_dice_loss(labels, predicted(c))) for c in (3, 4, 2, 0)]
    assert losses == sorted(losses) and losses[0] < losses[-1]  # distances 0.2 < 0.5 < 0.6 < 1
    uniform = [[0 if i == j else 1 for j in range(5)] for i in range(5)]
    flat = {round(float(seg.generalised_wasserstein_dice_loss(labels, predicted(c), distance_matrix=uniform)), 6)
            for c in (3, 4, 2)}
    assert len(flat) == 1  # without the tree every wrong foreground class costs the same


@pytest.mark.parametrize("matrix, match", [
    ([[0, 1], [1, 0]], r"Expected shape \(3, 3\)"),
    ([[0, 1, 1], [1, 0, 2], [1, 2, 0]], "distances in \\[0, 1\\]"),
    ([[0, 1, 1], [1, 0.1, 1], [1, 1, 0]], "zero diagonal"),
    ([[0, 1, 0.5], [1, 0, 1], [1, 1, 0]], "symmetric"),
])
def test_invalid_matrices_are_refused_in_one_line(matrix, match):
    labels, logits, _ = _inputs((3, 3, 2), 3)
    with pytest.raises(ValueError, match=match) as err:
        seg.generalised_wasserstein_dice_loss(labels, logits, distance_matrix=matrix)
    assert "\n" not in str(err.value)


def test_default_matrix_covers_five_classes():
    labels, logits, _ = _inputs((3, 3, 2), 6)
    with pytest.raises(ValueError, match="covers 5 classes.*6 × 6"):
        seg.generalised_wasserstein_dice_loss(labels, logits)


# ---------------------------------------------------------------- gradients, registry, graph mode
@pytest.mark.parametrize("loss", [seg.generalised_wasserstein_dice_loss, seg.sensitivity_specificity_loss])
def test_gradients_are_finite_and_nonzero(loss):
    labels, logits, weight = _inputs((4, 4, 3), 5, seed=2, with_weight=True)
    for logit_values in (tf.Variable(logits), tf.Variable(_perfect(labels, 5))):
        with tf.GradientTape() as tape:
            value = loss(labels, logit_values, weight)
        grad = tape.gradient(value, logit_values).numpy()
        assert np.all(np.isfinite(grad))
    with tf.GradientTape() as tape:
        value = loss(labels, logit_values := tf.Variable(logits), weight)
    assert np.abs(tape.gradient(value, logit_values).numpy()).max() > 0


@pytest.mark.parametrize("name, function", [
    ("WGDL", seg.generalised_wasserstein_dice_loss), ("GWDL", seg.generalised_wasserstein_dice_loss),
    ("wgdl", seg.generalised_wasserstein_dice_loss), ("SensSpec", seg.sensitivity_specificity_loss),
])
def test_registered_under_niftynet_names(name, function):
    assert get_loss(name) is function
    assert name.lower() in {n.lower() for n in registry.names("loss")}


def test_losses_run_in_a_compiled_step_with_float16_logits():
    labels, logits, weight = _inputs((4, 4, 2), 4, seed=9, with_weight=True)
    for loss in (seg.generalised_wasserstein_dice_loss, seg.sensitivity_specificity_loss):
        compiled = tf.function(lambda a, b, c, fn=loss: fn(a, b, c))
        value = compiled(labels, tf.cast(logits, tf.float16), weight)
        assert value.dtype == tf.float32
        np.testing.assert_allclose(float(value), float(loss(labels, logits.astype(np.float16).astype(np.float32),
                                                             weight)), rtol=1e-5)

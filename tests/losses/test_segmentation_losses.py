"""Segmentation losses against an independent NumPy reference, plus their key properties."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from voxflow.losses import segmentation as seg  # noqa: E402

EPS = 1e-5
NUM_CLASSES = 3


# ---------------------------------------------------------------- NumPy reference (float64, loops)
def _softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _per_sample(labels, logits, weight):
    """Yield (p, g, w) flattened per sample: p, g (N, K), w (N,)."""
    batch = logits.shape[0]
    k = logits.shape[-1]
    labels = labels.reshape(batch, -1)
    probs = _softmax(logits.astype(np.float64)).reshape(batch, -1, k)
    weights = np.ones(labels.shape) if weight is None else np.broadcast_to(
        weight.reshape(batch, -1), labels.shape
    )
    for b in range(batch):
        g = np.eye(k)[labels[b].astype(int)]
        yield probs[b], g, weights[b].astype(np.float64)


def ref_dice(labels, logits, weight=None, squared=True):
    scores = []
    for p, g, w in _per_sample(labels, logits, weight):
        for k in range(p.shape[1]):
            num = 2 * np.sum(w * p[:, k] * g[:, k]) + EPS
            pk = p[:, k] ** 2 if squared else p[:, k]
            den = np.sum(w * pk) + np.sum(w * g[:, k] ** 2) + EPS
            scores.append(num / den)
    return 1 - np.mean(scores)


def ref_gdsc(labels, logits, weight=None):
    scores = []
    for p, g, w in _per_sample(labels, logits, weight):
        ref = np.array([np.sum(w * g[:, k]) for k in range(p.shape[1])])
        with np.errstate(divide="ignore"):
            cw = 1.0 / ref**2
        finite = np.isfinite(cw)
        cw[~finite] = cw[finite].max() if finite.any() else 1.0
        cw = cw / cw.sum()
        inter = np.array([np.sum(w * p[:, k] * g[:, k]) for k in range(p.shape[1])])
        pred = np.array([np.sum(w * p[:, k]) for k in range(p.shape[1])])
        scores.append((2 * np.sum(cw * inter) + EPS) / (np.sum(cw * (pred + ref)) + EPS))
    return 1 - np.mean(scores)


def ref_xent(labels, logits, weight=None):
    values = []
    for p, g, w in _per_sample(labels, logits, weight):
        ce = -np.log(np.sum(p * g, axis=1))
        values.append(np.sum(w * ce) / max(np.sum(w), 1e-6))
    return np.mean(values)


def ref_tversky(labels, logits, weight=None, alpha=0.3, beta=0.7):
    scores = []
    for p, g, w in _per_sample(labels, logits, weight):
        for k in range(p.shape[1]):
            tp = np.sum(w * p[:, k] * g[:, k])
            fp = np.sum(w * p[:, k] * (1 - g[:, k]))
            fn = np.sum(w * (1 - p[:, k]) * g[:, k])
            scores.append((tp + EPS) / (tp + alpha * fp + beta * fn + EPS))
    return 1 - np.mean(scores)


REFERENCES = {
    "dice": (seg.dice_loss, lambda *a: ref_dice(*a, squared=True)),
    "dice_ns": (seg.dice_ns_loss, lambda *a: ref_dice(*a, squared=False)),
    "gdsc": (seg.generalised_dice_loss, ref_gdsc),
    "xent": (seg.cross_entropy_loss, ref_xent),
    "dice_plus_xent": (
        seg.dice_plus_xent_loss,
        lambda *a: ref_xent(*a) + ref_dice(*a, squared=False),
    ),
    "tversky": (seg.tversky_loss, ref_tversky),
}


def _inputs(spatial, seed, trailing_one=True, with_weight=False, scale=2.0):
    rng = np.random.default_rng(seed)
    shape = (2, *spatial)
    labels = rng.integers(0, NUM_CLASSES, size=shape)
    labels[1] = np.where(labels[1] == 2, 0, labels[1])  # sample 1 lacks class 2 (absent-class path)
    logits = (rng.normal(size=(*shape, NUM_CLASSES)) * scale).astype(np.float32)
    weight = rng.uniform(0.0, 2.0, size=shape) if with_weight else None
    if trailing_one:
        labels = labels[..., None]
        weight = None if weight is None else weight[..., None]
    return labels, logits, weight


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize(
    "spatial,trailing_one,with_weight",
    [
        ((4, 5), True, False),
        ((4, 5), False, True),
        ((3, 4, 2), True, True),
        ((3, 4, 2), False, False),
    ],
)
def test_matches_numpy_reference(name, spatial, trailing_one, with_weight):
    loss_fn, reference = REFERENCES[name]
    seed = len(spatial) + 7 * with_weight
    labels, logits, weight = _inputs(spatial, seed, trailing_one=trailing_one, with_weight=with_weight)
    labels_in = labels.astype(np.float32) if trailing_one else labels.astype(np.int64)
    value = loss_fn(labels_in, logits, None if weight is None else weight.astype(np.float32))
    assert value.dtype == tf.float32 and value.shape == ()
    if trailing_one:
        labels = labels[..., 0]
        weight = None if weight is None else weight[..., 0]
    expected = reference(labels, logits, weight)
    np.testing.assert_allclose(float(value), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["dice", "dice_ns", "gdsc", "tversky", "dice_plus_xent"])
def test_perfect_prediction_is_near_zero(name):
    loss_fn, _ = REFERENCES[name]
    labels, _, _ = _inputs((4, 4, 3), seed=1)
    logits = 30.0 * np.eye(NUM_CLASSES, dtype=np.float32)[labels[..., 0]]
    assert float(loss_fn(labels, logits)) < 1e-4


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_float16_logits_computed_in_float32(name):
    loss_fn, _ = REFERENCES[name]
    labels, logits, weight = _inputs((4, 4), seed=3, with_weight=True)
    value16 = loss_fn(labels, logits.astype(np.float16), weight)
    value32 = loss_fn(labels, logits.astype(np.float16).astype(np.float32), weight)
    assert value16.dtype == tf.float32
    np.testing.assert_allclose(float(value16), float(value32), rtol=1e-6)


def test_dice_plus_xent_never_negative():
    for seed in range(5):
        labels, logits, weight = _inputs((3, 3, 2), seed, with_weight=seed % 2 == 0, scale=10.0)
        assert float(seg.dice_plus_xent_loss(labels, logits, weight)) >= 0.0
    labels, _, _ = _inputs((3, 3, 2), seed=9)
    perfect = 40.0 * np.eye(NUM_CLASSES, dtype=np.float32)[labels[..., 0]]
    assert float(seg.dice_plus_xent_loss(labels, perfect)) >= 0.0


def test_tversky_with_equal_alpha_beta_is_dice_ns():
    labels, logits, weight = _inputs((4, 3, 2), seed=5, with_weight=True)
    tversky = seg.tversky_loss(labels, logits, weight, alpha=0.5, beta=0.5, smooth=EPS / 2)
    dice_ns = seg.dice_ns_loss(labels, logits, weight)
    np.testing.assert_allclose(float(tversky), float(dice_ns), rtol=1e-6)


def test_tversky_is_per_class_not_joint():
    """One dominant class must not hide a missed small class (NiftyNet's joint sum did)."""
    labels = np.zeros((1, 8, 8, 1), dtype=np.int32)
    labels[0, 0, 0] = 1
    logits = np.zeros((1, 8, 8, 2), dtype=np.float32)
    logits[..., 0] = 20.0  # predicts background everywhere, misses class 1
    assert float(seg.tversky_loss(labels, logits)) > 0.45


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_gradients_are_finite(name):
    loss_fn, _ = REFERENCES[name]
    labels, logits, weight = _inputs((3, 3, 2), seed=2, with_weight=True)
    weight[0] = 0.0  # an all-zero sample must not produce NaN either
    logits_var = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss_fn(labels, logits_var, weight)
    grad = tape.gradient(value, logits_var).numpy()
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)
    assert np.all(grad[0] == 0)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_zero_weight_region_is_irrelevant(name):
    loss_fn, _ = REFERENCES[name]
    labels, logits, _ = _inputs((4, 4, 2), seed=4)
    weight = np.ones(labels.shape, dtype=np.float32)
    weight[:, :2] = 0.0
    other_labels, other_logits = labels.copy(), logits.copy()
    rng = np.random.default_rng(0)
    other_labels[:, :2] = rng.integers(0, NUM_CLASSES, size=other_labels[:, :2].shape)
    other_logits[:, :2] = rng.normal(size=other_logits[:, :2].shape) * 5
    np.testing.assert_allclose(
        float(loss_fn(labels, logits, weight)), float(loss_fn(other_labels, other_logits, weight)),
        rtol=1e-6, atol=1e-7,
    )


def test_broadcast_weight_and_inside_tf_function():
    labels, logits, _ = _inputs((4, 4), seed=6)
    per_sample = np.array([1.0, 1.0], dtype=np.float32).reshape(2, 1, 1, 1)
    compiled = tf.function(seg.dice_loss)
    np.testing.assert_allclose(
        float(compiled(labels, logits, per_sample)), float(seg.dice_loss(labels, logits)), rtol=1e-6
    )


def test_wrong_label_shape_raises():
    with pytest.raises(ValueError, match="labels"):
        seg.dice_loss(np.zeros((2, 4, 4, 2)), np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="weight_type"):
        seg.generalised_dice_loss(
            np.zeros((2, 4, 4)), np.zeros((2, 4, 4, 3), np.float32), weight_type="x"
        )

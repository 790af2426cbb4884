"""Histogram standardisation, whitening and foreground masks."""

import json

import numpy as np
import pytest
from pre_helpers import make_cfg, save, subject

from voxflow.data.preprocessing import Preprocessor
from voxflow.data.preprocessing.foreground import channel_mask, foreground_masks, otsu_threshold
from voxflow.data.preprocessing.histogram import (
    image_landmarks,
    landmark_percentiles,
    learn_reference,
    piecewise_linear,
    standardise,
)
from voxflow.data.preprocessing.whitening import whiten
from voxflow.errors import CheckpointError, DataError

AFFINE = np.diag([1.2, 1.0, 2.0, 1.0])


def _phantom(scale: float, offset: float, seed: int, shape=(20, 18, 10)) -> np.ndarray:
    """A bright ellipsoid on a dark background, intensities scaled and shifted."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    inside = (grid**2).sum(axis=0) < 0.6
    base = np.where(inside, 100 + 30 * grid[0], 5.0) + rng.normal(0, 2, shape)
    return (offset + scale * base).astype(np.float32)


def test_otsu_separates_two_modes():
    values = np.concatenate([np.full(500, 10.0), np.full(300, 90.0)])
    values += np.random.default_rng(0).normal(0, 1, values.size)
    threshold = otsu_threshold(values)
    assert np.sum(values > threshold) == 300


@pytest.mark.parametrize("kind", ["otsu_plus", "mean_plus", "threshold_plus"])
def test_foreground_masks_find_the_object(kind):
    image = _phantom(1.0, -20.0 if kind == "threshold_plus" else 0.0, 0)
    mask = channel_mask(image, kind)
    assert mask[10, 9, 5] and not mask[0, 0, 0]


def test_foreground_minus_and_multimod():
    image = _phantom(1.0, 0.0, 0)
    assert channel_mask(image, "otsu_minus")[0, 0, 0]
    assert channel_mask(image - 50, "threshold_minus")[0, 0, 0]
    two = np.stack([image, np.roll(image, 6, axis=0)], axis=-1)
    both = foreground_masks(two, "otsu_plus", "and")
    either = foreground_masks(two, "otsu_plus", "or")
    each = foreground_masks(two, "otsu_plus", "multi")
    assert both[..., 0].sum() < each[..., 0].sum() < either[..., 0].sum()
    np.testing.assert_array_equal(both[..., 0], both[..., 1])
    assert not np.array_equal(each[..., 0], each[..., 1])


def test_whitening_gives_zero_mean_unit_std():
    image = _phantom(3.0, 50.0, 1)[..., np.newaxis]
    out = whiten(image)
    assert abs(out.mean()) < 1e-5 and abs(out.std() - 1) < 1e-5
    mask = foreground_masks(image)
    inside = whiten(image, mask)[mask]
    assert abs(inside.mean()) < 1e-5 and abs(inside.std() - 1) < 1e-5


def test_piecewise_linear_extrapolates_and_handles_flat_segments():
    source, target = np.array([0.0, 0.0, 10.0]), np.array([0.0, 50.0, 100.0])
    np.testing.assert_allclose(piecewise_linear(np.array([-5.0, 0.0, 5.0, 20.0]), source, target),
                               [0.0, 50.0, 75.0, 150.0])


def test_histogram_standardisation_aligns_different_scales():
    percentiles = landmark_percentiles((0.01, 0.99))
    images = [_phantom(1.0, 0.0, 0), _phantom(4.0, 300.0, 1), _phantom(0.3, -20.0, 2)]
    reference = learn_reference(image_landmarks(im, percentiles) for im in images)
    assert reference[0] == pytest.approx(0.0) and reference[-1] == pytest.approx(100.0)
    mapped = [standardise(im, reference, percentiles, "percentile") for im in images]
    landmarks = [image_landmarks(m, percentiles) for m in mapped]
    raw_spread = np.ptp([image_landmarks(im, percentiles)[6] for im in images])
    assert raw_spread > 100
    for other in landmarks[1:]:
        np.testing.assert_allclose(other, landmarks[0], atol=2.0)
    for norm_type in ("quartile", "median"):
        out = standardise(images[1], reference, landmark_percentiles((0.01, 0.99), norm_type),
                          norm_type)
        assert abs(np.median(out) - reference[6]) < 2.0


def _normalising_cfg(tmp_path, paths, **network):
    cfg = make_cfg(tmp_path, {"T1": {}}, network=dict(normalisation=True, whitening=False,
                                                       **network))
    subjects = [subject(f"s{i}", T1=p) for i, p in enumerate(paths)]
    return cfg, subjects


def test_fit_saves_landmarks_and_load_state_is_exact(tmp_path):
    paths = [save(tmp_path, f"im{i}.nii.gz", _phantom(s, o, i), AFFINE)
             for i, (s, o) in enumerate([(1.0, 0.0), (5.0, 100.0)])]
    cfg, subjects = _normalising_cfg(tmp_path, paths, normalise_foreground_only=True)
    pre = Preprocessor(cfg, roles={"image": ("T1",)})
    pre.fit(subjects)
    with open(cfg.network.histogram_ref_file, encoding="utf-8") as handle:
        assert set(json.load(handle)["landmarks"]) == {"T1"}
    fresh = Preprocessor(cfg, roles={"image": ("T1",)})
    fresh.load_state()
    np.testing.assert_array_equal(fresh.landmarks["T1"][0], pre.landmarks["T1"][0])
    first, second = (fresh.load(s).arrays["image"][..., 0] for s in subjects)
    assert abs(np.median(first) - np.median(second)) < 2.0


def test_whitening_in_pipeline_is_mean_zero_std_one(tmp_path):
    path = save(tmp_path, "im.nii.gz", _phantom(2.0, 10.0, 3), AFFINE)
    cfg = make_cfg(tmp_path, {"T1": {}}, network=dict(whitening=True,
                                                      volume_padding_size=(3, 3, 3)))
    vol = Preprocessor(cfg, roles={"image": ("T1",)}).load(subject("s", T1=path))
    inner = vol.arrays["image"][3:-3, 3:-3, 3:-3]
    assert abs(inner.mean()) < 1e-4 and abs(inner.std() - 1) < 1e-4


def test_missing_landmark_file_is_a_checkpoint_error(tmp_path):
    path = save(tmp_path, "im.nii.gz", _phantom(1.0, 0.0, 0), AFFINE)
    cfg, subjects = _normalising_cfg(tmp_path, [path])
    with pytest.raises(CheckpointError, match="histogram_ref_file|histogram landmark file"):
        Preprocessor(cfg, roles={"image": ("T1",)}).load(subjects[0])


def test_empty_foreground_is_a_data_error_naming_subject(tmp_path):
    path = save(tmp_path, "im.nii.gz", -np.ones((6, 6, 6), np.float32), AFFINE)
    cfg = make_cfg(tmp_path, {"T1": {}}, network=dict(
        whitening=True, normalise_foreground_only=True, foreground_type="threshold_plus"))
    with pytest.raises(DataError, match="'s9'.*foreground"):
        Preprocessor(cfg, roles={"image": ("T1",)}).load(subject("s9", T1=path))


def test_fit_keeps_existing_landmarks_unless_overwrite(tmp_path):
    paths = [save(tmp_path, f"im{i}.nii.gz", _phantom(1.0 + i, 0.0, i), AFFINE) for i in (0, 1)]
    cfg, subjects = _normalising_cfg(tmp_path, paths)
    Preprocessor(cfg, roles={"image": ("T1",)}).fit(subjects[:1])
    learnt = Preprocessor(cfg, roles={"image": ("T1",)})
    learnt.load_state()
    again = Preprocessor(cfg, roles={"image": ("T1",)})
    again.fit(subjects[1:])  # file exists and covers T1: loaded, not relearnt
    np.testing.assert_array_equal(again.landmarks["T1"][0], learnt.landmarks["T1"][0])
    again.fit(subjects[1:], overwrite=True)
    assert not np.array_equal(again.landmarks["T1"][0], learnt.landmarks["T1"][0])


def test_ct_channels_are_clipped_and_whitened_with_dataset_statistics(tmp_path):
    """``intensity_clip`` + ``fixed_whitening`` (nnU-Net's CT scheme, written by ``net_segment plan``):
    every volume gets the same affine map, whatever its own statistics."""
    rng = np.random.default_rng(3)
    hu = rng.integers(-1024, 2000, size=(12, 10, 6)).astype(np.float32)
    path = save(tmp_path, "s_ct.nii.gz", hu, AFFINE)
    cfg = make_cfg(tmp_path, {"ct": {"intensity_clip": (-500.0, 1500.0), "fixed_whitening": (40.0, 300.0)}},
                   app={"image": ("ct",)})
    pre = Preprocessor(cfg, {"image": ("ct",)})
    out = pre.load(subject("s", ct=path)).arrays["image"][..., 0]
    np.testing.assert_allclose(out, (np.clip(hu, -500, 1500) - 40.0) / 300.0, rtol=1e-5, atol=1e-5)
    # with per-image whitening on, a section with dataset statistics keeps them
    cfg.network.whitening = True
    pre = Preprocessor(cfg, {"image": ("ct",)})
    again = pre.load(subject("s", ct=path)).arrays["image"][..., 0]
    np.testing.assert_allclose(again, out, rtol=1e-5, atol=1e-5)
    # without them, whitening uses the volume's own statistics after the clip
    cfg.inputs["ct"].fixed_whitening = ()
    pre = Preprocessor(cfg, {"image": ("ct",)})
    own = pre.load(subject("s", ct=path)).arrays["image"][..., 0]
    assert abs(float(own.mean())) < 1e-4 and own.max() <= (1500 - np.clip(hu, -500, 1500).mean()) / 1.0

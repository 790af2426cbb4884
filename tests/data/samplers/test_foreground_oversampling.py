"""Foreground oversampling (``[NETWORK] foreground_oversampling``, nnU-Net's one third)."""

import numpy as np
import pytest

from voxflow.data.samplers import SamplerError, UniformSampler, WeightedSampler

WINDOW = (6, 6, 6)


def _volumes():
    """Two 30³ volumes, each with two tiny foreground classes far apart; the second has none."""
    volumes = []
    for has_foreground in (True, False):
        label = np.zeros((30, 30, 30, 1), np.float32)
        if has_foreground:
            label[2, 3, 4] = 1
            label[25:27, 26, 20] = 2
        volumes.append({"image": np.random.default_rng(0).normal(size=(30, 30, 30, 1)).astype(np.float32),
                        "label": label})
    return volumes


def _windows(sampler_class, share, count=400, **kw):
    sampler = sampler_class(_volumes(), WINDOW, windows_per_volume=1, shuffle_buffer=1, seed=3,
                            foreground_oversampling=share, **kw)
    return [(int(w["location"][0]), w["label"].numpy()) for w in sampler.dataset().take(count)]


def _share_with_foreground(windows, volume):
    mine = [label for index, label in windows if index == volume]
    return float(np.mean([label.max() > 0 for label in mine]))


def test_a_share_of_windows_hold_foreground_and_each_class_is_drawn():
    plain = _windows(UniformSampler, 0.0)
    third = _windows(UniformSampler, 1 / 3)
    always = _windows(UniformSampler, 1.0)
    assert _share_with_foreground(plain, 0) < 0.05  # two tiny objects: uniform windows rarely hit them
    assert 0.25 < _share_with_foreground(third, 0) < 0.45
    assert _share_with_foreground(always, 0) == 1.0
    seen = {int(label.max()) for index, label in always if index == 0}
    assert seen == {1, 2}  # a random class present, then one of its voxels
    assert _share_with_foreground(always, 1) == 0.0  # no foreground: the sampler's own windows


def test_it_works_under_another_cropping_sampler_and_needs_a_label():
    volumes = _volumes()
    for volume in volumes:
        volume["sampler"] = np.ones((30, 30, 30, 1), np.float32)
    sampler = WeightedSampler(volumes, WINDOW, windows_per_volume=1, shuffle_buffer=1, seed=1,
                              foreground_oversampling=1.0)
    windows = [w for w in sampler.dataset().take(40) if int(w["location"][0]) == 0]
    assert all(w["label"].numpy().max() > 0 for w in windows)
    without_label = [{"image": v["image"]} for v in volumes]
    with pytest.raises(SamplerError, match="needs a label map"):
        UniformSampler(without_label, WINDOW, foreground_oversampling=0.5)

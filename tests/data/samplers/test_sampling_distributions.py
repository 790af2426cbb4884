"""Where uniform, weighted and balanced samplers put their windows, over many draws."""

from __future__ import annotations

import numpy as np
import pytest

from voxflow.data.samplers import BalancedSampler, UniformSampler, WeightedSampler


def locations(sampler, n, batch=500):
    """The first ``n`` locations of the stream as an (n, 4) array."""
    batches = sampler.dataset().map(lambda e: e["location"]).batch(batch).take(-(-n // batch))
    return np.concatenate([b.numpy() for b in batches])[:n]


def chi_square(counts, probabilities):
    expected = probabilities * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def test_uniform_covers_every_start_about_equally():
    image = np.zeros((7, 6, 5, 1), np.float32)
    window = (3, 4, 2)
    starts = (5, 3, 4)  # valid starts per axis
    loc = locations(UniformSampler([{"image": image}], window, windows_per_volume=8, seed=0), 6000)
    flat = np.ravel_multi_index(loc[:, 1:].T, starts)
    counts = np.bincount(flat, minlength=np.prod(starts))
    assert counts.min() > 0  # every start reached
    # 59 degrees of freedom: the 99.99 % quantile of chi2(59) is about 110.
    assert chi_square(counts, np.full(counts.size, 1 / counts.size)) < 110


def test_uniform_with_two_volumes_reaches_both_far_corners():
    volumes = [{"image": np.zeros((9, 5, 4, 1), np.float32)}, {"image": np.zeros((5, 8, 3, 1), np.float32)}]
    loc = locations(UniformSampler(volumes, (2, 2, 1), windows_per_volume=5, seed=1), 3000)
    for index, shape in enumerate([(9, 5, 4), (5, 8, 3)]):
        mine = loc[loc[:, 0] == index, 1:]
        np.testing.assert_array_equal(mine.min(0), [0, 0, 0])
        np.testing.assert_array_equal(mine.max(0), np.array(shape) - (2, 2, 1))


def test_weighted_follows_the_map_and_never_picks_zero():
    rng = np.random.default_rng(0)
    shape, window = (8, 7, 6), (3, 3, 1)
    weights = rng.random(shape).astype(np.float32)
    weights[rng.random(shape) < 0.6] = 0.0
    volume = {"image": rng.random((*shape, 1), dtype=np.float32), "sampler": weights[..., None]}
    loc = locations(WeightedSampler([volume], window, windows_per_volume=10, seed=2), 8000)
    centres = loc[:, 1:] + np.array(window) // 2
    assert np.all(weights[tuple(centres.T)] > 0)
    region = weights[1:7, 1:6, 0:6]  # centres whose window fits: s + w // 2 for s in 0..S - w
    counts = np.bincount(np.ravel_multi_index((centres - (1, 1, 0)).T, region.shape), minlength=region.size)
    positive = region.ravel() > 0
    assert np.all(counts[~positive] == 0)
    dof = positive.sum() - 1
    # chi2 with ~70 dof: mean 70, sd 12; allow a generous 6 sd.
    assert chi_square(counts[positive], region.ravel()[positive] / region.sum()) < dof + 6 * np.sqrt(2 * dof)


def test_weighted_with_single_voxel_map_always_centres_on_it():
    shape = (9, 9, 9)
    weights = np.zeros((*shape, 1), np.float32)
    weights[6, 2, 4] = 3.0
    volumes = [
        {"image": np.zeros((*shape, 1), np.float32), "sampler": weights},
        {"image": np.zeros((*shape, 1), np.float32), "sampler": np.ones((*shape, 1), np.float32)},
    ]
    loc = locations(WeightedSampler(volumes, (4, 5, 3), windows_per_volume=3, seed=4), 300)
    starts = loc[loc[:, 0] == 0, 1:]
    np.testing.assert_array_equal(starts, np.tile([6 - 2, 2 - 2, 4 - 1], (len(starts), 1)))


def test_weighted_rejects_maps_without_valid_centres():
    shape = (8, 8, 8)
    weights = np.zeros((*shape, 1), np.float32)
    weights[0, 0, 0] = 1.0  # only at the edge, where no window of 4 can be centred
    volume = {"image": np.zeros((*shape, 1), np.float32), "sampler": weights}
    with pytest.raises(ValueError, match="zero everywhere"):
        WeightedSampler([volume], (4, 4, 4))
    volume["sampler"] = -np.ones((*shape, 1), np.float32)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedSampler([volume], (4, 4, 4))
    with pytest.raises(ValueError, match="'sampler' role"):
        WeightedSampler([{"image": volume["image"]}], (4, 4, 4))


@pytest.mark.parametrize("role", ["label", "sampler"])
def test_balanced_reaches_every_class_equally_even_a_tiny_one(role):
    shape, window = (30, 20, 10), (3, 3, 3)  # 6,000 voxels
    label = np.zeros(shape, np.float32)
    label[:, :10] = 1.0
    label[12:16, 5, 5] = 2.0  # 4 voxels of 6,000 = 0.07 %
    label[20, 15, 3:5] = 7.0  # 2 voxels
    volume = {"image": np.zeros((*shape, 1), np.float32), role: label[..., None]}
    if role == "sampler":
        volume["label"] = np.zeros((*shape, 1), np.float32)  # ignored: the sampler map wins
    loc = locations(BalancedSampler([volume], window, windows_per_volume=10, seed=5), 6000)
    centres = loc[:, 1:] + np.array(window) // 2
    classes = label[tuple(centres.T)]
    counts = np.array([np.sum(classes == c) for c in (0, 1, 2, 7)])
    assert counts.sum() == len(classes)
    assert chi_square(counts, np.full(4, 0.25)) < 21  # 3 dof, p ~ 1e-4
    tiny = centres[classes == 2]
    assert len(np.unique(tiny[:, 0])) == 4  # the class's voxels are all used


def test_balanced_ignores_classes_outside_the_valid_centre_region():
    shape = (10, 10, 10)
    label = np.zeros((*shape, 1), np.float32)
    label[0, 0, 0] = 5.0  # cannot be a window centre with a 4-voxel window
    label[5, 5, 5] = 3.0
    volume = {"image": np.zeros((*shape, 1), np.float32), "label": label}
    loc = locations(BalancedSampler([volume], (4, 4, 4), windows_per_volume=4, seed=6), 1000)
    classes = label[tuple((loc[:, 1:] + 2).T)][:, 0]
    assert set(np.unique(classes)) == {0.0, 3.0}
    assert 0.4 < np.mean(classes == 3.0) < 0.6

"""Samplers cut every role and read kinds and the declared sampling map, never role names."""

import numpy as np
import pytest

from voxflow.data.samplers import BalancedSampler, ResizeSampler, UniformSampler, WeightedSampler
from voxflow.data.samplers.base import SamplerError
from voxflow.roles import Kind

KINDS = {"scan": Kind.INTENSITY, "truth": Kind.LABEL, "prior": Kind.WEIGHT}


def _volume():
    truth = np.zeros((20, 20, 20, 1), np.float32)
    truth[12:18, 12:18, 12:18] = 2
    prior = np.zeros_like(truth)
    prior[15, 15, 15] = 1.0  # the only voxel the weighted sampler may centre a window on
    scan = np.random.default_rng(0).normal(size=(20, 20, 20, 1)).astype(np.float32)
    return {"scan": scan, "truth": truth, "prior": prior}


def test_every_role_is_cut_at_the_same_place():
    volume = _volume()
    sampler = UniformSampler([volume], window_shape=(8, 8, 8), seed=1, kinds=KINDS)
    for element in sampler.dataset().take(4):
        x, y, z = element["location"].numpy()[1:]
        for role in KINDS:
            np.testing.assert_array_equal(element[role].numpy(), volume[role][x:x + 8, y:y + 8, z:z + 8])


def test_the_weighted_sampler_reads_the_declared_sampling_map():
    sampler = WeightedSampler([_volume()], window_shape=(6, 6, 6), seed=1, kinds=KINDS, sampling_role="prior")
    starts = {tuple(e["location"].numpy()[1:]) for e in sampler.dataset().take(5)}
    assert starts == {(12, 12, 12)}
    with pytest.raises(SamplerError, match="'sampler' role"):
        WeightedSampler([_volume()], window_shape=(6, 6, 6), seed=1, kinds=KINDS)


def test_the_balanced_sampler_falls_back_on_the_label_role_of_any_name():
    sampler = BalancedSampler([_volume()], window_shape=(6, 6, 6), seed=1, kinds=KINDS, sampling_role="none")
    centres = [e["truth"].numpy()[3, 3, 3, 0] for e in sampler.dataset().take(40)]
    assert 0.3 < np.mean(np.asarray(centres) == 2) < 0.7  # two classes, drawn equally often


def test_the_resize_sampler_resizes_labels_by_nearest_neighbour_whatever_their_name():
    sampler = ResizeSampler([_volume()], window_shape=(7, 7, 7), seed=1, kinds=KINDS)
    element = next(iter(sampler.dataset()))
    assert set(np.unique(element["truth"].numpy())) <= {0.0, 2.0}
    assert len(np.unique(element["scan"].numpy())) > 10


def test_a_value_role_rides_uncut_with_every_window_of_its_volume():
    volumes = [{**_volume(), "age": np.array([60.0 + i, -i], np.float32)} for i in range(3)]
    kinds = {**KINDS, "age": Kind.VALUE}
    for sampler in (UniformSampler(volumes, window_shape=(8, 8, 8), seed=1, kinds=kinds),
                    ResizeSampler(volumes, window_shape=(8, 8, 8), seed=1, kinds=kinds)):
        assert sampler.element_spec["age"].shape == (2,) and sampler.roles == tuple(sorted(KINDS))
        for element in sampler.dataset().take(6):
            index = int(element["location"].numpy()[0])
            np.testing.assert_array_equal(element["age"].numpy(), [60.0 + index, -index])


def test_a_value_must_be_one_vector_of_one_length():
    volumes = [{**_volume(), "age": np.array([60.0], np.float32)}, {**_volume(), "age": np.array([1.0, 2.0])}]
    with pytest.raises(SamplerError, match="Volume 1, role 'age' \\(a per-subject value\\): expected 1 values"):
        UniformSampler(volumes, window_shape=(8, 8, 8), seed=1, kinds={**KINDS, "age": Kind.VALUE})


def test_groups_on_different_grids_are_resized_but_not_cut():
    fixed = np.random.default_rng(0).normal(size=(20, 20, 20, 1)).astype(np.float32)
    moving = np.random.default_rng(1).normal(size=(12, 16, 10, 1)).astype(np.float32)
    kinds, groups = {"fixed": Kind.INTENSITY, "moving": Kind.INTENSITY}, {"fixed": "fixed", "moving": "moving"}
    volume = {"fixed": fixed, "moving": moving}
    element = next(iter(ResizeSampler([volume], window_shape=(8, 8, 8), seed=1, kinds=kinds, groups=groups).dataset()))
    assert element["fixed"].shape == element["moving"].shape == (8, 8, 8, 1)
    with pytest.raises(SamplerError, match="group 'fixed'.*window_sampling = resize"):
        UniformSampler([volume], window_shape=(8, 8, 8), seed=1, kinds=kinds, groups=groups)
    with pytest.raises(SamplerError, match="differs from the other roles'"):  # one group: the usual message
        ResizeSampler([volume], window_shape=(8, 8, 8), seed=1, kinds=kinds)

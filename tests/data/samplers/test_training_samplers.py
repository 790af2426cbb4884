"""Properties every training sampler (uniform, weighted, balanced, resize) must have."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from voxflow.data.aggregators.resize import resize_volume
from voxflow.data.samplers import (
    BalancedSampler,
    ResizeSampler,
    SamplerError,
    UniformSampler,
    WeightedSampler,
)

CROPPING = [UniformSampler, WeightedSampler, BalancedSampler]
ALL = [*CROPPING, ResizeSampler]


def make_volumes(shapes, seed=0, image_channels=2):
    """Volumes with distinct content per voxel, integer labels and a positive sampler map."""
    rng = np.random.default_rng(seed)
    volumes = []
    for shape in shapes:
        volumes.append({
            "image": rng.normal(size=(*shape, image_channels)).astype(np.float32),
            "label": rng.integers(0, 3, size=(*shape, 1)).astype(np.float32),
            "weight": rng.random((*shape, 1), dtype=np.float32),
            "sampler": rng.integers(1, 4, size=(*shape, 1)).astype(np.float32),
        })
    return volumes


def take(sampler, n):
    return [{k: v.numpy() for k, v in e.items()} for e in sampler.dataset().take(n)]


SHAPES = [(11, 9, 7), (8, 13, 6), (9, 8, 10)]


@pytest.mark.parametrize("cls", CROPPING)
@pytest.mark.parametrize("window", [(4, 5, 3), (6, 3, 1), (1, 7, 5), (8, 8, 6)])
def test_windows_inside_and_equal_to_volume_at_location(cls, window):
    volumes = make_volumes(SHAPES)
    sampler = cls(volumes, window, windows_per_volume=3, shuffle_buffer=4, seed=3)
    for element in take(sampler, 60):
        index, x, y, z = element["location"]
        assert element["location"].dtype == np.int32
        shape = volumes[index]["image"].shape
        assert 0 <= x <= shape[0] - window[0] and 0 <= y <= shape[1] - window[1]
        assert 0 <= z <= shape[2] - window[2]
        for role, array in volumes[index].items():
            expected = array[x : x + window[0], y : y + window[1], z : z + window[2]]
            np.testing.assert_array_equal(element[role], expected)


def test_resize_windows_are_resized_volumes():
    volumes = make_volumes([(11, 9, 7), (5, 6, 3)])
    window = (6, 6, 4)
    sampler = ResizeSampler(volumes, window, windows_per_volume=4, seed=1)
    for element in take(sampler, 8):
        index = element["location"][0]
        np.testing.assert_array_equal(element["location"][1:], [0, 0, 0])
        for role, array in volumes[index].items():
            order = 0 if role == "label" else 1
            np.testing.assert_allclose(element[role], resize_volume(array, window, order), rtol=1e-6)
        assert set(np.unique(element["label"])) <= {0.0, 1.0, 2.0}


@pytest.mark.parametrize("cls", ALL)
def test_element_spec_is_unbatched_windows_and_location(cls):
    sampler = cls(make_volumes(SHAPES[:2]), (4, 4, 1), seed=0)
    spec = sampler.dataset().element_spec
    assert set(spec) == {"image", "label", "weight", "sampler", "location"}
    assert spec["image"].shape == (4, 4, 1, 2) and spec["image"].dtype == tf.float32
    assert spec["label"].shape == (4, 4, 1, 1)
    assert spec["location"].shape == (4,) and spec["location"].dtype == tf.int32
    assert sampler.dataset().cardinality() == tf.data.INFINITE_CARDINALITY


@pytest.mark.parametrize("cls", ALL)
def test_same_seed_same_stream_different_seed_differs(cls):
    volumes = make_volumes(SHAPES)

    def first(seed):
        return take(cls(volumes, (4, 5, 3), windows_per_volume=2, shuffle_buffer=5, seed=seed), 20)

    a, b, c = first(7), first(7), first(8)
    for x, y in zip(a, b):
        for role in x:
            np.testing.assert_array_equal(x[role], y[role])
    stacked = [np.stack([e["image"] for e in s]) for s in (a, c)]
    assert not np.array_equal(*stacked)


def test_unseeded_streams_differ():
    volumes = make_volumes(SHAPES)
    sampler = UniformSampler(volumes, (4, 5, 3), windows_per_volume=2)
    a = np.stack([e["location"] for e in take(sampler, 20)])
    b = np.stack([e["location"] for e in take(sampler, 20)])
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("cls", ALL)
def test_every_epoch_visits_every_volume(cls):
    volumes = make_volumes(SHAPES + [(7, 7, 7)])
    per_visit = 1 if cls is ResizeSampler else 3
    sampler = cls(volumes, (3, 3, 3), windows_per_volume=3, shuffle_buffer=0, seed=5)
    indices = [int(e["location"][0]) for e in take(sampler, 3 * len(volumes) * per_visit)]
    orders = []
    for epoch in range(3):
        chunk = indices[epoch * len(volumes) * per_visit : (epoch + 1) * len(volumes) * per_visit]
        visits = [index for index, _ in itertools.groupby(chunk)]
        assert sorted(chunk) == sorted(list(range(len(volumes))) * per_visit)
        assert len(visits) == len(volumes)  # each visit's windows come together
        orders.append(tuple(visits))
    assert len(set(orders)) > 1  # the order is reshuffled between epochs


@pytest.mark.parametrize("cls", CROPPING)
def test_volume_smaller_than_window_is_rejected(cls):
    with pytest.raises(SamplerError, match="smaller than the window"):
        cls(make_volumes([(10, 10, 10), (10, 4, 10)]), (5, 5, 5))


def test_inconsistent_roles_and_shapes_are_rejected():
    volumes = make_volumes([(6, 6, 6), (6, 6, 6)])
    del volumes[1]["weight"]
    with pytest.raises(SamplerError, match="roles"):
        UniformSampler(volumes, (3, 3, 3))
    volumes = make_volumes([(6, 6, 6)])
    volumes[0]["label"] = volumes[0]["label"][:5]
    with pytest.raises(ValueError, match="spatial shape"):
        UniformSampler(volumes, (3, 3, 3))
    with pytest.raises(SamplerError, match="window shape"):
        UniformSampler(make_volumes([(6, 6, 6)]), (3, 3))


_STREAM_SCRIPT = """
import hashlib, numpy as np
from voxflow.data.samplers import BalancedSampler, UniformSampler, WeightedSampler
rng = np.random.default_rng(0)
volumes = [{"image": rng.random((9, 8, 7, 2), dtype=np.float32),
            "sampler": rng.integers(1, 4, (9, 8, 7, 1)).astype(np.float32)} for _ in range(3)]
digest = hashlib.sha1()
for cls in (UniformSampler, WeightedSampler, BalancedSampler):
    sampler = cls(volumes, (4, 3, 3), windows_per_volume=2, shuffle_buffer=6, seed=11)
    for element in sampler.dataset().take(20):
        for role in sorted(element):
            digest.update(element[role].numpy().tobytes())
print(digest.hexdigest())
"""


def test_seeded_stream_is_identical_across_processes():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-c", _STREAM_SCRIPT]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        for _ in range(2)
    ]
    digests = [run.communicate(timeout=120)[0].strip().splitlines()[-1] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert digests[0] == digests[1]

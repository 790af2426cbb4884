"""Training windows from volumes loaded on demand within a memory budget ([SYSTEM] cache_size_mb)."""

import threading

import numpy as np
import pytest

from voxflow.data.samplers.streaming import StreamingSampler, VolumeCache
from voxflow.data.samplers.uniform import UniformSampler

WINDOW = (8, 6, 4)


def make_volumes(count=6):
    rng = np.random.default_rng(0)
    shapes = [(12 + i, 10, 7) for i in range(count)]  # different sizes
    return {f"s{i}": {"image": rng.normal(size=(*s, 1)).astype(np.float32),
                      "label": rng.integers(0, 3, (*s, 1)).astype(np.float32)} for i, s in enumerate(shapes)}


class CountingLoader:
    def __init__(self, volumes):
        self.volumes, self.calls, self.lock = volumes, [], threading.Lock()

    def __call__(self, key):
        with self.lock:
            self.calls.append(key)
        return self.volumes[key]


def streaming(volumes, budget, seed=5, windows_per_volume=3, shuffle_buffer=1, lookahead=2):
    loader = CountingLoader(volumes)
    cache = VolumeCache(loader, budget, num_threads=2)

    def one_volume(arrays):
        return UniformSampler(arrays, WINDOW, windows_per_volume=windows_per_volume, shuffle_buffer=1, seed=seed)

    spec = one_volume([next(iter(volumes.values()))]).element_spec
    sampler = StreamingSampler(list(volumes), cache, one_volume, spec, windows_per_volume=windows_per_volume,
                               shuffle_buffer=shuffle_buffer, lookahead=lookahead, seed=seed)
    return sampler, loader


def nbytes(arrays):
    return sum(a.nbytes for a in arrays.values())


def test_windows_are_cut_from_the_named_volume_at_their_location():
    volumes = make_volumes()
    sampler, _ = streaming(volumes, budget=2 * nbytes(volumes["s0"]))
    keys = list(volumes)
    for element in sampler.dataset().take(40):
        index, x, y, z = element["location"].numpy()
        source = volumes[keys[index]]
        for role in ("image", "label"):
            expected = source[role][x:x + WINDOW[0], y:y + WINDOW[1], z:z + WINDOW[2]]
            np.testing.assert_array_equal(element[role].numpy(), expected)


def test_cache_stays_within_budget_and_every_volume_is_visited():
    volumes = make_volumes()
    largest = max(nbytes(v) for v in volumes.values())
    budget = 4 * largest  # the volume in use + 2 fetched ahead fit; 6 volumes do not
    sampler, loader = streaming(volumes, budget, lookahead=2)
    seen = {int(e["location"][0]) for e in sampler.dataset().take(3 * 6 * 3)}  # three epochs
    assert seen == set(range(6))
    assert sampler.cache.peak_bytes <= budget
    assert sampler.cache.cached_bytes <= budget
    assert len(loader.calls) > 6  # volumes were dropped and loaded again


def test_a_budget_that_holds_everything_loads_each_volume_once():
    volumes = make_volumes()
    sampler, loader = streaming(volumes, budget=10 * sum(nbytes(v) for v in volumes.values()))
    list(sampler.dataset().take(4 * 6 * 3))  # four epochs
    assert sorted(loader.calls) == sorted(volumes)


@pytest.mark.parametrize("shuffle_buffer", [1, 7])
def test_seeded_stream_is_reproducible_whatever_the_loading_timing(shuffle_buffer):
    volumes = make_volumes()
    streams = []
    for budget in (nbytes(volumes["s5"]) * 3, 10**9):  # evicting or not changes only the timing
        sampler, _ = streaming(volumes, budget, seed=11, shuffle_buffer=shuffle_buffer)
        streams.append([(e["location"].numpy().tolist(), e["image"].numpy()) for e in sampler.dataset().take(30)])
    assert [loc for loc, _ in streams[0]] == [loc for loc, _ in streams[1]]
    for (_, a), (_, b) in zip(*streams):
        np.testing.assert_array_equal(a, b)
    other, _ = streaming(volumes, 10**9, seed=12, shuffle_buffer=shuffle_buffer)
    assert [e["location"].numpy().tolist() for e in other.dataset().take(30)] != [loc for loc, _ in streams[0]]


def test_loader_errors_reach_the_consumer():
    def broken(key):
        raise OSError(f"cannot read {key}")

    cache = VolumeCache(broken, 10**6)
    with pytest.raises(OSError, match="cannot read s1"):
        cache.get("s1")

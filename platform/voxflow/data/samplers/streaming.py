"""Training windows from more volumes than fit in memory: a budgeted cache and a rotating queue.

With ``[SYSTEM] cache_size_mb`` set and the training volumes larger than that budget, the
sampler does not hold every volume. Like TorchIO's ``Queue`` (and NiftyNet's window queue), it
visits the volumes in a shuffled order each epoch, draws ``windows_per_volume`` windows from each
visit with the configured sampler (uniform, weighted, balanced, … — the same TensorFlow draws as
in memory), and mixes the windows of consecutive visits in a shuffle buffer. Volumes are loaded
and preprocessed by a thread pool a few visits ahead of their use, kept in a cache of at most
``cache_size_mb`` (least recently used out first; the volume in use and those being fetched are
never evicted), and reused when they are visited again while still cached.

With a seed the stream is reproducible: the visiting order and every window's random key depend
on the seed and the visit number only, never on the loading threads' timing.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import tensorflow as tf

from voxflow.data.samplers.base import _SEED_MASK, SamplerError, WindowSampler

log = logging.getLogger(__name__)

Arrays = Mapping[str, np.ndarray]


class VolumeCache:
    """Load volumes by key in background threads and keep them within a byte budget.

    One cache can serve several streams (training and validation share one budget).

    Args:
        load: ``key -> {role: array}``, called from worker threads.
        budget_bytes: the most bytes of cached volumes (the arrays' ``nbytes``); volumes that are
            pinned (in use or being fetched) are kept even above it.
        num_threads: loading threads.
    """

    def __init__(self, load: Callable[[Hashable], Arrays], budget_bytes: int, num_threads: int = 2) -> None:
        self._load = load
        self.budget_bytes = int(budget_bytes)
        self._pool = ThreadPoolExecutor(max_workers=max(1, int(num_threads)), thread_name_prefix="voxflow-load")
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Arrays, int]] = OrderedDict()  # key -> (arrays, bytes), LRU first
        self._pending: dict[Hashable, Future] = {}
        self.loads = 0  # volumes loaded so far (a volume evicted and visited again counts twice)
        self.peak_bytes = 0  # largest total of cached volumes seen

    @property
    def cached_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def prefetch(self, keys: Sequence[Hashable]) -> None:
        """Start loading these volumes (in order) unless cached or already loading."""
        with self._lock:
            for key in keys:
                if key not in self._entries and key not in self._pending:
                    self._pending[key] = self._pool.submit(self._fetch, key)

    def _fetch(self, key: Hashable) -> tuple[Arrays, int]:
        arrays = self._load(key)
        return arrays, int(sum(np.asarray(a).nbytes for a in arrays.values()))

    def get(self, index: Hashable, pinned: Sequence[Hashable] = ()) -> Arrays:
        """The arrays of volume ``index`` (waits for its loading), evicting others above the budget.

        ``pinned`` volumes (those about to be used) are not evicted.
        """
        self.prefetch([index])
        with self._lock:
            cached = self._entries.get(index)
            future = None if cached else self._pending[index]
        if cached is None:
            entry, size = future.result()  # errors of the loader surface here
            self.loads += 1
            with self._lock:
                self._pending.pop(index, None)
                self._entries[index] = (entry, size)
        with self._lock:
            self._entries.move_to_end(index)
            keep = {index, *pinned}
            total = sum(size for _, size in self._entries.values())
            for other in list(self._entries):
                if total <= self.budget_bytes:
                    break
                if other not in keep:
                    total -= self._entries.pop(other)[1]
            self.peak_bytes = max(self.peak_bytes, total)
            return self._entries[index][0]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class StreamingSampler:
    """An infinite ``tf.data`` stream of training windows from volumes loaded on demand.

    Args:
        keys: the volumes, as keys of ``cache`` (e.g. subject ids).
        cache: the :class:`VolumeCache` that loads them.
        make_sampler: ``[arrays] -> WindowSampler`` over one volume (the configured sampler).
        element_spec: the spec of one window element (as :attr:`WindowSampler.element_spec`).
        windows_per_volume: windows drawn per visit.
        shuffle_buffer: windows mixed across visits (≤ 1: none).
        lookahead: volumes fetched ahead of their visit.
        seed: makes the stream reproducible; ``None``: random.

    ``location`` in each element is ``(volume index in keys, x0, y0, z0)``, as with in-memory
    samplers.
    """

    def __init__(self, keys: Sequence[Hashable], cache: VolumeCache,
                 make_sampler: Callable[[list[Arrays]], WindowSampler], element_spec: Mapping[str, tf.TensorSpec],
                 windows_per_volume: int = 1, shuffle_buffer: int = 5, lookahead: int = 2,
                 seed: int | None = None) -> None:
        if not keys:
            raise SamplerError("No volumes to sample from. Expected at least one volume. Received: [].")
        self.keys = list(keys)
        self.num_volumes = len(self.keys)
        self.cache = cache
        self.make_sampler = make_sampler
        self.element_spec = dict(element_spec)
        self.windows_per_volume = max(1, int(windows_per_volume))
        self.shuffle_buffer = int(shuffle_buffer)
        self.lookahead = max(1, int(lookahead))
        self.seed = seed

    def _visits(self, seed: int):  # noqa: ANN202 - a generator of volume indices
        rng = np.random.default_rng(seed)
        while True:
            yield from (int(i) for i in rng.permutation(self.num_volumes))

    def windows(self, seed: int):  # noqa: ANN201 - a generator of window dicts (NumPy)
        """Every window of the stream, in order, as dicts of NumPy arrays (before shuffling)."""
        visits = self._visits(seed)
        upcoming = [next(visits) for _ in range(self.lookahead + 1)]
        counter = 0
        while True:
            current, ahead = upcoming[0], upcoming[1:]
            ahead_keys = [self.keys[i] for i in ahead]
            self.cache.prefetch(ahead_keys)
            sampler = self.make_sampler([self.cache.get(self.keys[current], pinned=ahead_keys)])
            for _ in range(self.windows_per_volume):
                key = tf.constant([seed & _SEED_MASK, counter], tf.int64)
                element = sampler.element(tf.constant(0, tf.int32), key)
                location = element["location"].numpy()
                location[0] = current
                yield {**{k: v.numpy() for k, v in element.items() if k != "location"}, "location": location}
                counter += 1
            upcoming = [*ahead, next(visits)]

    def dataset(self) -> tf.data.Dataset:
        """The infinite, unbatched dataset of ``{role: window, "location": (4,)}``."""
        import secrets  # noqa: PLC0415

        seed = self.seed if self.seed is not None else secrets.randbits(62)
        ds = tf.data.Dataset.from_generator(lambda: self.windows(seed), output_signature=self.element_spec)
        if self.shuffle_buffer > 1:
            ds = ds.shuffle(self.shuffle_buffer, seed=seed % (1 << 31))
        return ds.prefetch(tf.data.AUTOTUNE)

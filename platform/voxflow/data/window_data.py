"""From config to windows: subjects → split → learnt preprocessing → volumes → seeded samplers.

What every application that learns from windows of volumes needs, whatever its task:

- ``train``: find the subjects of the roles' sections, split them (``dataset_split_file`` or the
  exclude fractions), learn the preprocessing state from the training subjects (histogram
  landmarks, label map), load and preprocess every training and validation volume once in
  parallel (``num_threads``) — or, when they exceed ``[SYSTEM] cache_size_mb``, stream them
  through a least-recently-used cache — and serve infinite, seeded ``tf.data`` windows;
- ``inference``: the subjects to infer (``dataset_to_infer``) and the learnt state;
- ``evaluation``: the learnt state.

Example:
    >>> data = WindowData(cfg, "train", roles={"image": ("T1",), "label": ("seg",)}, kinds=kinds,
    ...                   layout=layout, sampling_role="sampler")                     # doctest: +SKIP
    >>> data.prepare()                                                                 # doctest: +SKIP
    >>> windows = data.training_dataset(worker=0, seeded=True)                         # doctest: +SKIP
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from voxflow import registry
from voxflow.data.preprocessing import Preprocessor
from voxflow.data.subjects import find_subjects, split_subjects, subjects_to_infer
from voxflow.data.windows import WindowLayout
from voxflow.errors import ConfigError, DataError
from voxflow.roles import Kind

log = logging.getLogger(__name__)

#: Seeds of the windows of worker ``w`` of a multi-machine run: ``seed + WORKER_SEED_STEP · w``.
WORKER_SEED_STEP = 7919


class WindowData:
    """The subjects, volumes and window samplers of one action (see the module docstring).

    Args:
        cfg: the resolved config.
        action: ``train``, ``inference`` or ``evaluation``.
        roles: ``{role: input sections}`` read for this action, in order (the first role's first
            file gives each subject's grid).
        kinds: ``{role: kind}``.
        layout: the window (its margin is read when samplers are built).
        sampling_role: the weight map that steers the weighted and balanced samplers.
        groups: ``{role: group}`` (roles of one group share a grid; default: one group).
        normalised: the intensity roles histogram standardisation and whitening change (default: all).
        value_maps: ``{role: {name: number}}`` for value roles whose cells are names (classes).
    """

    def __init__(self, cfg: Any, action: str, roles: dict[str, tuple[str, ...]], kinds: dict[str, Kind],
                 layout: WindowLayout, sampling_role: str = "sampler", groups: dict[str, str] | None = None,
                 normalised: tuple[str, ...] | None = None, value_maps: dict[str, dict[str, float]] | None = None,
                 whitened_like: dict[str, str] | None = None) -> None:
        self.cfg, self.action, self.roles, self.kinds = cfg, action, roles, kinds
        self.layout = layout
        self.sampling_role = sampling_role
        self.groups = dict(groups or {})
        self.pre = Preprocessor(cfg, roles, min_shape=None if layout is None else layout.fetch_window, kinds=kinds,
                                groups=self.groups, normalised=normalised, value_maps=value_maps,
                                whitened_like=whitened_like)
        self.train_volumes: list[Any] = []
        self.valid_volumes: list[Any] = []
        # With [SYSTEM] cache_size_mb smaller than the data: subject ids streamed through a VolumeCache.
        self.volume_cache: Any = None
        self.train_ids: list[str] = []
        self.valid_ids: list[str] = []
        self.infer_subjects: list[Any] = []
        self.valid_subjects: list[Any] = []

    # ------------------------------------------------------------------------- preparing
    def prepare(self) -> None:
        """Load what the action needs (see the module docstring).

        Raises:
            DataError: no subject to train on or to infer; anything wrong with a file.
        """
        cfg = self.cfg
        if self.action == "evaluation":
            self.pre.load_state()
            return
        sections = tuple(dict.fromkeys(s for names in self.roles.values() for s in names))
        subjects = find_subjects(cfg, sections=sections)
        parts = split_subjects([s.id for s in subjects], cfg, self.action)
        by_id = {s.id: s for s in subjects}
        if self.action == "inference":
            self.pre.load_state()
            wanted = subjects_to_infer(parts, cfg.inference.dataset_to_infer)
            self.infer_subjects = [by_id[i] for i in wanted if i in by_id]
            if not self.infer_subjects:
                raise DataError(f"No subject to infer (dataset_to_infer = '{cfg.inference.dataset_to_infer or 'default'}').")
            return
        training = [by_id[i] for i in parts["training"] if i in by_id]
        validation = [by_id[i] for i in parts["validation"] if i in by_id]
        self.valid_subjects = validation
        if not training:
            raise DataError(f"No training subject: every subject is in validation/inference of {cfg.system.dataset_split_file}.")
        self.pre.fit(training)
        streamed, first = self._stream_if_over_budget(training, validation)
        if not streamed:  # the first volume, if loaded for the budget estimate, is not loaded twice
            self.train_volumes = [first, *self.load(training[1:])] if first else self.load(training)
            self.valid_volumes = self.load(validation)
        log.info("training on %d subjects, validating on %d; window %s, %d-D network",
                 len(training), len(validation), self.layout.text, self.layout.spatial_dims)
        if cfg.training.validation_every_n > 0 and not validation:
            log.warning("validation_every_n > 0 but there is no validation subject: validation skipped")

    def channels(self, role: str) -> int | None:
        """The channels of ``role`` in the loaded volumes (None before any is loaded)."""
        if self.train_volumes:
            return int(self.train_volumes[0].arrays[role].shape[-1])
        if self.volume_cache is not None and self.train_ids:
            return int(self.volume_cache.get(self.train_ids[0])[role].shape[-1])
        return None

    def load(self, subjects: list[Any]) -> list[Any]:
        """Preprocessed volumes of ``subjects``, loaded in parallel (``num_threads``)."""
        workers = max(1, int(self.cfg.system.num_threads))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.pre.load, subjects))

    def _stream_if_over_budget(self, training: list[Any], validation: list[Any]) -> tuple[bool, Any]:
        """With ``cache_size_mb`` set and the volumes (estimated from the first) over it, stream them.

        Returns whether volumes will be loaded on demand (docs: README, "Data larger than memory")
        and the first training volume if it was loaded for the estimate (else None).
        """
        budget = int(float(self.cfg.system.cache_size_mb) * 2**20)
        if budget <= 0:
            return False, None
        first = self.pre.load(training[0])
        per_volume = sum(int(np.asarray(a).nbytes) for a in first.arrays.values())
        estimate = per_volume * (len(training) + len(validation))
        if estimate <= budget:
            return False, first
        from voxflow.data.samplers.streaming import VolumeCache  # noqa: PLC0415 - TensorFlow on demand

        by_id = {s.id: s for s in (*training, *validation)}
        self.volume_cache = VolumeCache(lambda sid: self.pre.load(by_id[sid]).arrays, budget,
                                        num_threads=max(1, int(self.cfg.system.num_threads)))
        self.train_ids = [s.id for s in training]
        self.valid_ids = [s.id for s in validation]
        log.info("volumes (~%.3g MiB, estimated from the first) exceed cache_size_mb = %g: loading them on "
                 "demand, %.3g MiB cached at most", estimate / 2**20, self.cfg.system.cache_size_mb, budget / 2**20)
        return True, None

    # ------------------------------------------------------------------------- windows
    def sampler(self, volumes: list[Any], seed: int, window: tuple[int, int, int] | None = None,
                margin: tuple[int, int, int] = (0, 0, 0)) -> Any:
        """The ``[NETWORK] window_sampling`` sampler over ``volumes`` (subject ids when streaming);
        ``window`` includes ``margin`` (an augmentation's) on each side."""
        cfg = self.cfg
        sampler_class = registry.resolve("sampler", cfg.network.window_sampling, search_dirs=(cfg.config_dir,))
        # NiftyNet's rule: the window queue holds at least five batches.
        shuffle = max(cfg.network.queue_length, 5 * cfg.network.batch_size)
        window = window or self.layout.window
        roles = {"kinds": self.kinds, "sampling_role": self.sampling_role, "groups": self.groups,
                 **sampler_class.config_kwargs(cfg)}
        if cfg.network.foreground_oversampling > 0:  # (only then: a plugin sampler may not take it)
            from voxflow.data.samplers.base import CroppingSampler  # noqa: PLC0415

            if not issubclass(sampler_class, CroppingSampler):
                raise ConfigError(f"[NETWORK] foreground_oversampling = {cfg.network.foreground_oversampling:g} needs "
                                  f"a sampler that crops windows; window_sampling = {cfg.network.window_sampling} "
                                  "does not (use uniform, weighted, balanced or selective).")
            roles["foreground_oversampling"] = cfg.network.foreground_oversampling
        if sampler_class.takes_subjects:  # the volumes' subjects (id, geometry); None if streamed
            roles["subjects"] = volumes if self.volume_cache is None else None
        # Windows larger by an augmentation margin are cut from volumes padded by it, so the window the
        # network sees may lie anywhere the window alone could (samplers that place windows at given
        # voxels, the CSV one, read the volumes as they are).
        margin = tuple(int(m) for m in margin)
        grow = (lambda arrays: self._padded(arrays, margin)) if any(margin) and not sampler_class.takes_subjects \
            else (lambda arrays: arrays)
        if self.volume_cache is None:
            return sampler_class(
                [grow(v.arrays) for v in volumes], window_shape=window,
                windows_per_volume=cfg.training.sample_per_volume, shuffle_buffer=shuffle,
                num_parallel_calls=cfg.system.num_threads, seed=seed, **roles)
        from voxflow.data.samplers.streaming import StreamingSampler  # noqa: PLC0415 - TensorFlow on demand

        def one_volume(arrays: list[Any]) -> Any:
            return sampler_class([grow(a) for a in arrays], window_shape=window, windows_per_volume=cfg.training.sample_per_volume,
                                 shuffle_buffer=1, num_parallel_calls=1, seed=seed, **roles)

        spec = one_volume([self.volume_cache.get(volumes[0])]).element_spec
        return StreamingSampler(volumes, self.volume_cache, one_volume, spec,
                                windows_per_volume=cfg.training.sample_per_volume, shuffle_buffer=shuffle,
                                lookahead=cfg.system.num_threads, seed=seed)

    def _padded(self, arrays: dict[str, np.ndarray], margin: tuple[int, int, int]) -> dict[str, np.ndarray]:
        """``arrays`` padded by ``margin`` voxels on each side: intensities as ``volume_padding_mode``
        pads them, maps (labels, weights) with zeros; per-subject values unchanged."""
        out = {}
        for role, array in arrays.items():
            if np.ndim(array) != 4:
                out[role] = array
                continue
            widths = [(m, m) for m in margin] + [(0, 0)]
            if self.kinds.get(role) is Kind.INTENSITY:
                out[role] = np.pad(array, widths, mode=self.pre.padding_mode)
            else:
                out[role] = np.pad(array, widths, mode="constant")
        return out

    def training_dataset(self, worker: int, seeded: bool) -> Any:
        """Infinite dataset of training windows (unbatched), larger by the layout's margin.

        Each worker of a multi-machine run draws its own windows (the seed is offset by the worker
        index). With ``seeded``, each window carries ``"seed"``: ``(seed, window number)``, the key of
        its random augmentation parameters (reproducible, and independent of the replica).
        """
        seed = int(self.cfg.system.seed) + WORKER_SEED_STEP * int(worker)
        volumes = self.train_ids if self.volume_cache is not None else self.train_volumes
        dataset = self.sampler(volumes, seed, self.layout.fetch_window, self.layout.margin).dataset()
        if not seeded:
            return dataset
        import tensorflow as tf  # noqa: PLC0415

        return dataset.enumerate().map(
            lambda index, window: {**window, "seed": tf.stack([tf.constant(seed, tf.int64), index])})

    def validation_items(self) -> list[tuple[Any, Any]]:
        """``(subject, preprocessed volume)`` of every validation subject (loaded now when streamed)."""
        if self.valid_volumes:
            return list(zip(self.valid_subjects, self.valid_volumes))
        return [(subject, self.pre.load(subject)) for subject in self.valid_subjects]

    def validation_dataset(self) -> Any:
        """The same validation windows every round (fixed seed), or None without validation subjects."""
        volumes = self.valid_ids if self.volume_cache is not None else self.valid_volumes
        if not volumes:
            return None
        return self.sampler(volumes, int(self.cfg.system.seed) + 1).dataset()

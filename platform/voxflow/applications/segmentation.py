"""Segmentation: images (one or more sources as channels) → a label map of ``num_classes``.

Wires the four parts per action:

==========  =====================================  ===========================================
action      reads                                  uses
==========  =====================================  ===========================================
train       image, label, weight?, sampler?        window sampler (``window_sampling``), loss
inference   image                                  grid sampler + grid aggregator, argmax/probs
evaluation  label, inferred outputs                metrics → CSV
==========  =====================================  ===========================================

Nothing here imports TensorFlow at module level, so the CLI can validate a config before paying
for TensorFlow's start-up.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from voxflow import registry
from voxflow.applications import segmentation_outputs as outputs
from voxflow.applications.base import Application
from voxflow.config import Key
from voxflow.config.values import BoolType, ChoiceType, IntType
from voxflow.data.preprocessing import Preprocessor
from voxflow.data.subjects import find_subjects, split_subjects, subjects_to_infer
from voxflow.errors import ConfigError, DataError
from voxflow.roles import Kind, Role

log = logging.getLogger("voxflow")


class SegmentationApplication(Application):
    """The ``net_segment`` application (config section ``[SEGMENTATION]``)."""

    SECTION = "SEGMENTATION"
    ALIASES = ("segmentation", "net_segment")
    CONSOLE_SCRIPT = "net_segment"
    ROLES = (
        Role("image", Kind.INTENSITY, "Input sections whose images are the network input, concatenated as channels.",
             required=True),
        Role("label", Kind.LABEL, "Input section of the label maps.", required=("train", "evaluation")),
        Role("weight", Kind.WEIGHT, "Input section of voxel-wise loss weights."),
        Role("sampler", Kind.WEIGHT, "Input section of sampling-probability maps (weighted/balanced samplers)."),
        Role("inferred", Kind.LABEL, "Input section of segmentations to evaluate (evaluation action)."),
    )
    KEYS = (
        Key("num_classes", IntType(2), None, "Number of classes including background.", required=True),
        Key("output_prob", BoolType(), False, "Write class probabilities instead of the label map."),
        Key("label_normalisation", BoolType(), False, "Map the training label values to 0..K-1 (undone on output)."),
        Key("evaluation_units", ChoiceType(("label", "foreground", "cc")), "label",
            "What evaluation compares: each label, foreground (all labels > 0) vs background, or each connected "
            "component (`cc`) (≠NiftyNet: default `label`, not `foreground`)."),
    )
    KINDS = {role.name: role.kind for role in ROLES}
    # Keys that define a trained model: inference and evaluation take them from settings_train.ini.
    TRAINED_KEYS = (
        *(("network", key) for key in (
            "name", "network_args", "activation_function", "normalisation", "whitening", "histogram_ref_file",
            "norm_type", "cutoff", "normalise_foreground_only", "foreground_type", "multimod_foreground_type",
            "volume_padding_size", "volume_padding_mode")),
        ("app", "num_classes"), ("app", "label_normalisation"),
        ("inputs", "pixdim"), ("inputs", "axcodes"), ("inputs", "interp_order"),
    )

    def __init__(self, cfg: Any, action: str) -> None:
        super().__init__(cfg, action)
        self.num_classes = int(cfg.app.num_classes)
        self.window = self._window_shape()
        flat = [axis for axis, size in enumerate(self.window) if size == 1]
        if len(flat) > 1:
            raise ConfigError(
                f"spatial_window_size {self._window_text()} has {len(flat)} axes of size 1: "
                "expected a 3-D window or a 2-D window with exactly one axis of size 1."
            )
        self.flat_axis = flat[0] if flat else None
        self.spatial_dims = 2 if flat else 3
        self.margin = (0, 0, 0)  # voxels fetched around each training window for spatial augmentation
        self._check_window_fits_memory()
        self.pre: Preprocessor | None = None
        self.train_volumes: list[Any] = []
        self.valid_volumes: list[Any] = []
        # With [SYSTEM] cache_size_mb smaller than the data: subject ids streamed through a VolumeCache.
        self.volume_cache: Any = None
        self.train_ids: list[str] = []
        self.valid_ids: list[str] = []
        self.infer_subjects: list[Any] = []
        self.channels = len(cfg.app.image)
        self._loss_fn: Any = None
        self.augmentation: Any = None  # voxflow.augment.pipeline.Augmentation while training

    # ----------------------------------------------------------------------- config views
    def _window_text(self) -> str:
        return "×".join(str(v) for v in self.window)

    def _window_shape(self) -> tuple[int, int, int]:
        cfg = self.cfg
        if self.action == "inference" and cfg.inference.spatial_window_size:
            return tuple(int(v) for v in cfg.inference.spatial_window_size)
        sections = [s for role in ("image", "label", "weight", "sampler") for s in (getattr(cfg.app, role) or ())]
        windows = {s: tuple(cfg.inputs[s].spatial_window_size) for s in sections
                   if s in cfg.inputs and cfg.inputs[s].spatial_window_size}
        if not windows:
            first = cfg.app.image[0]
            raise ConfigError(
                f"Missing key `spatial_window_size` in [{first}] of {cfg.path}: expected the window size "
                "in voxels, e.g. 64,64,64 (or 96,96,1 for 2-D slices)."
            )
        distinct = set(windows.values())
        if len(distinct) > 1:
            listing = ", ".join(f"[{s}] {'×'.join(map(str, w))}" for s, w in windows.items())
            raise ConfigError(f"Input sections disagree on spatial_window_size ({listing}): voxflow uses one window for every source.")
        return distinct.pop()

    def _check_window_fits_memory(self) -> None:
        """A batch of input windows alone must fit in this machine's memory (the network needs far more)."""
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return
        needed = int(self.cfg.network.batch_size) * math.prod(self.fetch_window) * max(1, len(self.cfg.app.image)) * 4
        if needed > memory:
            margin = f" (plus the augmentation margin {self.margin})" if any(self.margin) else ""
            raise ConfigError(
                f"spatial_window_size {self._window_text()}{margin} with batch_size {self.cfg.network.batch_size} needs "
                f"{needed / 2**30:.3g} GiB for the input windows alone; this machine has {memory / 2**30:.3g} GiB: "
                "choose a smaller window or batch.")

    def _roles(self) -> dict[str, tuple[str, ...]]:
        app = self.cfg.app
        if self.action == "train":
            roles = {"image": tuple(app.image), "label": tuple(app.label)}
            for optional in ("weight", "sampler"):
                if getattr(app, optional):
                    roles[optional] = tuple(getattr(app, optional))
            return roles
        if self.action == "inference":
            return {"image": tuple(app.image)}
        return {"label": tuple(app.label)}

    # ---------------------------------------------------------------------------- prepare
    def prepare(self) -> None:
        """Check everything that can be checked, then load the data the action needs."""
        cfg = self.cfg
        if self.action != "evaluation":
            self._check_network_fits()
        if self.action == "train":
            from voxflow.losses import get_loss  # noqa: PLC0415 - TensorFlow on demand

            self._loss_fn = get_loss(cfg.training.loss_type, search_dirs=(cfg.config_dir,))
            self._prepare_augmentation()
        roles = self._roles()
        self.pre = Preprocessor(cfg, roles, min_shape=self.fetch_window, kinds=self.KINDS)
        if self.action == "evaluation":
            from voxflow.evaluation.metrics import resolve_metrics  # noqa: PLC0415

            try:
                resolve_metrics(cfg.evaluation.evaluations)
            except ValueError as err:
                raise ConfigError(f"Invalid value for `evaluations` in [EVALUATION] of {cfg.path}: {err}") from err
            self.pre.load_state()
            return
        sections = tuple(dict.fromkeys(s for names in roles.values() for s in names))
        subjects = find_subjects(cfg, sections=sections)
        parts = split_subjects([s.id for s in subjects], cfg, self.action)
        by_id = {s.id: s for s in subjects}
        if self.action == "inference":
            self.pre.load_state()
            wanted = subjects_to_infer(parts, cfg.inference.dataset_to_infer)
            self.infer_subjects = [by_id[i] for i in wanted if i in by_id]
            if not self.infer_subjects:
                raise DataError(f"No subject to infer (dataset_to_infer = '{cfg.inference.dataset_to_infer or 'default'}').")
            outputs.check_outputs(self)
            return
        training = [by_id[i] for i in parts["training"] if i in by_id]
        validation = [by_id[i] for i in parts["validation"] if i in by_id]
        if not training:
            raise DataError(f"No training subject: every subject is in validation/inference of {cfg.system.dataset_split_file}.")
        self.pre.fit(training)
        streamed, first = self._stream_if_over_budget(training, validation)
        if not streamed:  # the first volume, if loaded for the budget estimate, is not loaded twice
            self.train_volumes = [first, *self._load(training[1:])] if first else self._load(training)
            self.valid_volumes = self._load(validation)
            self.channels = int(self.train_volumes[0].arrays["image"].shape[-1])
        log.info("training on %d subjects, validating on %d; window %s, %d-D network",
                 len(training), len(validation), self._window_text(), self.spatial_dims)
        if cfg.training.validation_every_n > 0 and not validation:
            log.warning("validation_every_n > 0 but there is no validation subject: validation skipped")

    @property
    def fetch_window(self) -> tuple[int, int, int]:
        """The window the training sampler cuts: the configured one plus the augmentation margin."""
        return tuple(w + 2 * m for w, m in zip(self.window, self.margin))

    def _prepare_augmentation(self) -> None:
        """Build the augmentation layers and the margin that spatial ones need (docs/augmentation.md)."""
        from voxflow.augment.steps import augmentation_steps  # noqa: PLC0415

        steps = augmentation_steps(self.cfg)
        if not steps:
            return
        from voxflow.augment.pipeline import Augmentation  # noqa: PLC0415 - TensorFlow on demand

        first = self.cfg.inputs[self.cfg.app.image[0]]
        spacing = tuple(first.pixdim) if first.pixdim else (1.0, 1.0, 1.0)
        seed = None if self.cfg.system.seed is None else int(self.cfg.system.seed)
        self.augmentation = Augmentation(steps, spacing=spacing, seed=seed, maps=self.KINDS)
        if self.augmentation.spatial:
            self.margin = self.augmentation.margin(self.window)
            self._check_window_fits_memory()
        log.info("augmentation: %s; margin %s voxels", ", ".join(n for n, _ in steps), self.margin)

    def augment(self, batch: dict) -> dict:
        """Augment a training batch on its device (inside the train step) and crop it to the window."""
        if not self.augmentation:
            return batch
        return self.augmentation(batch, margin=self.margin)

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
        self.channels = int(first.arrays["image"].shape[-1])
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

    def _load(self, subjects: list[Any]) -> list[Any]:
        workers = max(1, int(self.cfg.system.num_threads))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.pre.load, subjects))

    def _network_class(self) -> Any:
        return registry.resolve("network", self.cfg.network.name, search_dirs=(self.cfg.config_dir,))

    def _check_network_fits(self) -> None:
        from voxflow.networks import check_window  # noqa: PLC0415 - TensorFlow on demand

        net_class = self._network_class()
        spatial = [v for v in self.window if v != 1] if self.flat_axis is not None else list(self.window)
        try:
            check_window(net_class, tuple(spatial))
        except ValueError as err:
            raise ConfigError(f"spatial_window_size {self._window_text()} cannot be used with [NETWORK] name = "
                              f"{self.cfg.network.name}: {err}") from err

    # ---------------------------------------------------------------------------- network
    def build_network(self) -> Any:
        """The network named in ``[NETWORK]`` with its ``network_args``, built on one example window.

        Raises:
            ConfigError: ``network_args`` the network does not take.
            PluginError: a plugin network that fails to build, is not a ``keras.Model``, or does not
                return one logit per class at every voxel of its input window.
        """
        import keras  # noqa: PLC0415

        from voxflow.networks.contract import build_network  # noqa: PLC0415

        cfg = self.cfg.network
        regulariser = None
        if cfg.decay > 0:
            regulariser = keras.regularizers.L1(cfg.decay) if cfg.reg_type == "L1" else keras.regularizers.L2(cfg.decay)
        kwargs = dict(num_classes=self.num_classes, spatial_dims=self.spatial_dims, acti_func=cfg.activation_function,
                      keep_prob=cfg.keep_prob, w_initializer=cfg.weight_initializer, w_regularizer=regulariser,
                      **dict(cfg.network_args or {}))
        try:
            return build_network(self._network_class(), kwargs, self.example_input(), self.num_classes,
                                 f"[NETWORK] name = {cfg.name}", plugin=not registry.is_builtin("network", cfg.name))
        except TypeError as err:
            raise ConfigError(f"Invalid [NETWORK] network_args for {cfg.name}: {err}") from err

    def checkpoint_info(self) -> dict[str, Any]:
        """The network's input shape, so ``export`` can rebuild it without reading data."""
        return {"input_shape": [int(v) for v in self.example_input().shape]}

    def configure_from_checkpoint(self, info: dict[str, Any]) -> None:
        """The channel count of the saved input shape (``export`` reads no image)."""
        if info.get("input_shape"):
            self.channels = int(info["input_shape"][-1])

    def example_input(self) -> Any:
        """A zero batch of one window, shaped as the network sees it (builds the model)."""
        shape = [v for i, v in enumerate(self.window) if i != self.flat_axis]
        return np.zeros((1, *shape, self.channels), dtype=np.float32)

    def to_network_layout(self, tensor: Any) -> Any:
        """Drop the singleton axis of 2-D windows: (B, X, Y, 1, C) → (B, X, Y, C)."""
        import tensorflow as tf  # noqa: PLC0415

        return tensor if self.flat_axis is None else tf.squeeze(tensor, axis=1 + self.flat_axis)

    def from_network_layout(self, tensor: Any) -> Any:
        """Restore the singleton axis of 2-D windows: (B, X, Y, K) → (B, X, Y, 1, K)."""
        import tensorflow as tf  # noqa: PLC0415

        return tensor if self.flat_axis is None else tf.expand_dims(tensor, axis=1 + self.flat_axis)

    def network_input(self, batch: dict) -> Any:
        """The image windows of a batch in the network's layout."""
        return self.to_network_layout(batch["image"])

    # ------------------------------------------------------------------------------- data
    def _sampler(self, volumes: list[Any], seed: int, window: tuple[int, int, int] | None = None) -> Any:
        cfg = self.cfg
        sampler_class = registry.resolve("sampler", cfg.network.window_sampling, search_dirs=(cfg.config_dir,))
        # NiftyNet's rule: the window queue holds at least five batches.
        shuffle = max(cfg.network.queue_length, 5 * cfg.network.batch_size)
        roles = {"kinds": self.KINDS, "sampling_role": "sampler"}
        if self.volume_cache is None:
            return sampler_class(
                [v.arrays for v in volumes], window_shape=window or self.window,
                windows_per_volume=cfg.training.sample_per_volume,
                shuffle_buffer=shuffle, num_parallel_calls=cfg.system.num_threads, seed=seed, **roles)
        from voxflow.data.samplers.streaming import StreamingSampler  # noqa: PLC0415 - TensorFlow on demand

        def one_volume(arrays: list[Any]) -> Any:
            return sampler_class(arrays, window_shape=window or self.window,
                                 windows_per_volume=cfg.training.sample_per_volume,
                                 shuffle_buffer=1, num_parallel_calls=1, seed=seed, **roles)

        keys = volumes  # subject ids when streaming
        spec = one_volume([self.volume_cache.get(keys[0])]).element_spec
        return StreamingSampler(keys, self.volume_cache, one_volume, spec,
                                windows_per_volume=cfg.training.sample_per_volume, shuffle_buffer=shuffle,
                                lookahead=cfg.system.num_threads, seed=seed)

    def training_dataset(self, worker: int = 0) -> Any:
        """Infinite dataset of training windows (unbatched), larger by the augmentation margin.

        Each worker of a multi-machine run draws its own windows (the seed is offset by the worker
        index). With augmentation, each window carries ``"seed"``: ``(seed, window number)``, the key
        of its random augmentation parameters (reproducible, and independent of the replica).
        """
        seed = int(self.cfg.system.seed) + 7919 * int(worker)
        volumes = self.train_ids if self.volume_cache is not None else self.train_volumes
        dataset = self._sampler(volumes, seed, self.fetch_window).dataset()
        if not self.augmentation:
            return dataset
        import tensorflow as tf  # noqa: PLC0415

        return dataset.enumerate().map(
            lambda index, window: {**window, "seed": tf.stack([tf.constant(seed, tf.int64), index])})

    def validation_dataset(self) -> Any:
        """The same validation windows every round (fixed seed), or None without validation subjects."""
        volumes = self.valid_ids if self.volume_cache is not None else self.valid_volumes
        if not volumes:
            return None
        return self._sampler(volumes, int(self.cfg.system.seed) + 1).dataset()

    # ------------------------------------------------------------------------------- loss
    def losses(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """``[TRAINING] loss_type`` on a batch of logits (weight map applied if configured)."""
        weight = self.to_network_layout(batch["weight"]) if "weight" in batch else None
        return {"loss": self._loss_fn(self.to_network_layout(batch["label"]), outputs, weight)}

    def validation_metrics(self, batch: dict, logits: Any) -> dict[str, float]:
        """Per-class Dice of the argmax prediction on one (local) batch."""
        from voxflow.evaluation.metrics import per_class_dice  # noqa: PLC0415

        prediction = np.argmax(np.asarray(self.from_network_layout(logits)), axis=-1)
        reference = np.asarray(batch["label"])[..., 0].astype(np.int64)
        dice = per_class_dice(reference, prediction, self.num_classes)
        return {f"dice_class_{k}": float(dice[k]) for k in range(1, self.num_classes)}

    def summary_images(self, batch: dict, logits: Any) -> dict[str, np.ndarray]:
        """Image, label and prediction of the first window, for TensorBoard (un-augmented, centre crop)."""
        prediction = np.argmax(np.asarray(self.from_network_layout(logits))[0], axis=-1)
        m = [int(v) for v in self.margin] if np.asarray(batch["image"]).shape[1:4] != self.window else [0, 0, 0]
        crop = (0, slice(m[0], m[0] + self.window[0]), slice(m[1], m[1] + self.window[1]),
                slice(m[2], m[2] + self.window[2]), 0)
        return {"image": np.asarray(batch["image"])[crop], "label": np.asarray(batch["label"])[crop],
                "prediction": prediction.astype(np.float32)}

    # ------------------------------------------------------------------ inference, evaluation
    def infer(self, models: dict[str, Any], strategy: Any) -> dict:
        """Segment every subject to infer; see :mod:`voxflow.applications.segmentation_outputs`."""
        return outputs.infer(self, models["network"], strategy)

    def evaluate(self) -> dict:
        """Metrics of the inferred outputs against the labels, to CSV."""
        return outputs.evaluate(self)

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines printed by the console script."""
        return outputs.report(action, result)

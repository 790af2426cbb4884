"""The planner: a U-Net training recipe derived from a data fingerprint, by nnU-Net's rules.

Every planned value carries its reason (``Plan.rows()``). The rules (nnU-Net: Isensee et al.,
Nature Methods 2021, and its default experiment planner, unless said otherwise):

Target spacing: the per-axis median of the case spacings. If the median's coarsest axis is more than
    3× (:data:`ANISOTROPY_THRESHOLD`) the largest other one *and* has 3× fewer voxels (median shape)
    than the smallest other one, it takes the 10th percentile of its spacings, never below the
    largest other spacing. The median shape is then the per-axis median of the resampled case shapes.
Topology: level by level, an axis is pooled (×2) while it has at least 8 voxels (the coarsest feature
    map keeps an edge >= 4) and its spacing is < 2× the finest spacing of the axes still large enough,
    so anisotropic data is pooled in-plane first; one axis pooled alone needs 12 voxels. Each window
    axis is a multiple of its pooling factor. Features ``base·2^level`` up to ``max``: GPU 32 and 320
    (512 in 2-D); CPU 8 and 64, since a convolution costs ``features²`` and 2 cores must stay near
    1 s per iteration.
Memory model: bytes = batch × Σ_levels voxels × features × :data:`TENSORS_PER_LEVEL` × 4 (float32) +
    12 bytes per parameter (weights, gradients, momentum). ``TENSORS_PER_LEVEL = 44`` stands for what a
    step keeps per voxel and feature of a level (encoder 2 × conv/norm/activation, decoder up-sampling,
    2-wide concatenation, 2 × conv/norm/activation, gradients, allocator slack). Measured: peak
    resident memory of voxflow's UNet training step (TensorFlow 2.21, CPU, instance norm, SGD) over
    that sum was 33-43 for 48³-96³ windows, batch 2, depth 3-4, 8-16 base features (20 at 32³).
Window and batch: the window starts isotropic in mm with nnU-Net's 256³ voxels (2-D: 2048²), clipped
    to the median shape and rounded *down* to the pooling factors (nnU-Net pads up; down keeps it
    inside the median image); while a batch of 2 does not fit, the axis largest relative to the median
    shape (ties: longest in mm) loses one pooling factor. The batch starts at 2 and grows while it fits
    and covers at most 5% of the dataset's voxels (median shape × cases).
Budget: GPU: ``memory_gb`` (default 8, nnU-Net's) minus 1 GB (CUDA context, cuDNN workspaces,
    allocator). CPU: 1.5 GB and at most 262 144 × ``cpu_cores`` voxels per iteration (batch × window):
    with oneDNN a 64³ batch of 2 with 8 base features trains in ~1 s on 2 cores (~270 000 voxels/s
    per core, :data:`CPU_VOXELS_PER_SECOND_PER_CORE`), so 2 cores get 524 288 voxels (2 × 64³).
Normalisation: CT-like channels: ``intensity_clip`` at the foreground 0.5/99.5 percentiles and
    ``fixed_whitening`` with the clipped foreground's mean and std, dataset-wide (nnU-Net uses the
    unclipped ones). Others: per-image z-score (``whitening = True``) over the whole image
    (``normalise_foreground_only = False``, nnU-Net's default) unless the median case has < 3/4 of its
    volume inside its non-zero box (skull-stripped, masked): then inside the non-zero mask
    (``normalise_foreground_only = True``, ``foreground_type = threshold_plus``), as nnU-Net.
Augmentation: ``[AUGMENTATION] random_affine`` with rotation ±15° (nnU-Net: ±30°, but it rotates
    larger crops; voxflow rotates the window, so big angles pad its corners), about the coarse axis
    only when the window is > 3× thinner along it (nnU-Net's 2-D augmentation), zoom 0.85-1.25
    (nnU-Net: 0.7-1.4), on a fifth of the windows (nnU-Net's probability 0.2; NiftyNet's
    ``rotation_angle`` and ``scaling_percentage`` warp every window), and flips on every spatial
    axis (``random_flipping_axes``) with the same mirroring at test time (``tta_mirror_axes``) — on a
    GPU. A CPU plan's few hundred iterations are spent better on images close to the real ones: no
    rotation/zoom, and flips (training and test time) across the left-right axis only, the array
    axis closest to world x in most cases' affines (anatomy is mirror-symmetric across it); no bias
    field (nnU-Net has none).
Training: GPU ``sgd_nesterov`` (momentum 0.99) with ``lr = 0.01`` (nnU-Net's, tuned for 250 000
    iterations); CPU ``adam`` with ``lr = 0.003``, which reaches a usable model within the few hundred
    iterations 2 cores allow; both with the ``poly`` schedule (0.9), ``DicePlusXEnt``,
    ``foreground_oversampling = 0.33``, no histogram standardisation (nnU-Net's); GPU instance norm
    and deep supervision (nnU-Net's), CPU batch norm and one output (cheaper, and better within
    minutes on the demo).
    ``max_iter``: GPU 250 000 (1000 epochs × 250), whole-volume validation and checkpoints every
    ``max_iter / 10``; CPU what :data:`CPU_TRAIN_SECONDS` (10 minutes) allow at the measured voxel rate
    (multiples of 50, at least 100: 600 for the demo), validation four times (a round infers every
    validation volume, ~5 s for the demo's one);
    ``exclude_fraction_for_validation = 0.2`` (one of nnU-Net's 5 folds).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxflow.errors import ConfigError, DataError
from voxflow.planning.fingerprint import Fingerprint

ANISOTROPY_THRESHOLD = 3.0
MIN_FEATURE_EDGE = 4
TENSORS_PER_LEVEL = 44
BYTES_PER_VALUE = 4
GPU_DEFAULT_GB = 8.0
GPU_RESERVE_GB = 1.0
CPU_MEMORY_GB = 1.5
CPU_VOXELS_PER_CORE = 262_144
MIN_BATCH = 2
MAX_DATASET_FRACTION = 0.05
INITIAL_VOXELS = {3: 256**3, 2: 2048**2}
FEATURES = {"gpu": (32, 320), "cpu": (8, 64)}
GPU_MAX_FEATURES_2D = 512
MAX_ITER = {"gpu": 250_000}
#: CPU training: voxels (batch x window) one core trains per second with oneDNN (measured: 64^3 windows,
#: batch 2, 2 cores of an AMD EPYC without AVX-512, ~1 s per iteration), and the training time planned:
#: on the demo 500 iterations scored CSF/GM/WM Dice 0.787/0.959/0.950, 600 iterations 0.803/0.962/0.953.
CPU_VOXELS_PER_SECOND_PER_CORE = 270_000
CPU_TRAIN_SECONDS = 600
CPU_MIN_ITER = 100
#: Validation rounds per run (each infers every validation volume: costly on a CPU).
ROUNDS = {"gpu": 10, "cpu": 4}
GIB = 1024**3


@dataclass
class PlannedKey:
    """One configuration value: ``[section] key = value`` and why (``value`` None: leave unset)."""

    section: str
    key: str
    value: Any
    why: str


@dataclass
class ChannelNormalisation:
    """How one image channel is normalised (``clip``/``whitening`` None: per-image z-score)."""

    section: str
    ct_like: bool
    clip: tuple[float, float] | None
    whitening: tuple[float, float] | None
    why: str


@dataclass
class Plan:
    """The planned recipe (rules in the module docstring); ``why`` holds the reason of each item.

    Attributes:
        target_spacing: ``pixdim`` (mm, 3 values); ``median_shape``: after resampling.
        window: ``spatial_window_size`` (3 values; 2-D: the last is 1).
        memory_bytes, budget_bytes: the memory model's estimate for the plan, and the budget.
        channels: one :class:`ChannelNormalisation` per image channel.
        keys: the planned keys of the system and application sections.
        notes: warnings (no window fits, label values not 0..K-1).
    """

    device: str
    spatial_dims: int
    target_spacing: tuple[float, ...]
    median_shape: tuple[int, ...]
    window: tuple[int, ...]
    batch_size: int
    pool_sizes: tuple[tuple[int, ...], ...]
    base_features: int
    max_features: int
    memory_bytes: float
    budget_bytes: float
    channels: list[ChannelNormalisation]
    why: dict[str, str]
    keys: list[PlannedKey] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cpu_cores: int = 2

    @property
    def depth(self) -> int:
        """Number of pooling levels."""
        return len(self.pool_sizes)

    def to_json(self) -> str:
        """The plan as indented JSON text."""
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    def rows(self) -> list[tuple[str, str, str]]:
        """``(item, value, why)`` triples for a printed table: geometry, normalisation, then keys."""
        memory = f"{self.memory_bytes / GIB:.2f} of {self.budget_bytes / GIB:.2f} GiB"
        items = [("target spacing (mm)", self.target_spacing), ("median shape (voxels)", self.median_shape),
                 ("window (voxels)", self.window), ("batch size", self.batch_size),
                 ("pool sizes", self.pool_sizes), ("memory estimate", memory)]
        out = [(name, value_text(value), self.why.get(name, "")) for name, value in items]
        for c in self.channels:
            value = f"clip {value_text(c.clip)}; whiten {value_text(c.whitening)}" if c.ct_like else "z-score per image"
            out.append((f"[{c.section or '?'}] normalisation", value, c.why))
        return out + [(f"[{k.section}] {k.key}", value_text(k.value), k.why) for k in self.keys]


def value_text(value: Any) -> str:
    """A value as written in an INI file: sequences comma-separated, nested ones in parentheses.

    Example:
        >>> value_text(((1, 2, 2), (2, 2, 2)))
        '(1, 2, 2), (2, 2, 2)'
    """
    if value is None:
        return "(unset)"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return ", ".join(f"({value_text(v)})" if isinstance(v, (tuple, list)) else value_text(v) for v in value)
    return str(value)


def target_spacing(fp: Fingerprint) -> tuple[np.ndarray, int | None]:
    """The target spacing, and the anisotropic axis that took the 10th percentile (None if none)."""
    spacings = np.asarray(fp.spacings, dtype=np.float64)
    target = np.median(spacings, axis=0)
    shape = np.median(np.asarray(fp.shapes, dtype=np.float64), axis=0)
    coarse = int(np.argmax(target))
    others = [a for a in range(len(target)) if a != coarse]
    finest_other = max(target[a] for a in others)
    if (target[coarse] <= ANISOTROPY_THRESHOLD * finest_other
            or shape[coarse] * ANISOTROPY_THRESHOLD >= min(shape[a] for a in others)):
        return target, None
    target[coarse] = max(float(np.percentile(spacings[:, coarse], 10)), finest_other)
    return target, coarse


def pool_sizes(spacing: Any, window: Any, spatial_dims: int = 3) -> tuple[tuple[int, ...], ...]:
    """nnU-Net's pooling topology of ``window`` at ``spacing`` (only the first ``spatial_dims`` axes)."""
    size = [float(s) for s in window[:spatial_dims]]
    spacing = [float(s) for s in spacing[:spatial_dims]]
    levels = []
    while True:
        valid = [a for a in range(spatial_dims) if size[a] >= 2 * MIN_FEATURE_EDGE]
        finest = min((spacing[a] for a in valid), default=0.0)
        valid = [a for a in valid if spacing[a] / finest < 2]
        if not valid or (len(valid) == 1 and size[valid[0]] < 3 * MIN_FEATURE_EDGE):
            return tuple(levels)
        for a in valid:
            spacing[a] *= 2
            size[a] = math.ceil(size[a] / 2)
        levels.append(tuple(2 if a in valid else 1 for a in range(spatial_dims)))


def _divisors(pools: tuple[tuple[int, ...], ...], dims: int) -> list[int]:
    return [int(np.prod([p[a] for p in pools])) for a in range(dims)]


def _parameters(features: list[int], in_channels: int, num_classes: int, dims: int) -> int:
    k = 3**dims
    total = k * (in_channels * features[0] + features[0] ** 2) + features[0] * num_classes
    for f_in, f in zip(features, features[1:]):
        total += k * (f_in * f + f * f) + 2**dims * f * f_in + k * 3 * f_in * f_in  # encoder; up + decoder
    return total


def estimate_memory(window: Any, batch: int, pools: tuple[tuple[int, ...], ...], base_features: int,
                    max_features: int, in_channels: int = 1, num_classes: int = 2) -> float:
    """Bytes of a U-Net training step by the memory model (module docstring).

    Example:
        >>> round(estimate_memory((64, 64, 64), 2, ((2, 2, 2),) * 3, 8, 64) / 2**20)
        939
    """
    dims = len(pools[0]) if pools else len(window)
    size = np.asarray(window[:dims], dtype=np.float64)
    features = [min(base_features * 2**level, max_features) for level in range(len(pools) + 1)]
    units = 0.0
    for level, f in enumerate(features):
        units += float(np.prod(size)) * f
        size = np.ceil(size / np.asarray(pools[level])) if level < len(pools) else size
    return (batch * units * TENSORS_PER_LEVEL * BYTES_PER_VALUE
            + 3 * BYTES_PER_VALUE * _parameters(features, in_channels, num_classes, dims))


def _rounded(window: list[int], spacing: np.ndarray, dims: int) -> tuple[list[int], tuple]:
    """``window`` rounded down to its pooling factors, repeated until the topology is stable."""
    for _ in range(16):
        div = _divisors(pool_sizes(spacing, window, dims), dims)
        fitted = [max(div[a], window[a] // div[a] * div[a]) for a in range(dims)]
        if fitted == window:
            break
        window = fitted
    return window, pool_sizes(spacing, window, dims)


def _budget(device: str, memory_gb: float | None, cpu_cores: int) -> tuple[float, float, str]:
    """(bytes, voxels per iteration, description) of the budget."""
    if device == "gpu":
        gb = GPU_DEFAULT_GB if memory_gb is None else float(memory_gb)
        if gb <= GPU_RESERVE_GB:
            raise ConfigError(f"Invalid memory_gb {gb:g}: expected more than the {GPU_RESERVE_GB:g} GB reserve.")
        return (gb - GPU_RESERVE_GB) * GIB, math.inf, f"{gb:g} GB GPU minus {GPU_RESERVE_GB:g} GB reserve"
    if device != "cpu":
        raise ConfigError(f"Invalid device {device!r}. Expected one of: cpu, gpu.")
    if cpu_cores < 1:
        raise ConfigError(f"Invalid cpu_cores {cpu_cores}: expected at least 1.")
    gb, cap = CPU_MEMORY_GB if memory_gb is None else float(memory_gb), CPU_VOXELS_PER_CORE * cpu_cores
    return gb * GIB, cap, f"CPU: {gb:g} GB, <= {cap} voxels per iteration on {cpu_cores} core(s)"


def plan(fp: Fingerprint, *, device: str = "cpu", memory_gb: float | None = None, cpu_cores: int = 2,
         spatial_dims: int = 3) -> Plan:
    """Plans spacing, window, batch, topology, normalisation and training for ``fp``.

    Args:
        fp: the dataset fingerprint.
        device: ``"cpu"`` or ``"gpu"``: the budget and the feature counts.
        memory_gb: GPU memory (default 8) or, on CPU, the memory budget (default 1.5).
        cpu_cores: cores of the CPU budget.
        spatial_dims: 3, or 2 for slices across the last axis (voxflow's 2-D windows are ``(X, Y, 1)``).

    Raises:
        ConfigError: an unknown device, ``spatial_dims`` not 2 or 3, or no memory left.
        DataError: images too small for one pooling level.
    """
    if spatial_dims not in (2, 3):
        raise ConfigError(f"Invalid spatial_dims {spatial_dims!r}. Expected 2 or 3.")
    budget, voxel_cap, budget_why = _budget(device, memory_gb, cpu_cores)
    spacing, aniso_axis = target_spacing(fp)
    resampled = [np.round(np.asarray(s) * np.asarray(sp) / spacing) for s, sp in zip(fp.shapes, fp.spacings)]
    median = np.maximum(np.round(np.median(resampled, axis=0)), 1).astype(int)
    dims, (base, cap) = spatial_dims, FEATURES[device]
    cap = GPU_MAX_FEATURES_2D if device == "gpu" and dims == 2 else cap

    def cost(win: list[int], pools: tuple, batch: int) -> float:
        return estimate_memory(win, batch, pools, base, cap, len(fp.channels), fp.num_classes)

    def fits(win: list[int], pools: tuple, batch: int) -> bool:
        return cost(win, pools, batch) <= budget and batch * float(np.prod(win)) <= voxel_cap

    inverse = 1.0 / spacing[:dims]
    start = inverse * (INITIAL_VOXELS[dims] / np.prod(inverse)) ** (1 / dims)
    window, pools = _rounded([int(min(round(s), m)) for s, m in zip(start, median)], spacing, dims)
    shrunk = 0
    while not fits(window, pools, MIN_BATCH):
        div = _divisors(pools, dims)
        room = [a for a in range(dims) if window[a] > div[a]]
        if not room:
            break
        axis = max(room, key=lambda a: (window[a] / median[a], window[a] * spacing[a]))
        window[axis] -= div[axis]
        window, pools = _rounded(window, spacing, dims)
        shrunk += 1
    if not pools:
        raise DataError(f"The median image ({value_text(median.tolist())} voxels after resampling) is too small for "
                        f"a U-Net: expected at least {3 * MIN_FEATURE_EDGE} voxels along an axis.")
    dataset_voxels = float(np.prod(median)) * fp.num_cases
    batch = MIN_BATCH
    while (batch < 512 and fits(window, pools, batch + 1)
           and (batch + 1) * float(np.prod(window)) <= MAX_DATASET_FRACTION * dataset_voxels):
        batch += 1
    why = {
        "target spacing (mm)": "per-axis median of the case spacings" if aniso_axis is None else
        f"median; anisotropic axis {aniso_axis} (> {ANISOTROPY_THRESHOLD:g}x): 10th percentile of its spacings",
        "median shape (voxels)": "per-axis median over cases, resampled to the target spacing",
        "window (voxels)": ("median shape" + (f", shrunk {shrunk}x until a batch of 2 fits" if shrunk else "")
                            + f"; multiples of {value_text(_divisors(pools, dims))}; {budget_why}"),
        "batch size": (f"grown from {MIN_BATCH} while it fits and covers <= {MAX_DATASET_FRACTION:.0%} of the "
                       f"dataset's {dataset_voxels:.3g} voxels"),
        "pool sizes": "pool an axis while >= 8 voxels and < 2x the finest spacing (in-plane first)",
        "memory estimate": f"{TENSORS_PER_LEVEL} float32 per level voxel and feature, x batch; 12 B per parameter",
    }
    result = Plan(device, dims, tuple(float(s) for s in spacing), tuple(int(m) for m in median),
                  tuple(window) + (1,) * (3 - dims), batch, pools, base, cap, cost(window, pools, batch), budget,
                  _normalisation(fp), why, cpu_cores=cpu_cores)
    if not fits(window, pools, MIN_BATCH):
        result.notes.append(f"no window fits the budget ({budget_why}): the smallest one is used")
    if not fp.labels_contiguous:
        result.notes.append(f"label values {fp.label_values} are not 0..K-1: label_normalisation = True maps them")
    result.keys = _keys(result, fp)
    return result


def _normalisation(fp: Fingerprint) -> list[ChannelNormalisation]:
    out = []
    for c in fp.channels:
        if c.ct_like:
            why = f"CT ({c.ct_reason}): clip at foreground 0.5/99.5 pct, whiten with clipped mean/std"
            out.append(ChannelNormalisation(c.section, True, (c.p00_5, c.p99_5), (c.clipped_mean, c.clipped_std), why))
        else:
            out.append(ChannelNormalisation(c.section, False, None, None, f"not CT ({c.ct_reason}): z-score"))
    return out


def _keys(p: Plan, fp: Fingerprint) -> list[PlannedKey]:
    """The keys of the system and application sections (rules in the module docstring)."""
    zscore = any(not c.ct_like for c in p.channels)
    masked = zscore and float(np.median(fp.nonzero_fractions)) < 0.75
    coarse = int(np.argmax(p.target_spacing[:p.spatial_dims]))
    in_plane = p.spatial_dims == 3 and max(p.window) > ANISOTROPY_THRESHOLD * p.window[coarse]
    steps, steps_why = _iterations(p)
    gpu = p.device == "gpu"
    args = dict(base_features=p.base_features, depth=p.depth, pool_sizes=p.pool_sizes,
                max_features=p.max_features, norm="instance" if gpu else "batch", deep_supervision=gpu)
    rotation, key = (-15.0, 15.0), PlannedKey
    left_right = _left_right(fp, p.spatial_dims)
    mirror = tuple(range(p.spatial_dims)) if gpu else (left_right,) if left_right is not None else ()
    mirror_why = ("mirror every spatial axis (nnU-Net)" if gpu else
                  f"mirror the left-right axis {left_right} only (world x of the affines: anatomy stays "
                  "anatomical); every axis costs a CPU's few hundred iterations (docs/recipe.md)" if mirror else
                  "no left-right axis among the spatial axes: no mirroring")
    keys = [
        key("NETWORK", "name", "unet", "a U-Net, as nnU-Net"),
        key("NETWORK", "network_args", ", ".join(f"{k}={_arg(v)}" for k, v in args.items()),
            f"features {p.base_features} doubling per level up to {p.max_features} ({p.device}); " +
            ("instance norm; losses at every decoder scale (deep supervision, nnU-Net)" if gpu else
             "batch norm, one output: on the demo's 500 CPU iterations, instance norm with deep supervision "
             "and rotation/zoom trained 6% slower and scored GM/WM Dice 0.953/0.941 against 0.959/0.950")),
        key("NETWORK", "batch_size", p.batch_size, p.why["batch size"]),
        key("NETWORK", "whitening", zscore,
            "z-score per image (non-CT channels)" if zscore else "all channels CT: fixed clip and whitening"),
        key("NETWORK", "normalise_foreground_only", masked, "median case < 3/4 inside its non-zero box: use the "
            "non-zero mask (nnU-Net)" if masked else "whole image (nnU-Net's default z-score)"),
        *([key("NETWORK", "foreground_type", "threshold_plus", "mask = voxels > 0 (nnU-Net's non-zero mask)")]
          if masked else []),
        key("NETWORK", "normalisation", False, "no histogram standardisation (nnU-Net has none)"),
        key("NETWORK", "foreground_oversampling", 0.33, "a third of the windows centred on foreground (nnU-Net)"),
        *([key("TRAINING", "optimiser", "sgd_nesterov", "SGD with Nesterov momentum 0.99 (nnU-Net)"),
           key("TRAINING", "lr", 0.01, "nnU-Net's initial learning rate")] if p.device == "gpu" else
          [key("TRAINING", "optimiser", "adam", "Adam: usable within the few hundred iterations of a CPU "
               "(nnU-Net's SGD is tuned for 250 000)"),
           key("TRAINING", "lr", 0.003, "Adam's rate of the voxflow demo")]),
        key("TRAINING", "lr_schedule", "poly", "lr x (1 - iter / max_iter)^0.9 (nnU-Net)"),
        key("TRAINING", "loss_type", "DicePlusXEnt", "Dice + cross-entropy (nnU-Net)"),
        key("TRAINING", "max_iter", steps, steps_why),
        key("TRAINING", "validation_mode", "volumes", "score whole validation volumes (Dice per class)"),
        key("TRAINING", "validation_every_n", steps // ROUNDS[p.device], f"{ROUNDS[p.device]} validation rounds"),
        key("TRAINING", "save_every_n", steps // ROUNDS[p.device], "a checkpoint at every validation round"),
        key("TRAINING", "exclude_fraction_for_validation", 0.2, "one fold of nnU-Net's five"),
        key("TRAINING", "rotation_angle", None, "rotation and zoom are [AUGMENTATION] random_affine, with a probability"),
        key("TRAINING", "scaling_percentage", None, "rotation and zoom are [AUGMENTATION] random_affine, with a probability"),
        key("AUGMENTATION", "random_affine", _affine(in_plane, coarse, rotation) if gpu else None,
            (("in-plane rotation only (window > 3x thinner on the coarse axis); " if in_plane else "") +
             "+-15 deg, zoom 0.85-1.25, on a fifth of the windows (nnU-Net's probability 0.2)") if gpu else
            "no rotation/zoom on a CPU: the warps cost a sixth of each iteration, and a few hundred "
            "iterations are spent better on the images as they are"),
        key("TRAINING", "random_flipping_axes", mirror or None, mirror_why),
        key("TRAINING", "bias_field_range", None, "no bias field (nnU-Net has none)"),
        key("INFERENCE", "tta_mirror_axes", mirror or None,
            "average the predictions of every mirrored copy of each window (nnU-Net's test-time mirroring)"
            if mirror else "no test-time mirroring for a network not trained on mirrored images"),
        key("SEGMENTATION", "postprocessing", "auto",
            "keep the largest components only where that raises the validation Dice (nnU-Net's rule)"),
        key("SEGMENTATION", "num_classes", fp.num_classes, f"label values {fp.label_values}"),
        key("SEGMENTATION", "label_normalisation", not fp.labels_contiguous,
            "labels are 0..K-1" if fp.labels_contiguous else "map the label values to 0..K-1"),
    ]
    return keys


def _left_right(fp: Fingerprint, spatial_dims: int) -> int | None:
    """The array axis most cases have closest to world x (left-right), if it is a spatial axis of
    the windows; axis 0 for fingerprints that did not record it."""
    axes = fp.left_right_axes or [0]
    axis = max(set(axes), key=axes.count)
    return axis if axis < spatial_dims else None


def _iterations(p: Plan) -> tuple[int, str]:
    """``max_iter`` and why: GPU nnU-Net's 250 000; CPU what ``CPU_TRAIN_SECONDS`` allow at
    ``CPU_VOXELS_PER_SECOND_PER_CORE`` (multiples of 50, at least ``CPU_MIN_ITER``)."""
    if p.device == "gpu":
        return MAX_ITER["gpu"], "nnU-Net's 1000 epochs x 250 iterations"
    seconds = p.batch_size * float(np.prod(p.window)) / (CPU_VOXELS_PER_SECOND_PER_CORE * p.cpu_cores)
    steps = max(CPU_MIN_ITER, int(CPU_TRAIN_SECONDS / seconds) // 50 * 50)
    return steps, (f"about {CPU_TRAIN_SECONDS / 60:g} minutes at ~{seconds:.1f} s per iteration on {p.cpu_cores} "
                   f"core(s) ({CPU_VOXELS_PER_SECOND_PER_CORE} voxels/s per core with oneDNN): a first model")


def _affine(in_plane: bool, coarse: int, rotation: tuple[float, float]) -> str:
    """``[AUGMENTATION] random_affine`` arguments: rotation (about the coarse axis only when
    ``in_plane``), zoom 0.85-1.25, probability 0.2 (nnU-Net's)."""
    degrees = [(0.0, 0.0)] * 3
    for axis in ([coarse] if in_plane else range(3)):
        degrees[axis] = rotation
    flat = ", ".join(f"{v:g}" for pair in degrees for v in pair)
    return f"degrees=({flat}), scales=(0.85, 1.25), p=0.2"


def _arg(value: Any) -> str:
    """A ``network_args`` value: tuples in parentheses, nested ones too."""
    return "(" + ", ".join(_arg(v) for v in value) + ")" if isinstance(value, tuple) else str(value)

"""Post-processing of label maps as nnU-Net does it: connected components and holes (NumPy/SciPy only).

A label map is an integer array (2-D or 3-D) where 0 is background and ``1..K-1`` are classes. The
steps a user lists in ``[SEGMENTATION] postprocessing = ...`` (a comma list, applied in that order)
are the names in :data:`STEPS`; every step returns a new array and removed voxels become
background (0), as in nnU-Net.

Connectivity is SciPy's: ``1`` joins voxels sharing a face (6-neighbourhood in 3-D, the default
here), ``labels.ndim`` joins every touching voxel (26 in 3-D). nnU-Net labels with
``skimage.measure.label(connectivity=None)``, i.e. full connectivity; pass ``connectivity=3`` (3-D)
to match it. Where several components tie for largest, all of them are kept (as in nnU-Net).

:func:`choose` picks the steps on validation cases with nnU-Net's greedy rule and the result is
saved as ``postprocessing.json`` next to the model (:func:`save_choice`, :func:`load_choice`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from voxflow.atomic import atomic_write_json
from voxflow.errors import DataError, first_line

STEPS = ("largest_component_foreground", "largest_component_per_class", "remove_islands", "fill_holes")


def _structure(ndim: int, connectivity: int) -> np.ndarray:
    if not 1 <= connectivity <= ndim:
        raise ValueError(f"connectivity must be between 1 and {ndim} for {ndim}-D labels, got {connectivity}.")
    return ndimage.generate_binary_structure(ndim, connectivity)


def _classes(labels: np.ndarray, classes: Sequence[int] | None) -> list[int]:
    found = np.unique(labels)
    return [int(c) for c in found if c > 0] if classes is None else [int(c) for c in classes if c > 0]


def _components(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    """Component ids of ``mask`` and the voxel count of each id (``counts[0]`` = 0)."""
    component, _ = ndimage.label(mask, structure=_structure(mask.ndim, connectivity))
    counts = np.bincount(component.ravel())
    counts[0] = 0
    return component, counts


def _largest(mask: np.ndarray, connectivity: int) -> np.ndarray:
    """``mask`` reduced to its largest component(s) (all ties kept)."""
    component, counts = _components(mask, connectivity)
    if counts.size <= 1:
        return mask.copy()
    keep = counts == counts.max()
    keep[0] = False
    return keep[component]


def largest_component_foreground(labels: np.ndarray, connectivity: int = 1) -> np.ndarray:
    """Keep only the largest connected component of the foreground (all labels > 0 together).

    Touching voxels of different classes belong to one component. Voxels outside it become 0.

    Args:
        labels: integer label map (2-D or 3-D).
        connectivity: 1 = faces (default), ``labels.ndim`` = full (nnU-Net's choice).

    Returns:
        A new label map.
    """
    out = np.array(labels, copy=True)
    foreground = out > 0
    out[foreground & ~_largest(foreground, connectivity)] = 0
    return out


def largest_component_per_class(labels: np.ndarray, classes: Sequence[int] | None = None,
                                connectivity: int = 1) -> np.ndarray:
    """Keep only the largest connected component of each class; the rest becomes background (0).

    As in nnU-Net, removed voxels become 0 rather than a neighbouring class.

    Args:
        labels: integer label map (2-D or 3-D).
        classes: the classes to reduce; ``None`` = every class > 0 present.
        connectivity: 1 = faces (default), ``labels.ndim`` = full.

    Returns:
        A new label map.
    """
    out = np.array(labels, copy=True)
    for c in _classes(out, classes):
        mask = out == c
        out[mask & ~_largest(mask, connectivity)] = 0
    return out


def remove_islands(labels: np.ndarray, min_volume_mm3: float, spacing: Sequence[float],
                   classes: Sequence[int] | None = None, connectivity: int = 1) -> np.ndarray:
    """Remove, per class, components smaller than ``min_volume_mm3`` (set to 0).

    Args:
        labels: integer label map (2-D or 3-D).
        min_volume_mm3: components with volume (voxel count x product of ``spacing``) below it go.
        spacing: voxel size in mm, one value per axis of ``labels``.
        classes: the classes to clean; ``None`` = every class > 0 present.
        connectivity: 1 = faces (default), ``labels.ndim`` = full.

    Returns:
        A new label map.
    """
    if len(spacing) != labels.ndim:
        raise ValueError(f"spacing {tuple(spacing)} has {len(spacing)} values for {labels.ndim}-D labels.")
    voxel_mm3 = float(np.prod(np.asarray(spacing, dtype=float)))
    out = np.array(labels, copy=True)
    for c in _classes(out, classes):
        component, counts = _components(out == c, connectivity)
        small = counts * voxel_mm3 < min_volume_mm3
        small[0] = False
        out[small[component]] = 0
    return out


def fill_holes(labels: np.ndarray, classes: Sequence[int] | None = None) -> np.ndarray:
    """Give background voxels fully enclosed by one class that class.

    Uses :func:`scipy.ndimage.binary_fill_holes` on each class's mask and only overwrites voxels that
    are 0 in ``labels``, so no other class is ever changed. A cavity enclosed by several nested
    classes goes to the innermost one (the class whose filled region is smallest).

    Args:
        labels: integer label map (2-D or 3-D).
        classes: the classes whose holes are filled; ``None`` = every class > 0 present.

    Returns:
        A new label map.
    """
    out = np.array(labels, copy=True)
    background = out == 0
    fills = []
    for c in _classes(out, classes):
        filled = ndimage.binary_fill_holes(out == c)
        fills.append((int(filled.sum()), c, filled & background))
    for _, c, hole in sorted(fills, key=lambda item: -item[0]):  # the innermost class writes last
        out[hole] = c
    return out


def _check_steps(steps: Sequence[str]) -> None:
    for step in steps:
        if step not in STEPS:
            raise ValueError(f"Unknown postprocessing step {step!r}. Known steps: {', '.join(STEPS)}.")


def apply(labels: np.ndarray, steps: Sequence[str], *, spacing: Sequence[float] | None = None,
          min_island_mm3: float = 0.0, connectivity: int = 1) -> np.ndarray:
    """Apply ``steps`` (names of :data:`STEPS`) in order; the input is never modified.

    Args:
        labels: integer label map (2-D or 3-D).
        steps: step names, applied in that order (all checked before any work).
        spacing: voxel size in mm per axis (needed by ``remove_islands``).
        min_island_mm3: the volume threshold of ``remove_islands``.
        connectivity: 1 = faces (default), ``labels.ndim`` = full.

    Raises:
        ValueError: an unknown step (naming the known ones), or ``remove_islands`` without spacing.
    """
    _check_steps(steps)
    out = np.array(labels, copy=True)
    for step in steps:
        if step == "largest_component_foreground":
            out = largest_component_foreground(out, connectivity)
        elif step == "largest_component_per_class":
            out = largest_component_per_class(out, connectivity=connectivity)
        elif step == "remove_islands":
            if spacing is None:
                raise ValueError("The postprocessing step 'remove_islands' needs the voxel spacing.")
            out = remove_islands(out, min_island_mm3, spacing, connectivity=connectivity)
        else:
            out = fill_holes(out)
    return out


def dice(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Dice ``2|A∩B| / (|A|+|B|)`` of two boolean masks; 1.0 when both are empty."""
    total = int(prediction.sum()) + int(reference.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(prediction, reference).sum()) / total


def _class_means(cases: Sequence[tuple[np.ndarray, np.ndarray]], num_classes: int) -> dict[int, float]:
    """Mean Dice per class over the cases where it is in the prediction or the reference."""
    means = {}
    for k in range(1, num_classes):
        values = [dice(p == k, r == k) for p, r in cases if (p == k).any() or (r == k).any()]
        if values:
            means[k] = float(np.mean(values))
    return means


def _mean(means: dict[int, float]) -> float:
    return float(np.mean(list(means.values()))) if means else 1.0


@dataclass(frozen=True)
class PostprocessingChoice:
    """The steps :func:`choose` kept, with mean foreground Dice before and after.

    Attributes:
        steps: kept steps, in the order to apply them.
        dice_before: mean Dice of the raw predictions.
        dice_after: mean Dice after ``steps``.
        per_step: every tried candidate -> (mean Dice without it, mean Dice with it).
    """

    steps: tuple[str, ...]
    dice_before: float
    dice_after: float
    per_step: dict[str, tuple[float, float]]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (inverse of :meth:`from_json`)."""
        return {"steps": list(self.steps), "dice_before": self.dice_before, "dice_after": self.dice_after,
                "per_step": {k: [v[0], v[1]] for k, v in self.per_step.items()}}

    @classmethod
    def from_json(cls, data: Any) -> PostprocessingChoice:
        """Rebuild a choice from :meth:`to_json`'s dict; ``ValueError`` (one line) if malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("steps", "dice_before", "dice_after", "per_step") if k not in data]
        if missing:
            raise ValueError(f"missing key(s) {', '.join(missing)}")
        steps, per_step = data["steps"], data["per_step"]
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise ValueError(f"'steps' must be a list of step names, got {steps!r}")
        if not isinstance(per_step, dict):
            raise ValueError(f"'per_step' must be an object, got {per_step!r}")
        _check_steps(steps + list(per_step))
        for key in ("dice_before", "dice_after"):
            if not _is_number(data[key]):
                raise ValueError(f"{key!r} must be a number, got {data[key]!r}")
        pairs = {}
        for name, pair in per_step.items():
            if not isinstance(pair, list) or len(pair) != 2 or not all(_is_number(v) for v in pair):
                raise ValueError(f"'per_step' of {name!r} must be [dice_without, dice_with], got {pair!r}")
            pairs[name] = (float(pair[0]), float(pair[1]))
        return cls(tuple(steps), float(data["dice_before"]), float(data["dice_after"]), pairs)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def choose(cases: Sequence[tuple[np.ndarray, np.ndarray, tuple[float, ...]]], num_classes: int,
           candidates: Sequence[str] = ("largest_component_foreground", "largest_component_per_class"), *,
           min_island_mm3: float = 0.0, tolerance: float = 0.0, connectivity: int = 1) -> PostprocessingChoice:
    """Choose post-processing steps on validation cases with nnU-Net's greedy rule.

    Starting from no step, each candidate in order is applied on top of the steps kept so far. It is
    kept when the mean foreground Dice rises by more than ``tolerance`` AND no class's mean Dice
    falls (nnU-Net's rule for its foreground step in ``determine_postprocessing``).

    Dice per case and class is ``2|A∩B|/(|A|+|B|)``; a case where the class is in neither the
    prediction nor the reference is left out of that class's mean (nnU-Net's NaN + ``nanmean``).
    The mean foreground Dice is the mean over classes ``1..num_classes-1`` of the per-class means,
    leaving out a class absent from every case (1.0 if all are absent).

    Differences from nnU-Net: nnU-Net decides ``largest_component_per_class`` separately for each
    class (kept when that class's Dice rises); here it is one step for all classes, decided by the
    rule above. ``tolerance``, ``remove_islands`` and ``fill_holes`` are additions, and connectivity
    defaults to faces (nnU-Net: full).

    Args:
        cases: (predicted labels, reference labels, spacing in mm) per validation case.
        num_classes: K, including background.
        candidates: steps to try, in order.
        min_island_mm3: the threshold used when ``remove_islands`` is a candidate.
        tolerance: the least rise of the mean Dice that keeps a candidate.
        connectivity: 1 = faces (default), ``labels.ndim`` = full.
    """
    _check_steps(candidates)
    if not cases:
        raise ValueError("choose() needs at least one (prediction, reference, spacing) case.")
    for i, (pred, ref, spacing) in enumerate(cases):
        if pred.shape != ref.shape or len(spacing) != pred.ndim:
            raise ValueError(f"Case {i}: prediction {pred.shape}, reference {ref.shape} and spacing "
                             f"{tuple(spacing)} do not match.")
    current = [np.asarray(pred) for pred, _, _ in cases]
    refs = [np.asarray(ref) for _, ref, _ in cases]
    before = _class_means(list(zip(current, refs)), num_classes)
    start = _mean(before)
    kept: list[str] = []
    per_step = {}
    for step in candidates:
        trial = [apply(p, [step], spacing=c[2], min_island_mm3=min_island_mm3, connectivity=connectivity)
                 for p, c in zip(current, cases)]
        after = _class_means(list(zip(trial, refs)), num_classes)
        per_step[step] = (_mean(before), _mean(after))
        worse = any(after[k] < before[k] for k in after.keys() & before.keys())
        if _mean(after) > _mean(before) + tolerance and not worse:
            kept.append(step)
            current, before = trial, after
    return PostprocessingChoice(tuple(kept), start, _mean(before), per_step)


def save_choice(choice: PostprocessingChoice, path: str) -> None:
    """Write ``choice`` as JSON to ``path`` (``postprocessing.json``) atomically."""
    atomic_write_json(path, choice.to_json())


def load_choice(path: str) -> PostprocessingChoice:
    """Read a choice written by :func:`save_choice`.

    Raises:
        DataError: one line naming ``path`` and what is wrong (unreadable, not JSON, an unknown step).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return PostprocessingChoice.from_json(data)
    except OSError as err:
        raise DataError(f"Cannot read postprocessing file '{path}': {err.strerror or first_line(err)}.") from err
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        raise DataError(f"Invalid postprocessing file '{path}': {first_line(err).rstrip('.')}.") from err

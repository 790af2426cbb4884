"""Early stopping on the validation history: NiftyNet's ``patience`` and ``early_stopping_mode``.

After each validation round the engine records the scalar of the application's best-checkpoint
rule (``BEST``: the validation loss for segmentation), turned so that lower is better (a Dice, say,
is negated). Once ``patience`` rounds are recorded, the last ``patience`` decide, by mode:

===========================  ==============================================================
mode                         stop when
===========================  ==============================================================
``mean``                     the latest is worse than the mean of the ``patience - 1`` before
``robust_mean``              ... than their mean between their 5th and 95th percentiles
``median``                   ... than their median
``generalisation_loss``      the latest is worse than the best by more than 20 % of the best
                             (Prechelt's GL > 0.2)
``median_smoothing``         the history, median-filtered (5 rounds), is flat: at least half
                             its gradient is below 0.03 in magnitude
``validation_up``            the history split into 4 or 5 strips (the count leaving the
                             fewest rounds out), every strip ends more than 3 % worse than its
                             own best
===========================  ==============================================================

These are NiftyNet's modes and thresholds; its code compared some the wrong way round (``mean``
stopped while the loss still fell) and never stopped in others, so voxflow implements the rules
as documented. The checkpoint of the stopping iteration is written, and the best one is kept.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from voxflow.config.schema import EARLY_STOPPING_MODES as MODES


def _worse_than(latest: float, reference: float) -> bool:
    return bool(latest > reference)


def _generalisation(history: np.ndarray) -> float:
    """How much worse the last value is than the best, relative to the best's magnitude."""
    best = float(np.min(history))
    return (float(history[-1]) - best) / max(abs(best), 1e-12)


def should_stop(history: list[float] | np.ndarray, mode: str) -> bool:
    """Whether training should stop, by ``mode``, given the last ``patience`` values (lower is better)."""
    values = np.asarray(history, dtype=np.float64)
    previous, latest = values[:-1], float(values[-1])
    if mode == "mean":
        return _worse_than(latest, float(np.mean(previous)))
    if mode == "robust_mean":
        low, high = np.percentile(previous, [5, 95])
        kept = previous[(previous > low) & (previous < high)]
        return _worse_than(latest, float(np.mean(kept if kept.size else previous)))
    if mode == "median":
        return _worse_than(latest, float(np.median(previous)))
    if mode == "generalisation_loss":
        return _generalisation(values) > 0.2
    if mode == "median_smoothing":
        size = min(5, len(values) if len(values) % 2 else len(values) - 1)
        smoothed = ndimage.median_filter(values, size=max(size, 1), mode="nearest")
        return bool(np.mean(np.abs(np.gradient(smoothed)) < 0.03) >= 0.5)
    if mode == "validation_up":
        strips = 4 if len(values) % 4 < len(values) % 5 else 5
        usable = values[len(values) % strips:]
        if usable.size < strips:
            return False
        return all(_generalisation(strip) > 0.03 for strip in np.split(usable, strips))
    raise ValueError(f"unknown early_stopping_mode {mode!r}; expected one of {', '.join(MODES)}")


class EarlyStopping:
    """The validation history of one run and the stopping decision (see the module docstring).

    Args:
        patience: validation rounds considered; ``None`` = never stop early.
        mode: one of :data:`MODES`.
        maximise: whether a higher value is better (the best-checkpoint rule's direction).
    """

    def __init__(self, patience: int | None, mode: str = "mean", maximise: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown early_stopping_mode {mode!r}; expected one of {', '.join(MODES)}")
        self.patience, self.mode, self.sign = patience, mode, -1.0 if maximise else 1.0
        self.history: list[float] = []

    def update(self, value: float) -> bool:
        """Record one validation round's value; returns whether to stop now."""
        if self.patience is None or not np.isfinite(value):
            return False
        self.history = [*self.history, self.sign * float(value)][-int(self.patience):]
        return len(self.history) == int(self.patience) and should_stop(self.history, self.mode)

"""Learning-rate schedules (``[TRAINING] lr_schedule``), as functions of the iteration.

The optimiser's own update counter drives the schedule, so a resumed run (``starting_iter = -1``)
continues the schedule where it stopped; iteration ``i`` (1-based, as the progress bar counts)
uses ``rate(i - 1)``. Every schedule starts at ``[TRAINING] lr`` and is defined over
``0 .. max_iter``:

============  =================================================================================
``constant``  ``lr`` throughout (the default; NiftyNet's only one).
``poly``      ``lr · (1 − i / max_iter) ** lr_poly_exponent`` — nnU-Net's decay (exponent 0.9).
``cosine``    ``lr · ½ (1 + cos(π i / max_iter))`` — SGDR without restarts, MONAI's
              ``WarmupCosineSchedule``.
``step``      ``lr · lr_step_factor ** floor(i / lr_step_every_n)``.
============  =================================================================================

``lr_warmup_iter = W > 0`` ramps linearly from ``lr / W`` to ``lr`` over the first ``W``
iterations, then the schedule runs over the remaining ``max_iter − W`` (MONAI's warm-up
convention).

Example:
    >>> rate = LearningRate(0.01, "poly", max_iter=100)
    >>> round(float(rate(50)), 5)
    0.00536
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from voxflow.config.schema import SCHEDULES  # the config knows the names; this module, the rates


@keras.saving.register_keras_serializable(package="voxflow")
class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """One of :data:`SCHEDULES` with an optional linear warm-up (see the module docstring)."""

    def __init__(self, lr: float, schedule: str = "constant", *, max_iter: int, warmup_iter: int = 0,
                 poly_exponent: float = 0.9, step_every_n: int = 1000, step_factor: float = 0.5) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
        self.lr = float(lr)
        self.schedule = schedule
        self.max_iter = max(int(max_iter), 1)
        self.warmup_iter = max(int(warmup_iter), 0)
        self.poly_exponent = float(poly_exponent)
        self.step_every_n = max(int(step_every_n), 1)
        self.step_factor = float(step_factor)

    def __call__(self, step: Any) -> Any:
        i = ops.cast(step, "float32")
        warm = float(self.warmup_iter)
        span = float(max(self.max_iter - self.warmup_iter, 1))
        t = ops.clip(i - warm, 0.0, span)  # iterations since the warm-up
        if self.schedule == "poly":
            rate = self.lr * ops.power(1.0 - t / span, self.poly_exponent)
        elif self.schedule == "cosine":
            rate = self.lr * 0.5 * (1.0 + ops.cos(math.pi * t / span))
        elif self.schedule == "step":
            rate = self.lr * ops.power(self.step_factor, ops.floor(t / float(self.step_every_n)))
        else:
            rate = ops.convert_to_tensor(self.lr, "float32") + 0.0 * t
        if self.warmup_iter:
            rate = ops.where(i < warm, self.lr * (i + 1.0) / warm, rate)
        return rate

    def get_config(self) -> dict[str, Any]:
        return {"lr": self.lr, "schedule": self.schedule, "max_iter": self.max_iter, "warmup_iter": self.warmup_iter,
                "poly_exponent": self.poly_exponent, "step_every_n": self.step_every_n,
                "step_factor": self.step_factor}


def learning_rate(training: Any) -> float | LearningRate:
    """``[TRAINING] lr`` as a float (constant, no warm-up: what plugin optimisers have always been
    given) or the :class:`LearningRate` schedule the section describes."""
    if training.lr_schedule == "constant" and not training.lr_warmup_iter:
        return float(training.lr)
    return LearningRate(training.lr, training.lr_schedule, max_iter=training.max_iter,
                        warmup_iter=training.lr_warmup_iter, poly_exponent=training.lr_poly_exponent,
                        step_every_n=training.lr_step_every_n, step_factor=training.lr_step_factor)

"""What the training loop needs besides the loop: optimisers, frozen variables, divergence watch,
and the checks on ``model_dir`` before any work."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from voxflow import registry
from voxflow.engine.checkpoints import CheckpointStore
from voxflow.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)


def build_optimiser(cfg: Any) -> Any:
    """Optimiser named by ``[TRAINING] optimiser`` with ``lr`` and its ``lr_schedule``
    (:func:`voxflow.engine.schedules.learning_rate`)."""
    from voxflow.engine.schedules import learning_rate  # noqa: PLC0415

    factory = registry.resolve("optimiser", cfg.training.optimiser, search_dirs=(cfg.config_dir,))
    rate = learning_rate(cfg.training)
    try:
        return factory(rate)
    except TypeError:
        return factory(learning_rate=rate)


class DivergenceWatch:
    """Warns once when the training loss explodes (grows ``factor`` times past its first value).

    A loss that grows without bound (``lr = 1e6``) may stay finite for a long time; the run should
    not end with exit 0 and no word. NaN and Inf stop the run (see :meth:`Trainer.run`).
    """

    def __init__(self, factor: float = 100.0) -> None:
        self.factor = factor
        self.first: float | None = None
        self.warned = False

    def check(self, iteration: int, loss: float) -> bool:
        """Record ``loss``; returns True (and warns, once) if it diverges."""
        if self.first is None:
            self.first = loss
            return False
        if abs(loss) > self.factor * max(abs(self.first), 1e-3):
            if not self.warned:
                log.warning("the training loss is diverging: %.4g at iteration %d, %.0f times its first value "
                            "%.4g; lower [TRAINING] lr", loss, iteration, abs(loss) / max(abs(self.first), 1e-3),
                            self.first)
            self.warned = True
            return True
        return False


def frozen_split(models: dict[str, Any], pattern: str) -> dict[str, list]:
    """``{name: trainable variables}`` left to each model's optimiser once ``vars_to_freeze`` is applied
    (the pattern is matched against variable paths of every model)."""
    if not pattern:
        return {name: list(model.trainable_variables) for name, model in models.items()}
    regex = re.compile(pattern)
    every = [v for model in models.values() for v in model.trainable_variables]
    frozen = [v for v in every if regex.search(v.path)]
    if not frozen:
        names = ", ".join(v.path for v in every[:3])
        raise ConfigError(f"[TRAINING] vars_to_freeze = '{pattern}' matches no trainable variable (e.g. {names}).")
    log.info("vars_to_freeze: %d of %d trainable variables frozen", len(frozen), len(every))
    return {name: [v for v in model.trainable_variables if not regex.search(v.path)] for name, model in models.items()}


def refuse_overwrite(store: CheckpointStore, starting_iter: int) -> None:
    """A fresh start (``starting_iter = 0``) never overwrites an existing trained model."""
    existing = store.latest()
    if starting_iter == 0 and existing is not None:
        raise ConfigError(
            f"[TRAINING] starting_iter = 0 but {store.folder} already holds checkpoints up to "
            f"iteration {existing}: set starting_iter = -1 to resume, or use another model_dir "
            "(voxflow never overwrites a trained model)."
        )


def check_model_dir(model_dir: str, create: bool, must_exist: bool = True) -> None:
    """A ``model_dir`` must be a folder (created for training; it must exist for the other actions)."""
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ConfigError(f"[SYSTEM] model_dir = '{model_dir}' exists but is not a folder.")
    if create:
        os.makedirs(model_dir, exist_ok=True)
    elif must_exist and not os.path.isdir(model_dir):
        raise CheckpointError(f"[SYSTEM] model_dir '{model_dir}' does not exist: train first (net_segment train -c ...).")

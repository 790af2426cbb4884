"""Checkpoints named by iteration, written atomically, with every variable accounted for.

Layout inside ``model_dir/models``::

    ckpt-100/        ckpt.index, ckpt.data-*, meta.json   (one folder per iteration)
    ckpt-200/
    best.json        {"iteration": 200, "metric": "validation_loss", "value": 0.31}

Why not ``tf.train.Checkpoint(model=model)``: it silently skips layers a model keeps in Python
containers (see the project's TensorFlow notes). We checkpoint an explicit, ordered mapping of
*every* model variable (and every optimiser variable) instead, and a restore checks that each one
was found and has the saved shape. A checkpoint folder is written under a temporary name and
renamed into place, so an interrupted save never leaves a half-written ``ckpt-N``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from typing import Any

import tensorflow as tf

from voxflow.atomic import atomic_directory, atomic_write_json
from voxflow.errors import CheckpointError

_CKPT_RE = re.compile(r"^ckpt-(\d+)$")


class CheckpointStore:
    """Saves, lists, prunes and restores the checkpoints of one ``model_dir``.

    Args:
        folder: ``model_dir/models``.
        max_to_keep: newest checkpoints kept; the best-validation checkpoint is kept as well.
    """

    def __init__(self, folder: str, max_to_keep: int = 100) -> None:
        self.folder = folder
        self.max_to_keep = max(1, int(max_to_keep))

    # ----------------------------------------------------------------------------- listing
    def iterations(self) -> list[int]:
        """Iterations of the complete checkpoints, ascending."""
        if not os.path.isdir(self.folder):
            return []
        found = []
        for name in os.listdir(self.folder):
            match = _CKPT_RE.match(name)
            if match and os.path.isfile(os.path.join(self.folder, name, "meta.json")):
                found.append(int(match.group(1)))
        return sorted(found)

    def latest(self) -> int | None:
        """The newest checkpoint's iteration, or None."""
        its = self.iterations()
        return its[-1] if its else None

    def best(self) -> int | None:
        """The best-validation checkpoint's iteration, or None."""
        info = self.best_info()
        return None if info is None else int(info["iteration"])

    def best_info(self) -> dict[str, Any] | None:
        """Contents of ``best.json`` if it points at an existing checkpoint."""
        path = os.path.join(self.folder, "best.json")
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
        return info if int(info["iteration"]) in self.iterations() else None

    def path(self, iteration: int) -> str:
        """Folder of the checkpoint of ``iteration``."""
        return os.path.join(self.folder, f"ckpt-{int(iteration)}")

    def select(self, selector: int | str) -> int:
        """Resolve ``-1``/``latest``, ``best`` or an iteration number to an existing iteration.

        Raises:
            CheckpointError: no such checkpoint (lists what exists).
        """
        its = self.iterations()
        if selector in (-1, "-1", "latest"):
            if not its:
                raise CheckpointError(f"No checkpoint found in {self.folder}: train first (net_segment train -c ...).")
            return its[-1]
        if selector == "best":
            best = self.best()
            if best is None:
                raise CheckpointError(
                    f"No best-validation checkpoint in {self.folder}: enable validation "
                    "([TRAINING] validation_every_n > 0) or use inference_iter = latest."
                )
            return best
        iteration = int(selector)
        if iteration not in its:
            have = ", ".join(str(i) for i in its[-10:]) or "none"
            raise CheckpointError(f"No checkpoint for iteration {iteration} in {self.folder}. Available: {have}.")
        return iteration

    # ------------------------------------------------------------------------------ saving
    def save(self, iteration: int, model: Any, optimizer: Any = None, extra: dict | None = None) -> str:
        """Write the checkpoint of ``iteration`` atomically and prune old ones.

        Returns:
            The checkpoint folder.
        """
        final = self.path(iteration)
        with atomic_directory(final, kind=f"ckpt-{iteration}", replace=True) as tmp:
            checkpoint = _make_checkpoint(model, optimizer, iteration)
            checkpoint.write(os.path.join(tmp, "ckpt"))
            meta = {
                "iteration": int(iteration),
                "model_variables": [[v.path, list(v.shape)] for v in model.variables],
                "optimizer_variables": len(optimizer.variables) if optimizer is not None else 0,
                **(extra or {}),
            }
            atomic_write_json(os.path.join(tmp, "meta.json"), meta)
        self._prune()
        return final

    def mark_best(self, iteration: int, metric: str, value: float) -> None:
        """Record ``iteration`` as the best checkpoint (it must have been saved)."""
        atomic_write_json(
            os.path.join(self.folder, "best.json"),
            {"iteration": int(iteration), "metric": metric, "value": float(value)},
        )

    def _prune(self) -> None:
        its = self.iterations()
        keep = set(its[-self.max_to_keep :])
        best = self.best()
        if best is not None:
            keep.add(best)
        for iteration in its:
            if iteration not in keep:
                shutil.rmtree(self.path(iteration), ignore_errors=True)

    # ---------------------------------------------------------------------------- restoring
    def restore(
        self,
        selector: int | str,
        model: Any,
        optimizer: Any = None,
        include: str = "",
        rename: dict[str, str] | None = None,
    ) -> int:
        """Restore model (and optimiser) variables from a checkpoint.

        Args:
            selector: iteration, ``-1``/``latest`` or ``best``.
            model: a built model (called once).
            optimizer: a built optimiser, or None to restore the model only.
            include: regular expression; when given, only model variables whose (renamed) saved
                path matches are restored, matched to the model's variables by path, and the
                optimiser is left fresh (fine-tuning, NiftyNet's ``vars_to_restore``). The rest
                of the model may differ from the checkpoint (e.g. a new classifier head).
            rename: ``{old_prefix: new_prefix}`` applied to the saved paths first (layers renamed
                since the checkpoint was written).

        Returns:
            The restored checkpoint's iteration.

        Raises:
            CheckpointError: missing checkpoint, or variables that do not match the network.
        """
        iteration = self.select(selector)
        folder = self.path(iteration)
        meta = self.meta(iteration)
        saved = meta["model_variables"]
        if include or rename:
            self._restore_by_path(folder, saved, model, include or ".", rename or {})
            return iteration
        variables = list(model.variables)
        if len(saved) != len(variables) or any(
            list(v.shape) != list(shape) for v, (_, shape) in zip(variables, saved)
        ):
            raise CheckpointError(
                f"Checkpoint {folder} holds {len(saved)} model variables that do not match the "
                f"network built from the config ({len(variables)} variables): was it trained with "
                "another [NETWORK] name, network_args, num_classes or channel count?"
            )
        use_optimizer = optimizer is not None and meta.get("optimizer_variables", 0) == len(optimizer.variables)
        checkpoint = _make_checkpoint(model, optimizer if use_optimizer else None, iteration)
        status = checkpoint.read(os.path.join(folder, "ckpt"))
        if use_optimizer:
            status.assert_existing_objects_matched()
        else:
            status.expect_partial()
        return iteration

    def meta(self, iteration: int) -> dict[str, Any]:
        """The ``meta.json`` of a checkpoint (variable paths and shapes, extra fields)."""
        with open(os.path.join(self.path(iteration), "meta.json"), encoding="utf-8") as handle:
            return json.load(handle)

    @staticmethod
    def _restore_by_path(folder: str, saved: list, model: Any, include: str, rename: dict[str, str]) -> None:
        pattern = re.compile(include)
        current = {v.path: v for v in model.variables}
        chosen: dict[str, Any] = {}
        for index, (path, shape) in enumerate(saved):
            for old, new in rename.items():
                if path.startswith(old):
                    path = new + path[len(old):]
                    break
            if not pattern.search(path) or path not in current:
                continue
            if list(current[path].shape) != list(shape):
                raise CheckpointError(
                    f"Variable '{path}' has shape {list(shape)} in {folder} but {list(current[path].shape)} in the "
                    "network: exclude it from [TRAINING] vars_to_restore."
                )
            chosen[f"v{index:05d}"] = current[path]
        if not chosen:
            example = saved[0][0] if saved else "none"
            raise CheckpointError(
                f"[TRAINING] vars_to_restore = '{include}' matches no variable shared by {folder} and the network "
                f"(saved names look like '{example}'; the network's like '{next(iter(current), 'none')}')."
            )
        tf.train.Checkpoint(model=chosen).read(os.path.join(folder, "ckpt")).expect_partial()
        log_restored = len(chosen), len(current)
        logging.getLogger("voxflow").info("restored %d of the network's %d variables by name", *log_restored)


def _make_checkpoint(model: Any, optimizer: Any, iteration: int) -> tf.train.Checkpoint:
    parts: dict[str, Any] = {
        "model": {f"v{i:05d}": v for i, v in enumerate(model.variables)},
        "iteration": tf.Variable(int(iteration), dtype=tf.int64, trainable=False),
    }
    if optimizer is not None:
        parts["optimizer"] = {f"v{i:05d}": v for i, v in enumerate(optimizer.variables)}
    return tf.train.Checkpoint(**parts)

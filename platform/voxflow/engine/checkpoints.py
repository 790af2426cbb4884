"""Checkpoints named by iteration, written atomically, with every variable accounted for.

Layout inside ``model_dir/models``::

    ckpt-100/        ckpt.index, ckpt.data-*, meta.json   (one folder per iteration)
    ckpt-200/
    best.json        {"iteration": 200, "metric": "validation_loss", "value": 0.31}

Why not ``tf.train.Checkpoint(model=model)``: it silently skips layers a model keeps in Python
containers (a U-Net built from a list of blocks saved only its output layer and lost its
BatchNorm statistics, and a naive restore check still passed). We checkpoint an explicit, ordered mapping of
*every* model variable (and every optimiser variable) instead, and a restore checks that each one
was found and has the saved shape. A checkpoint folder is written under a temporary name and
renamed into place, so an interrupted save never leaves a half-written ``ckpt-N``.

A checkpoint is never written, nor used, with NaN or Inf weights, and every problem with one (a
full disk while writing, a truncated file, a malformed ``meta.json`` or ``best.json``) is a
one-line :class:`~voxflow.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.atomic import atomic_directory, atomic_write_json
from voxflow.errors import CheckpointError, VoxflowError, first_line

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
        info = _read_json(path, "{iteration, metric, value}")
        try:
            iteration, _ = int(info["iteration"]), float(info["value"])
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"Malformed {path}: expected {{iteration, metric, value}}; found {str(info)[:100]}. "
                                  "Delete it to forget the best checkpoint.") from err
        return info if iteration in self.iterations() else None

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
    def save(self, iteration: int, models: Any, optimizers: Any = None, extra: dict | None = None) -> str:
        """Write the checkpoint of ``iteration`` atomically and prune old ones.

        Args:
            iteration: the iteration.
            models: ``{name: model}`` (or one model, named ``network``).
            optimizers: ``{name: optimiser}`` for the models that have one (or one optimiser).
            extra: more fields for ``meta.json``.

        Returns:
            The checkpoint folder.
        """
        models, optimizers = _named(models, optimizers)
        final = self.path(iteration)
        for model in models.values():
            _refuse_non_finite(model, f"Refusing to write the checkpoint of iteration {iteration}")
        try:
            self._write(final, iteration, models, optimizers, extra)
        except tf.errors.OpError as err:
            latest = self.latest()
            kept = f"; ckpt-{latest} is kept" if latest is not None else ""
            raise CheckpointError(f"Cannot write the checkpoint of iteration {iteration} to {final}: "
                                  f"{first_line(err.message)}{kept}.") from None
        self._prune()
        return final

    def _write(self, final: str, iteration: int, models: dict, optimizers: dict, extra: dict | None) -> None:
        with atomic_directory(final, kind=f"ckpt-{iteration}", replace=True) as tmp:
            checkpoint = _make_checkpoint(models, optimizers, iteration)
            try:
                checkpoint.write(os.path.join(tmp, "ckpt"))
            except tf.errors.OpError as err:  # name the checkpoint, not its temporary folder
                raise type(err)(err.node_def, err.op, err.message.replace(tmp, final)) from None
            listed = {name: [[v.path, list(v.shape)] for v in m.variables] for name, m in models.items()}
            counts = {name: len(optimizers[name].variables) for name in optimizers}
            single = list(models) == [SINGLE]
            meta = {
                "iteration": int(iteration),
                "model_variables": listed[SINGLE] if single else listed,
                "optimizer_variables": counts.get(SINGLE, 0) if single else counts,
                **(extra or {}),
            }
            atomic_write_json(os.path.join(tmp, "meta.json"), meta)

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
        models: Any,
        optimizers: Any = None,
        include: str = "",
        rename: dict[str, str] | None = None,
    ) -> int:
        """Restore model (and optimiser) variables from a checkpoint.

        Args:
            selector: iteration, ``-1``/``latest`` or ``best``.
            models: ``{name: built model}`` (or one model, named ``network``).
            optimizers: ``{name: built optimiser}``, or None to restore the models only.
            include: regular expression; when given, only model variables whose (renamed) saved
                path matches are restored, matched to the models' variables by path, and the
                optimisers are left fresh (fine-tuning, NiftyNet's ``vars_to_restore``). The rest
                of a model may differ from the checkpoint (e.g. a new classifier head).
            rename: ``{old_prefix: new_prefix}`` applied to the saved paths first (layers renamed
                since the checkpoint was written).

        Returns:
            The restored checkpoint's iteration.

        Raises:
            CheckpointError: missing or damaged checkpoint, or variables that do not match the models.
        """
        models, optimizers = _named(models, optimizers)
        iteration = self.select(selector)
        folder = self.path(iteration)
        try:
            self._restore(iteration, models, optimizers, include, rename)
        except VoxflowError:
            raise
        except Exception as err:  # noqa: BLE001 - TensorFlow's readers raise many types for a damaged file
            text = err.message if isinstance(err, tf.errors.OpError) else f"{type(err).__name__}: {err}"
            raise CheckpointError(f"Cannot read checkpoint {folder}: {first_line(text)} (a truncated or damaged "
                                  "file?). Choose another with [INFERENCE] inference_iter or [TRAINING] starting_iter."
                                  ) from None
        for model in models.values():
            _refuse_non_finite(model, f"Checkpoint {folder} cannot be used")
        return iteration

    def _restore(self, iteration: int, models: dict, optimizers: dict, include: str,
                 rename: dict[str, str] | None) -> None:
        folder = self.path(iteration)
        meta = self.meta(iteration)
        saved = _saved_variables(meta, list(models), folder)
        if include or rename:
            self._restore_by_path(folder, saved, models, include or ".", rename or {})
            return
        for name, model in models.items():
            variables = list(model.variables)
            if len(saved[name]) != len(variables) or any(
                list(v.shape) != list(shape) for v, (_, shape) in zip(variables, saved[name])
            ):
                raise CheckpointError(
                    f"Checkpoint {folder} holds {len(saved[name])} variables for model '{name}' that do not match "
                    f"the network built from the config ({len(variables)} variables): was it trained with another "
                    "[NETWORK] name, network_args, num_classes or channel count?"
                )
        counts = meta.get("optimizer_variables", 0)
        counts = counts if isinstance(counts, dict) else {SINGLE: counts}
        use = {name: opt for name, opt in optimizers.items() if counts.get(name, 0) == len(opt.variables)}
        checkpoint = _make_checkpoint(models, use if len(use) == len(optimizers) else {}, iteration)
        status = checkpoint.read(os.path.join(folder, "ckpt"))
        if optimizers and len(use) == len(optimizers):
            status.assert_existing_objects_matched()
        else:
            status.expect_partial()

    def meta(self, iteration: int) -> dict[str, Any]:
        """The ``meta.json`` of a checkpoint (variable paths and shapes, extra fields).

        Raises:
            CheckpointError: the file is unreadable or malformed.
        """
        path = os.path.join(self.path(iteration), "meta.json")
        meta = _read_json(path, "{iteration, model_variables, ...}")
        variables = meta.get("model_variables")
        lists = variables.values() if isinstance(variables, dict) else [variables]
        if not all(isinstance(listed, list) and all(isinstance(v, list) and len(v) == 2 and isinstance(v[1], list)
                                                    for v in listed) for listed in lists):
            raise CheckpointError(f"Malformed {path}: expected `model_variables` as [[path, shape], ...]; "
                                  "the checkpoint cannot be used.")
        return meta

    @staticmethod
    def _restore_by_path(folder: str, saved: dict[str, list], models: dict, include: str,
                         rename: dict[str, str]) -> None:
        pattern = re.compile(include)
        parts: dict[str, dict[str, Any]] = {}
        total = 0
        for name, model in models.items():
            current = {v.path: v for v in model.variables}
            total += len(current)
            chosen: dict[str, Any] = {}
            for index, (path, shape) in enumerate(saved[name]):
                for old, new in rename.items():
                    if path.startswith(old):
                        path = new + path[len(old):]
                        break
                if not pattern.search(path) or path not in current:
                    continue
                if list(current[path].shape) != list(shape):
                    raise CheckpointError(
                        f"Variable '{path}' has shape {list(shape)} in {folder} but {list(current[path].shape)} in "
                        "the network: exclude it from [TRAINING] vars_to_restore."
                    )
                chosen[f"v{index:05d}"] = current[path]
            if chosen:
                parts[_model_key(name, list(models))] = chosen
        if not parts:
            example = next((v[0][0] for v in saved.values() if v), "none")
            network = next((v.path for m in models.values() for v in m.variables), "none")
            raise CheckpointError(
                f"[TRAINING] vars_to_restore = '{include}' matches no variable shared by {folder} and the network "
                f"(saved names look like '{example}'; the network's like '{network}')."
            )
        tf.train.Checkpoint(**parts).read(os.path.join(folder, "ckpt")).expect_partial()
        restored = sum(len(chosen) for chosen in parts.values())
        logging.getLogger(__name__).info("restored %d of the network's %d variables by name", restored, total)


#: The name of the model of a single-model application. Its checkpoint keeps the layout voxflow
#: always wrote (``model/`` and ``optimizer/``), so checkpoints and zoo entries made before named
#: models still load.
SINGLE = "network"


def _named(models: Any, optimizers: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Models and optimisers as ``{name: ...}`` (a bare model or optimiser is ``network``'s)."""
    models = dict(models) if isinstance(models, dict) else {SINGLE: models}
    if optimizers is None:
        optimizers = {}
    elif not isinstance(optimizers, dict):
        optimizers = {SINGLE: optimizers}
    return models, dict(optimizers)


def _model_key(name: str, names: list[str]) -> str:
    return "model" if names == [SINGLE] else f"model_{name}"


def _saved_variables(meta: dict[str, Any], names: list[str], folder: str) -> dict[str, list]:
    listed = meta["model_variables"]
    saved = listed if isinstance(listed, dict) else {SINGLE: listed}
    missing = [name for name in names if name not in saved]
    if missing:
        raise CheckpointError(f"Checkpoint {folder} holds the models {sorted(saved)}, not {missing}: was it "
                              "written by another application?")
    return saved


def _read_json(path: str, expected: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"Cannot read {path}: expected JSON {expected} ({first_line(str(err))}).") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"Malformed {path}: expected a JSON object {expected}; found {type(data).__name__}.")
    return data


def _refuse_non_finite(model: Any, what: str) -> None:
    """Raise if a floating-point variable of ``model`` holds NaN or Inf."""
    variables = [v for v in model.variables if tf.as_dtype(v.dtype).is_floating]
    bad = [v.path for v in variables if not np.all(np.isfinite(np.asarray(v)))]
    if bad:
        raise CheckpointError(f"{what}: {len(bad)} of {len(variables)} weight tensors hold NaN or Inf "
                              f"(e.g. {bad[0]}).")


def _make_checkpoint(models: dict[str, Any], optimizers: dict[str, Any], iteration: int) -> tf.train.Checkpoint:
    names = list(models)
    parts: dict[str, Any] = {
        _model_key(name, names): {f"v{i:05d}": v for i, v in enumerate(model.variables)}
        for name, model in models.items()
    }
    parts["iteration"] = tf.Variable(int(iteration), dtype=tf.int64, trainable=False)
    for name, optimizer in optimizers.items():
        key = "optimizer" if names == [SINGLE] else f"optimizer_{name}"
        parts[key] = {f"v{i:05d}": v for i, v in enumerate(optimizer.variables)}
    return tf.train.Checkpoint(**parts)


_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def write_weights_only(source: str, target: str) -> dict[str, Any]:
    """Copy the checkpoint folder ``source`` (``ckpt-N``) to ``target`` without its optimiser state.

    A zoo entry is for inference and fine-tuning, both of which start a fresh optimiser; Adam's two
    moments per weight are two thirds of a checkpoint. The copy holds every model variable and the
    iteration under the same names, and its ``meta.json`` says it has no optimiser variables, so
    :meth:`CheckpointStore.restore` restores the models alone from it (training that resumes from it
    starts its optimiser afresh).

    Returns:
        The copy's ``meta.json`` contents.

    Raises:
        CheckpointError: ``source`` is missing, damaged, or not laid out as :meth:`CheckpointStore.save` writes.
    """
    meta = _read_json(os.path.join(source, "meta.json"), "{iteration, model_variables, ...}")
    try:
        reader = tf.train.load_checkpoint(os.path.join(source, "ckpt"))
        names = sorted(reader.get_variable_to_shape_map())
    except Exception as err:  # noqa: BLE001 - TensorFlow's readers raise many types for a damaged file
        text = err.message if isinstance(err, tf.errors.OpError) else f"{type(err).__name__}: {err}"
        raise CheckpointError(f"Cannot read checkpoint {source}: {first_line(text)}.") from None
    parts: dict[str, Any] = {}
    for name in names:
        if name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH") or name.startswith("optimizer"):
            continue
        if not name.endswith(_VALUE_SUFFIX):
            raise CheckpointError(f"Checkpoint {source} holds '{name}', which voxflow does not write: "
                                  "expected model variables, the iteration and optimiser state only.")
        path = name[: -len(_VALUE_SUFFIX)].split("/")
        value = tf.Variable(reader.get_tensor(name), trainable=False)
        if len(path) == 1:
            parts[path[0]] = value
        elif len(path) == 2 and path[0].startswith("model"):
            parts.setdefault(path[0], {})[path[1]] = value
        else:
            raise CheckpointError(f"Checkpoint {source} holds '{name}', which voxflow does not write.")
    counts = meta.get("optimizer_variables", 0)
    meta = {**meta, "optimizer_variables": {k: 0 for k in counts} if isinstance(counts, dict) else 0}
    with atomic_directory(target, kind=os.path.basename(target), replace=True) as tmp:
        tf.train.Checkpoint(**parts).write(os.path.join(tmp, "ckpt"))
        atomic_write_json(os.path.join(tmp, "meta.json"), meta)
    return meta

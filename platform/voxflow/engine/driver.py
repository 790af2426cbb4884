"""ApplicationDriver: picks the application and the ``tf.distribute`` strategy, then runs one
action (train, inference or evaluation).

The same code path runs on CPU, one GPU and several GPUs: only the strategy differs (the default
strategy on one device, ``MirroredStrategy`` over ``num_gpus`` visible GPUs).
"""

from __future__ import annotations

import logging
import os
import random
from contextlib import nullcontext
from typing import Any

import keras
import tensorflow as tf

from voxflow import registry
from voxflow.atomic import clean_leftovers
from voxflow.config import load_config, save_config
from voxflow.engine.checkpoints import CheckpointStore
from voxflow.engine.ensemble import check_member, load_members, member_dirs
from voxflow.engine.strategy import is_chief, make_strategy
from voxflow.engine.trainer import Trainer
from voxflow.engine.training_setup import check_model_dir, refuse_overwrite
from voxflow.errors import ConfigError
from voxflow.locks import FolderLock

log = logging.getLogger(__name__)

ACTIONS = ("train", "inference", "evaluation", "export")


def seed_everything(cfg: Any, action: str) -> int:
    """Seed Python, NumPy and TensorFlow from ``[SYSTEM] seed`` (drawn and recorded if unset)."""
    if cfg.system.seed is None:
        cfg.system.seed = random.SystemRandom().randrange(2**31 - 1)
        if action == "train":
            log.info("[SYSTEM] seed unset: using seed %d (saved in settings_train.ini)", cfg.system.seed)
    keras.utils.set_random_seed(int(cfg.system.seed))
    if not tf.config.list_physical_devices("GPU"):
        # Repeatable CPU runs: deterministic kernels cost little on the CPU.
        tf.config.experimental.enable_op_determinism()
    return int(cfg.system.seed)


def apply_trained_settings(cfg: Any, app_class: type) -> None:
    """Take the keys that define a trained model from ``model_dir/settings_train.ini``.

    Inference and evaluation work from the configuration the model was trained with, so a setting
    given only on the training command line (``--label_normalisation yes``) or edited in the file
    afterwards cannot silently produce garbage. The application lists those keys in
    ``TRAINED_KEYS`` as ``(section, key)`` pairs, where section ``inputs`` means every input
    section present in both configs. A differing value is replaced and reported, except:

    - an input key that training left unset (``axcodes``, ``pixdim``): the inference config may set it;
    - ``[NETWORK] name``, which names code: a model folder (a download, a copied project) must never
      swap a different network in behind the config, so a difference is an error;
    - files that belong to the model (the histogram landmarks): a path inside the ``model_dir`` the
      model was trained in is read relative to the ``model_dir`` it is in now, so a moved, copied or
      downloaded model finds its own files.

    Raises:
        ConfigError: ``settings_train.ini`` names another network than the config.
    """
    path = os.path.join(cfg.system.model_dir, "settings_train.ini")
    if not os.path.isfile(path):
        return
    trained = load_config(path, app_section=app_class.SECTION, action="evaluation")
    named = cfg.network.name is not None  # an evaluation config may name no network: it uses none
    if named and registry.canonical_name("network", trained.network.name) != registry.canonical_name("network", cfg.network.name):
        raise ConfigError(
            f"[NETWORK] name = {cfg.network.name!r} in {cfg.path or 'the config'}, but the model in {cfg.system.model_dir} "
            f"was trained with {trained.network.name!r} ({path}): voxflow never swaps a network in behind the config. "
            "Set [NETWORK] name to the trained network if you trust it, or use another model_dir.")
    rebase = _model_file_rebase(trained.system.model_dir, cfg.system.model_dir)
    pairs = []
    for section, key in app_class.TRAINED_KEYS:
        if section == "inputs":
            pairs += [(cfg.inputs[name], trained.inputs[name], name, key) for name in cfg.inputs if name in trained.inputs]
        else:
            pairs.append((getattr(cfg, section), getattr(trained, section), section.upper(), key))
    for current, saved, label, key in pairs:
        value = getattr(saved, key)
        if label not in {"NETWORK", "APP"} and value in ((), None, ""):
            # An input key unset at training (e.g. no `axcodes`: the data were already in one
            # orientation) leaves the inference config free to bring new inputs to that state.
            continue
        if key in trained.schema_of(saved.section_name) and trained.schema_of(saved.section_name)[key].type.is_path:
            value = rebase(value)
        if getattr(current, key) != value:
            log.warning("using [%s] %s = %r from training (%s) instead of %r", label, key, value, path,
                        getattr(current, key))
            setattr(current, key, value)


def _model_file_rebase(trained_dir: str, model_dir: str) -> Any:
    """A function mapping a path inside ``trained_dir`` to the same place inside ``model_dir``."""

    def rebase(value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return value
        inside = os.path.commonpath([os.path.abspath(trained_dir), os.path.abspath(value)]) == os.path.abspath(trained_dir)
        return os.path.join(model_dir, os.path.relpath(value, trained_dir)) if inside else value

    return rebase


def set_precision(cfg: Any) -> None:
    """``[SYSTEM] mixed_precision``: float16 compute on GPUs (bfloat16 on CPUs), float32 weights."""
    if not getattr(cfg.system, "mixed_precision", False):
        keras.mixed_precision.set_global_policy("float32")
        return
    if tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    else:
        log.warning("mixed_precision on a CPU: using bfloat16 compute (float16 lacks CPU kernels; it is not faster)")
        keras.mixed_precision.set_global_policy("mixed_bfloat16")


class ApplicationDriver:
    """Runs ``action`` of the application class ``app_class`` with the resolved config ``cfg``."""

    def __init__(self, app_class: type, cfg: Any) -> None:
        self.app_class = app_class
        self.cfg = cfg

    def run(self, action: str, output: str | None = None) -> dict:
        """Run the action and return its summary (scalars, output paths, metrics).

        ``output`` is the folder of ``export``. The folder an action writes into is locked for the
        whole action (:mod:`voxflow.locks`), and the leftovers of a killed run of the same kind
        there are removed first (:func:`voxflow.atomic.clean_leftovers`).
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        cfg = self.cfg
        if action != "train":
            apply_trained_settings(cfg, self.app_class)
        strategy = make_strategy(cfg)  # first: logical devices must be set before other TF work
        set_precision(cfg)
        seed_everything(cfg, action)
        app = self.app_class(cfg, action)
        if action == "train":
            chief = is_chief(strategy)
            # Only the chief writes model_dir (its lock creates it); the other workers of a
            # multi-machine run share it.
            check_model_dir(cfg.system.model_dir, create=not chief, must_exist=False)
            lock = FolderLock(cfg.system.model_dir, "[SYSTEM] model_dir") if chief else nullcontext()
            with lock:
                return self._train(app, strategy)
        # evaluation compares files and needs no trained model (segmentation_evaluation.py)
        check_model_dir(cfg.system.model_dir, create=False, must_exist=action != "evaluation")
        if action == "export":
            return self._export(app, output)
        folder, what = ((cfg.inference.save_seg_dir, "[INFERENCE] save_seg_dir") if action == "inference"
                        else (cfg.evaluation.save_csv_dir, "[EVALUATION] save_csv_dir"))
        with FolderLock(folder, what):
            clean_leftovers(folder, kinds=("tmp",))
            if action == "inference":
                return self._infer(app, strategy)
            app.prepare()
            return app.evaluate()

    def _train(self, app: Any, strategy: tf.distribute.Strategy) -> dict:
        cfg = self.cfg
        model_dir = cfg.system.model_dir
        models = os.path.join(model_dir, "models")
        clean_leftovers(models, kinds=("ckpt",))
        clean_leftovers(model_dir, kinds=("tmp", "worker"))
        refuse_overwrite(CheckpointStore(models), cfg.training.starting_iter)
        app.prepare()
        if is_chief(strategy):
            save_config(cfg, os.path.join(model_dir, "settings_train.ini"))
        return Trainer(app, cfg, strategy).run()

    def _infer(self, app: Any, strategy: tf.distribute.Strategy) -> dict:
        cfg = self.cfg
        store = CheckpointStore(os.path.join(cfg.system.model_dir, "models"))
        iteration = store.select(cfg.inference.inference_iter)
        app.configure_from_checkpoint(store.meta(iteration))  # what training saw (e.g. an RGB image's 3 channels)
        dirs = member_dirs(cfg)
        for folder in dirs[1:]:  # before any work
            check_member(cfg, self.app_class, folder)
        app.prepare()
        members = load_members(app, cfg, strategy, dirs)
        return app.infer(members[0] if len(members) == 1 else members, strategy)

    def _export(self, app: Any, output: str | None) -> dict:
        from voxflow.engine.export import export_model  # noqa: PLC0415

        if not output:
            raise ConfigError("export needs --output DIR (the folder to create).")
        clean_leftovers(os.path.dirname(os.path.abspath(output)), kinds=("export",))
        return export_model(app, self.cfg, output)

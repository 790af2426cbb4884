"""ApplicationDriver: picks the application and the ``tf.distribute`` strategy, then runs one
action (train, inference or evaluation).

The same code path runs on CPU, one GPU and several GPUs: only the strategy differs (the default
strategy on one device, ``MirroredStrategy`` over ``num_gpus`` visible GPUs).
"""

from __future__ import annotations

import logging
import os
import random
from typing import Any

import keras
import tensorflow as tf

from voxflow.config import load_config, save_config
from voxflow.engine.checkpoints import CheckpointStore
from voxflow.engine.strategy import is_chief, make_strategy
from voxflow.engine.trainer import Trainer, check_model_dir, refuse_overwrite
from voxflow.errors import ConfigError

log = logging.getLogger("voxflow")

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
    section present in both configs. A differing value is replaced and reported, except an input
    key that training left unset (``axcodes``, ``pixdim``): the inference config may set it.
    """
    path = os.path.join(cfg.system.model_dir, "settings_train.ini")
    if not os.path.isfile(path):
        return
    trained = load_config(path, app_section=app_class.REQUIRED_CONFIG_SECTION, action="evaluation")
    pairs = []
    for section, key in getattr(app_class, "TRAINED_KEYS", ()):
        if section == "inputs":
            pairs += [(cfg.inputs[name], trained.inputs[name], name, key) for name in cfg.inputs if name in trained.inputs]
        else:
            pairs.append((getattr(cfg, section), getattr(trained, section), section.upper(), key))
    for current, saved, label, key in pairs:
        if label not in {"NETWORK", "APP"} and getattr(saved, key) in ((), None, ""):
            # An input key unset at training (e.g. no `axcodes`: the data were already in one
            # orientation) leaves the inference config free to bring new inputs to that state.
            continue
        if getattr(current, key) != getattr(saved, key):
            log.warning("using [%s] %s = %r from training (%s) instead of %r", label, key, getattr(saved, key), path,
                        getattr(current, key))
            setattr(current, key, getattr(saved, key))


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

        ``output`` is the folder of ``export``.
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
        model_dir = cfg.system.model_dir
        if action == "train":
            check_model_dir(model_dir, create=True)
            refuse_overwrite(CheckpointStore(os.path.join(model_dir, "models")), cfg.training.starting_iter)
            app.prepare()
            if is_chief(strategy):
                save_config(cfg, os.path.join(model_dir, "settings_train.ini"))
            return Trainer(app, cfg, strategy).run()
        if action == "inference":
            check_model_dir(model_dir, create=False)
            store = CheckpointStore(os.path.join(model_dir, "models"))
            iteration = store.select(cfg.inference.inference_iter)
            app.prepare()
            with strategy.scope():
                model = app.build_network()
                model(app.example_input(), training=False)
            store.restore(iteration, model)
            log.info("inference with the checkpoint of iteration %d", iteration)
            return app.infer(model, strategy)
        check_model_dir(model_dir, create=False)
        if action == "export":
            from voxflow.engine.export import export_model  # noqa: PLC0415

            if not output:
                raise ConfigError("export needs --output DIR (the folder to create).")
            return export_model(app, cfg, output)
        app.prepare()
        return app.evaluate()

"""The trained models inference averages: this ``model_dir``'s, then ``[INFERENCE]
ensemble_model_dirs``' (or, with ``num_folds`` and ``fold = -1``, every fold's), each at its
``inference_iter`` checkpoint.

Members must be the same recipe: the same trained settings (the application's ``TRAINED_KEYS``)
and the same learnt preprocessing state (label map, histogram landmarks), because inference
preprocesses each subject once for all of them. A member that differs is refused in one line
naming the member, the key and both values — averaging the probabilities of models that read
differently prepared inputs would be silent garbage.
"""

from __future__ import annotations

import filecmp
import logging
import os
from typing import Any

from voxflow.config import load_config
from voxflow.engine.checkpoints import CheckpointStore
from voxflow.errors import ConfigError

log = logging.getLogger(__name__)


def member_dirs(cfg: Any) -> list[str]:
    """This model's folder and the other members' (``ensemble_model_dirs``), without repeats."""
    dirs = [cfg.system.model_dir, *(cfg.inference.ensemble_model_dirs or ())]
    return list(dict.fromkeys(os.path.abspath(d) for d in dirs))


def check_member(cfg: Any, app_class: type, member: str) -> None:
    """Refuse a member trained with other settings or other learnt state than ``cfg``'s model.

    Raises:
        ConfigError: a missing folder or ``settings_train.ini``, a differing trained key, or a
            differing state file.
    """
    path = os.path.join(member, "settings_train.ini")
    if not os.path.isfile(path):
        raise ConfigError(f"[INFERENCE] ensemble_model_dirs: {member} holds no trained model (no settings_train.ini).")
    trained = load_config(path, app_section=app_class.SECTION, action="evaluation")
    for section, key in app_class.TRAINED_KEYS:
        if section == "inputs":
            pairs = [(cfg.inputs[n], trained.inputs[n], n) for n in cfg.inputs if n in trained.inputs]
        else:
            pairs = [(getattr(cfg, section), getattr(trained, section), section.upper())]
        for mine, theirs, label in pairs:
            schema = trained.schema_of(theirs.section_name)
            if key in schema and schema[key].type.is_path:
                continue  # files of the model (compared below by content)
            if getattr(mine, key) != getattr(theirs, key):
                raise ConfigError(f"[INFERENCE] ensemble_model_dirs: {member} was trained with [{label}] {key} = "
                                  f"{getattr(theirs, key)!r}, this model with {getattr(mine, key)!r}: members of an "
                                  "ensemble must share the recipe.")
    for name in ("label_map.json", os.path.basename(cfg.network.histogram_ref_file or "")):
        if not name:
            continue
        ours, theirs = os.path.join(cfg.system.model_dir, name), os.path.join(member, name)
        if os.path.isfile(ours) != os.path.isfile(theirs) or (
                os.path.isfile(ours) and not filecmp.cmp(ours, theirs, shallow=False)):
            raise ConfigError(f"[INFERENCE] ensemble_model_dirs: {theirs} differs from {ours}: members of an ensemble "
                              "must share their learnt preprocessing (train them with the same label map and "
                              "histogram file).")


def load_members(app: Any, cfg: Any, strategy: Any, dirs: list[str]) -> list[dict[str, Any]]:
    """Each member's models, built and restored from its ``inference_iter`` checkpoint."""
    members = []
    for folder in dirs:  # (the driver checked the other members before any work: check_member)
        store = CheckpointStore(os.path.join(folder, "models"))
        iteration = store.select(cfg.inference.inference_iter)
        with strategy.scope():
            models = app.build_models()  # each built on an example input
        store.restore(iteration, models)
        log.info("inference with the checkpoint of iteration %d of %s", iteration, folder)
        members.append(models)
    return members

"""``net_segment plan -c config.ini`` (or ``-c data_folder/``): read the training data once and
write the recipe planned from it (:mod:`voxflow.planning`).

- From a config: its image and label sections' training subjects are fingerprinted, and a copy
  of the config with every planned key set (each with a ``# voxflow plan:`` comment saying why) is
  written to ``--output`` (default: ``<config>_planned.ini`` beside it).
- From a folder: nnU-Net's layout (``imagesTr/<case>_0000.nii.gz`` …, ``labelsTr/<case>.nii.gz``)
  or a flat folder whose label files have ``label`` (or ``seg``) in their names; a complete config
  is written (default: ``<folder name>_planned.ini`` in the current folder).

The planned values are printed as a table; the fingerprint and the plan are saved as
``fingerprint.json`` and ``plan.json`` in the planned ``model_dir``. An existing output file is
never replaced (name another with ``--output``). No TensorFlow is imported: planning takes seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from typing import Any

from voxflow.atomic import atomic_write_text
from voxflow.errors import ConfigError, DataError
from voxflow.io import is_image_file, split_extension

_LABEL_WORDS = ("label", "seg")


def run_plan(app_class: type, args: argparse.Namespace, overrides: list[str]) -> int:
    """Plan from ``args.conf`` (a config or a data folder) and write the planned config."""
    from voxflow.planning import compute_fingerprint, plan, render_config, render_table, save_fingerprint  # noqa: PLC0415

    if app_class.SECTION != "SEGMENTATION":
        raise ConfigError(f"plan is available for segmentation (net_segment); [{app_class.SECTION}] has no planner.")
    source = os.path.abspath(args.conf)
    if os.path.isdir(source):
        if overrides:
            raise ConfigError(f"plan from a folder takes no key overrides (found {overrides[0]}); plan, then edit the "
                              "written config.")
        output = os.path.abspath(args.output or f"{os.path.basename(source.rstrip(os.sep))}_planned.ini")
        base_text, roles, cases, model_dir = _folder_config(source, os.path.dirname(output))
    else:
        output = os.path.abspath(args.output or f"{os.path.splitext(source)[0]}_planned.ini")
        if os.path.dirname(output) != os.path.dirname(source):
            raise ConfigError(f"plan: --output {output} is not in the folder of {source}; the planned copy keeps the "
                              "config's relative paths, so it must sit beside it (name a file there).")
        base_text, roles, cases, model_dir = _config_cases(app_class, source, overrides)
    if os.path.exists(output):
        raise ConfigError(f"plan: {output} already exists; voxflow never replaces a file: name another with --output.")
    image_sections = roles["image"]
    fp = compute_fingerprint(cases, image_sections=image_sections, label_section=roles["label"][0])
    recipe = plan(fp, device=args.device, memory_gb=args.memory_gb, cpu_cores=args.cpu_cores)
    text = render_config(recipe, fp, image_sections=roles, base_text=base_text, label_sections=roles["label"])
    print(render_table(recipe, fp))
    os.makedirs(model_dir, exist_ok=True)
    save_fingerprint(fp, os.path.join(model_dir, "fingerprint.json"))
    atomic_write_text(os.path.join(model_dir, "plan.json"), json.dumps(recipe.to_json(), indent=2) + "\n")
    atomic_write_text(output, text)
    print(f"plan: wrote {output} (fingerprint and plan in {model_dir}); train with: net_segment train -c {output}")
    return 0


def _config_cases(app_class: type, path: str, overrides: list[str]) -> tuple[str, dict, list, str]:
    """The user's config text, its roles, the training cases and the model folder."""
    from voxflow.config import load_config  # noqa: PLC0415
    from voxflow.planning import cases_from_config  # noqa: PLC0415

    cfg = load_config(path, overrides=overrides, app_section=app_class.SECTION, action="train")
    if cfg.path.lower().endswith((".yaml", ".yml")):
        raise ConfigError(f"plan writes the planned keys into an INI copy of the config; {cfg.path} is YAML: plan "
                          "from its data folder (net_segment plan -c FOLDER) or an INI config.")
    roles = {"image": list(cfg.app.image), "label": list(cfg.app.label)}
    if not roles["label"]:
        raise ConfigError(f"plan needs `label` in [SEGMENTATION] of {cfg.path} (the labelled training data).")
    cases = cases_from_config(cfg, roles["image"], roles["label"][0])
    with open(path, encoding="utf-8") as handle:
        return handle.read(), roles, cases, cfg.system.model_dir


def _folder_config(folder: str, out_dir: str) -> tuple[str, dict, list, str]:
    """A config for a data folder (nnU-Net's layout or a flat folder), its roles, cases and model folder."""
    from voxflow.planning import Case  # noqa: PLC0415

    images_tr, labels_tr = os.path.join(folder, "imagesTr"), os.path.join(folder, "labelsTr")
    if os.path.isdir(images_tr) and os.path.isdir(labels_tr):
        labels = _stems(labels_tr)
        channels = sorted({m.group(1) for stem in _stems(images_tr) if (m := re.search(r"_(\d{4})$", stem))})
        if not channels:
            raise DataError(f"{images_tr} holds no image named <case>_0000.<ext> (nnU-Net's layout).")
        sections = {f"channel_{c}": (images_tr, f"_{c}", "") for c in channels}
        sections["label"] = (labels_tr, "", "")
        files = {c: {stem[: -len(c) - 1]: path for stem, path in _stems(images_tr).items() if stem.endswith("_" + c)}
                 for c in channels}
        ids = sorted(labels)
        cases = [Case(i, [files[c][i] for c in channels], labels[i]) for i in ids if all(i in files[c] for c in channels)]
    else:
        stems = _stems(folder)
        label_files = {s: p for s, p in stems.items() if any(w in s.lower() for w in _LABEL_WORDS)}
        word = next((w for w in _LABEL_WORDS if any(w in s.lower() for s in label_files)), "label")
        image_files = {s: p for s, p in stems.items() if s not in label_files}
        label_by_id = {_strip(s, word): p for s, p in label_files.items()}
        tokens = {_image_token(s, label_by_id) for s in image_files} - {None}
        if len(tokens) != 1:
            raise DataError(f"{folder}: expected nnU-Net's imagesTr/labelsTr, or one image and one label file per "
                            f"subject whose names differ by a word (sub01_T1, sub01_{word}); found image name parts "
                            f"{sorted(t for t in tokens if t) or 'none'}.")
        token = tokens.pop()
        sections = {"image": (folder, token, ""), "label": (folder, word, "")}
        cases = [Case(i, [image_files[s]], label_by_id[i]) for s in sorted(image_files)
                 if (i := _strip(s, token)) in label_by_id]
        channels = ["image"]
    if not cases:
        raise DataError(f"{folder}: no subject has both an image and a label.")
    image_names = [name for name in sections if name != "label"]
    lines = [f"# voxflow plan of the data in {folder}", ""]
    for name, (where, contains, _) in sections.items():
        lines += [f"[{name}]", f"path_to_search = {os.path.relpath(where, out_dir)}"]
        lines += [f"filename_contains = {contains}"] if contains else []
        lines += ["filename_not_contains = " + ", ".join(_LABEL_WORDS)] if name == "image" else []
        lines.append("")
    model_dir = os.path.join(out_dir, os.path.basename(folder.rstrip(os.sep)) + "_model")
    lines += ["[SYSTEM]", f"model_dir = {os.path.relpath(model_dir, out_dir)}", "seed = 0", "",
              "[SEGMENTATION]", f"image = {', '.join(image_names)}", "label = label", ""]
    return "\n".join(lines), {"image": image_names, "label": ["label"]}, cases, model_dir


def _stems(folder: str) -> dict[str, str]:
    return {split_extension(name)[0]: os.path.join(folder, name) for name in sorted(os.listdir(folder))
            if is_image_file(name)}


def _strip(stem: str, token: str) -> str:
    """A file stem without ``token`` and the separators around it: the subject id."""
    at = stem.lower().find(token.lower())
    return (stem[:at] + stem[at + len(token):]).strip("_-. ") if at >= 0 else stem


def _image_token(stem: str, label_ids: dict[str, Any]) -> str | None:
    """The word of an image file's name that is not its subject id (``sub01_T1`` → ``T1``)."""
    for subject in label_ids:
        if stem.startswith(subject):
            return stem[len(subject):].strip("_-. ") or None
    return None

"""``net_zoo pack``: a trained ``model_dir`` becomes a zoo entry with its index record.

What goes into ``<zoo>/<entry_id>/``:

- ``config.ini``: the resolved config, with ``model_dir = model`` (the unpacked weights), the
  preprocessing state inside it, outputs in ``output/`` and ``evaluation/`` of the entry, input
  ``path_to_search`` empty (the user gives ``--path_to_search DIR``), ``dataset_to_infer = all``
  and ``inference_iter`` = the packed checkpoint;
- ``weights.tar.gz``: ``models/ckpt-<N>/`` without its optimiser state (inference and fine-tuning start
  a fresh optimiser; Adam's moments are two thirds of a checkpoint), plus ``models/best.json`` when N
  is the best, and
  the state files ``settings_train.ini`` (paths made relative), the histogram landmarks
  (``histogram_ref_file.json``) and ``label_map.json`` when present;
- the source of every plugin (network, loss, optimiser, sampler) the config names by a dotted
  path whose module lies in the config's folder;
- ``README.md`` with the facts known here, for the author to finish (see :mod:`.readme`).

The plugin sources are the entry's code: the index lists them under ``code`` (and the weights
archive never holds code, see :mod:`.archive`).

Writing into the zoo holds :class:`~voxflow.locks.FolderLock` on it (a second ``net_zoo pack``
into the same zoo stops with one line instead of losing one of the two index updates), and first
puts back or removes what killed packs left (:mod:`.staging`). The entry is assembled in
``<zoo>/.pack-<id>.vxtmp-...``; then, in this order, the new index is written to a temporary file
next to ``index.yaml``, the entry folder is swapped into place (the old one moved aside into
``.old-<id>.vxtmp-...``, then removed), and the temporary index is renamed over ``index.yaml``.
A kill between those renames leaves either the entry folder missing (put back by the next pack)
or the new entry under the old index (``net_zoo verify`` reports the mismatch; ``net_zoo pack
--force`` again repairs it); see docs/model_zoo.md.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxflow import registry
from voxflow.atomic import atomic_path, atomic_write_text
from voxflow.config import load_config, render_ini
from voxflow.locks import FolderLock
from voxflow.zoo.archive import write_archive
from voxflow.zoo.index import (
    INDEX_NAME,
    Entry,
    FileRecord,
    Index,
    ZooError,
    check_entry_id,
    is_code,
    read_index_file,
    record_file,
)
from voxflow.zoo.ini_paths import absolute_to_relative, rewrite_paths
from voxflow.zoo.installer import CONFIG_NAME, WEIGHTS_DIR
from voxflow.zoo.readme import facts_block, render_readme
from voxflow.zoo.staging import recover_leftovers, staging_folder, swap_into_place

logger = logging.getLogger(__name__)
WEIGHTS_ARCHIVE = "weights.tar.gz"
_CKPT_RE = re.compile(r"^ckpt-(\d+)$")
LEFTOVER_KINDS = ("pack", "tmp")
_PLUGIN_KEYS = (("NETWORK", "name", "network"), ("TRAINING", "loss_type", "loss"),
                ("TRAINING", "optimiser", "optimiser"), ("NETWORK", "window_sampling", "sampler"))


@dataclass(frozen=True)
class PackResult:
    """What :func:`pack` wrote."""

    entry: Entry
    folder: Path
    iteration: int


def checkpoint_iterations(models: Path) -> list[int]:
    """Iterations of the complete checkpoints (``ckpt-N/meta.json``) in ``models``, ascending."""
    if not models.is_dir():
        return []
    return sorted(int(m.group(1)) for p in models.iterdir()
                  if (m := _CKPT_RE.match(p.name)) and (p / "meta.json").is_file())


def select_checkpoint(models: Path, selector: str) -> tuple[int, dict | None]:
    """Resolve ``latest``, ``best`` or an iteration number; returns ``(iteration, best.json)``.

    Raises:
        ZooError: no checkpoint, no best checkpoint, or no checkpoint of that iteration.
    """
    its = checkpoint_iterations(models)
    if not its:
        raise ZooError(f"No checkpoint in {models}: train the model first (net_segment train -c ...).")
    best_path = models / "best.json"
    best = json.loads(best_path.read_text(encoding="utf-8")) if best_path.is_file() else None
    if best is not None and int(best.get("iteration", -1)) not in its:
        best = None
    text = str(selector).strip().lower()
    if text in ("latest", "-1"):
        return its[-1], best
    if text == "best":
        if best is None:
            raise ZooError(f"No best-validation checkpoint in {models} (no best.json): use --checkpoint latest.")
        return int(best["iteration"]), best
    try:
        iteration = int(text)
    except ValueError as err:
        raise ZooError(f"Invalid --checkpoint '{selector}'. Expected latest, best or an iteration number.") from err
    if iteration not in its:
        raise ZooError(f"No checkpoint for iteration {iteration} in {models}. Available: "
                       f"{', '.join(map(str, its))}.")
    return iteration, best


def plugin_sources(cfg) -> list[tuple[str, Path]]:  # noqa: ANN001 - a voxflow Config
    """``(name in the entry, file)`` for every plugin module the config names from its own folder.

    A dotted value (``my_net.MyNet``) whose top-level module is ``<config folder>/my_net.py`` or
    a package ``<config folder>/my_net/`` is shipped; built-in names and installed packages are not.
    """
    found: dict[str, Path] = {}
    folder = Path(cfg.config_dir)
    for section, key, family in _PLUGIN_KEYS:
        value = str(getattr(getattr(cfg, section.lower()), key, "") or "")
        if "." not in value or registry.is_builtin(family, value):
            continue
        top = value.split(".", 1)[0]
        if (folder / f"{top}.py").is_file():
            found[f"{top}.py"] = folder / f"{top}.py"
        elif (folder / top / "__init__.py").is_file():
            for path in sorted((folder / top).rglob("*.py")):
                found[path.relative_to(folder).as_posix()] = path
    return sorted(found.items())


def _entry_config(cfg, iteration: int) -> str:  # noqa: ANN001 - a voxflow Config
    """The entry's config.ini text: paths relative to the entry (see the module docstring)."""
    cfg.inference.inference_iter = iteration
    cfg.inference.dataset_to_infer = "all"
    model_dir = cfg.system.model_dir
    fixed = {("SYSTEM", "model_dir"): WEIGHTS_DIR,
             ("SYSTEM", "dataset_split_file"): f"{WEIGHTS_DIR}/dataset_split.csv",
             ("NETWORK", "histogram_ref_file"): f"{WEIGHTS_DIR}/histogram_ref_file.json",
             ("INFERENCE", "save_seg_dir"): "output", ("EVALUATION", "save_csv_dir"): "evaluation"}

    def mapper(section: str, key: str, value: str) -> str:
        if (section, key) in fixed:
            return fixed[(section, key)]
        if section in cfg.inputs and key in ("path_to_search", "csv_file"):
            return ""
        if os.path.isabs(value) and os.path.commonpath([model_dir, value]) == model_dir:
            return f"{WEIGHTS_DIR}/{os.path.relpath(value, model_dir)}"
        logger.warning("[%s] %s = %s is outside model_dir: left unset in the entry's config", section, key, value)
        return ""

    text = rewrite_paths(render_ini(cfg), mapper)
    header = ("# Zoo entry config written by `net_zoo pack`. Relative paths are relative to this file's folder\n"
              "# (net_download makes them absolute on install). Give your images with --path_to_search DIR.\n")
    return header + "".join(text.splitlines(keepends=True)[1:])


def _weights_members(cfg, models: Path, iteration: int, best: dict | None, work: Path) -> list[tuple[str, Path]]:  # noqa: ANN001
    checkpoint = _without_optimiser_state(models / f"ckpt-{iteration}", work / ".weights" / f"ckpt-{iteration}")
    members = [(f"models/ckpt-{iteration}/{p.name}", p) for p in sorted(checkpoint.iterdir()) if p.is_file()]
    if best is not None and int(best["iteration"]) == iteration:
        members.append(("models/best.json", models / "best.json"))
    model_dir = Path(cfg.system.model_dir)
    settings = model_dir / "settings_train.ini"
    if settings.is_file():
        clean = work / ".settings_train.ini"
        text = rewrite_paths(settings.read_text(encoding="utf-8"), absolute_to_relative(cfg.config_dir))
        clean.write_text("# Paths are relative to the folder of the training config.\n" + text, encoding="utf-8")
        members.append(("settings_train.ini", clean))
    histogram = cfg.network.histogram_ref_file
    if histogram and os.path.isfile(histogram):
        members.append(("histogram_ref_file.json", Path(histogram)))
    for name in application_state_files(cfg):
        if (model_dir / name).is_file():
            members.append((name, model_dir / name))
    return members


def _without_optimiser_state(checkpoint: Path, copy: Path) -> Path:
    """``checkpoint``, or when it holds optimiser state a copy without it in ``copy``
    (:func:`voxflow.engine.checkpoints.write_weights_only`: inference and fine-tuning start a fresh
    optimiser, and Adam's moments are two thirds of a checkpoint)."""
    try:
        counts = json.loads((checkpoint / "meta.json").read_text(encoding="utf-8")).get("optimizer_variables", 0)
    except (OSError, ValueError, AttributeError):
        return checkpoint  # packed as it is; net_download's restore names what is wrong with it
    if not any(counts.values() if isinstance(counts, dict) else [counts]):
        return checkpoint
    from voxflow.engine.checkpoints import write_weights_only  # noqa: PLC0415 - TensorFlow on demand

    write_weights_only(str(checkpoint), str(copy))
    return copy


def _application_class(cfg: Any) -> Any:
    """The application class of the config's section (None for a plugin application named otherwise)."""
    try:
        return registry.resolve("application", cfg.app.section_name.lower(), search_dirs=(cfg.config_dir,))
    except Exception:  # noqa: BLE001 - a plugin's section voxflow cannot map to its class
        return None


def application_state_files(cfg: Any) -> tuple[str, ...]:
    """The state files of the config's application (``Application.STATE_FILES``), and always
    ``label_map.json``; an application voxflow cannot resolve by its section adds none."""
    names = ("label_map.json", *getattr(_application_class(cfg), "STATE_FILES", ()))
    return tuple(dict.fromkeys(names))


def pack(config: str | os.PathLike[str], entry_id: str, zoo: str | os.PathLike[str],
         checkpoint: str = "best", overrides: Sequence[str] = (), app_section: str | None = None,
         description: str = "", force: bool = False, version: int | None = None) -> PackResult:
    """Turn the trained ``model_dir`` of ``config`` into the zoo entry ``<zoo>/<entry_id>``.

    Args:
        config: the training config (INI or YAML).
        entry_id: the entry's ID (its folder name).
        zoo: the zoo folder (created if needed; ``index.yaml`` in it is updated).
        checkpoint: ``best``, ``latest`` or an iteration number.
        overrides: ``--key value`` overrides, as for ``net_segment``.
        app_section: the application's config section.
        description: one line for the index (kept from the previous version when empty).
        force: replace an existing entry (its README's hand-written parts are kept).
        version: the entry's version; ``None`` = the previous one, plus one if any file changed
            (1 for a new entry).

    Returns:
        The :class:`PackResult`.

    Raises:
        ZooError: no such checkpoint, or the entry exists and ``force`` is False.
        ConfigError: the config is invalid.
    """
    check_entry_id(entry_id)
    zoo_dir = zoo_folder(zoo)
    cfg = load_config(config, overrides=overrides, app_section=app_section, action="inference")
    models = Path(cfg.system.model_dir) / "models"
    iteration, best = select_checkpoint(models, checkpoint)
    with FolderLock(str(zoo_dir), "the model zoo"):
        recover_leftovers(zoo_dir, LEFTOVER_KINDS)
        index = read_index_file(zoo_dir)
        target = zoo_dir / entry_id
        previous = index.entries.get(entry_id)
        if (previous is not None or target.exists()) and not force:
            raise ZooError(f"Zoo entry '{entry_id}' already exists in {zoo_dir}: pass --force to replace it "
                           "(the hand-written parts of its README are kept).")
        work = staging_folder(zoo_dir, f"pack-{entry_id}")
        try:
            files = _assemble(cfg, models, iteration, best, entry_id, work, target)
            entry = Entry(entry_id, _version(version, previous, files), files, WEIGHTS_ARCHIVE,
                          description or (previous.description if previous else "") or f"{cfg.network.name} model",
                          str(cfg.network.name), sorted(name for name in files if is_code(name, files)))
            index.entries[entry_id] = entry
            _replace_entry_and_index(zoo_dir, index, work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return PackResult(entry, target, iteration)


def zoo_folder(zoo: str | os.PathLike[str]) -> Path:
    """The zoo folder ``--zoo`` names, resolved.

    Raises:
        ZooError: it is a file.
    """
    folder = Path(zoo).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise ZooError(f"--zoo {zoo} is a file: expected the zoo folder (it is created if missing).")
    return folder


def _assemble(cfg: Any, models: Path, iteration: int, best: dict | None, entry_id: str, work: Path,
              target: Path) -> dict[str, FileRecord]:
    """Write the entry's files into ``work``; returns their records by name."""
    from voxflow.data.preprocessing.state import load_label_map  # noqa: PLC0415 - NumPy on demand

    label_map = Path(cfg.system.model_dir) / "label_map.json"
    label_values = list(load_label_map(str(label_map))[1].output_values) if label_map.is_file() else None
    facts = facts_block(cfg, iteration, best, label_values)
    old_readme = (target / "README.md").read_text(encoding="utf-8") if (target / "README.md").is_file() else None
    write_archive(work / WEIGHTS_ARCHIVE, _weights_members(cfg, models, iteration, best, work))
    (work / ".settings_train.ini").unlink(missing_ok=True)
    shutil.rmtree(work / ".weights", ignore_errors=True)
    for name, source in plugin_sources(cfg):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, work / name)
    atomic_write_text(str(work / CONFIG_NAME), _entry_config(cfg, iteration))
    script = getattr(_application_class(cfg), "CONSOLE_SCRIPT", None) or "net_run"
    atomic_write_text(str(work / "README.md"), render_readme(entry_id, facts, old_readme, script))
    _make_readable(work)
    return {p.relative_to(work).as_posix(): record_file(work, p.relative_to(work).as_posix())
            for p in sorted(work.rglob("*")) if p.is_file()}


def _version(version: int | None, previous: Entry | None, files: dict[str, FileRecord]) -> int:
    """The given version, else the previous one (plus one if any file changed), else 1."""
    if version is not None:
        if version < 1:
            raise ZooError(f"Invalid --entry-version {version}: expected a whole number >= 1.")
        return version
    if previous is None:
        return 1
    same = {n: r.sha256 for n, r in previous.files.items()} == {n: r.sha256 for n, r in files.items()}
    return previous.version if same else previous.version + 1


def _replace_entry_and_index(zoo_dir: Path, index: Index, work: Path, target: Path) -> None:
    """New index to a temporary file, entry folder swapped into place, then the index renamed over."""
    path = zoo_dir / INDEX_NAME
    with atomic_path(str(path)) as tmp:
        Path(tmp).write_text(index.to_text(), encoding="utf-8")
        swap_into_place(work, target)
    os.chmod(path, 0o644)  # a zoo is meant to be shared or served as it is


def _make_readable(folder: Path) -> None:
    """Folders 0755 and files 0644, so a zoo can be shared or served as it is."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)

"""Subjects: files of every input section matched by subject id; train/validation/inference splits.

A *subject* is one case (patient, scan) with one file per input section (``T1``, ``label``...).
Files are found per section by searching folders with name filters, or listed in a CSV file;
ids are derived from file names and must match across the sections read together.

Example:
    >>> subjects = find_subjects(cfg, sections=("T1", "label"))      # doctest: +SKIP
    >>> parts = split_subjects([s.id for s in subjects], cfg, "train")  # doctest: +SKIP
    >>> parts["validation"]                                           # doctest: +SKIP
    ['sub03']
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxflow.atomic import atomic_write_text
from voxflow.errors import ConfigError, DataError
from voxflow.io.formats import is_dicom_series_dir, split_extension

logger = logging.getLogger(__name__)

PHASES = ("training", "validation", "inference")
_ID_STRIP = "_-. "
_SHOW = 5


@dataclass
class Subject:
    """One case: its id and one file (or DICOM folder) per input section."""

    id: str
    files: dict[str, str] = field(default_factory=dict)


def _few(items: list[str]) -> str:
    shown = ", ".join(repr(i) for i in items[:_SHOW])
    return shown + (f" and {len(items) - _SHOW} more" if len(items) > _SHOW else "")


def _tokens(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value if str(v))


def _section(cfg: Any, name: str) -> Any:
    try:
        return cfg.inputs[name]
    except KeyError:
        known = ", ".join(cfg.inputs) or "none"
        raise ConfigError(
            f"Input section [{name}] is used but not defined. Defined input sections: {known}."
        ) from None


def _subject_id(stem: str, section_name: str, section: Any) -> str:
    regex = getattr(section, "filename_removefromid", "") or ""
    if regex:
        try:
            stem = re.sub(regex, "", stem)
        except re.error as error:
            raise ConfigError(
                f"Invalid value for `filename_removefromid` in [{section_name}]. Expected a "
                f"regular expression. Received: {regex!r} ({error})."
            ) from None
    else:
        for token in _tokens(section.filename_contains):
            stem = stem.replace(token, "")
    return stem.strip(_ID_STRIP)


def _add(found: dict[str, str], subject_id: str, path: str, section_name: str) -> None:
    if not subject_id:
        raise DataError(
            f"File '{path}' of [{section_name}] gives an empty subject id; set "
            "`filename_removefromid` or `filename_contains` so that some of its name remains."
        )
    if subject_id in found:
        raise DataError(
            f"Subject id '{subject_id}' is given by two files of [{section_name}]: "
            f"'{found[subject_id]}' and '{path}'. Make `filename_contains`, "
            "`filename_not_contains` or `filename_removefromid` more specific."
        )
    found[subject_id] = path


def _read_file_list(csv_path: str, section_name: str) -> dict[str, str]:
    """Reads ``subject_id,path`` rows; relative paths are relative to the CSV's folder."""
    folder = os.path.dirname(csv_path)
    found: dict[str, str] = {}
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            row = [cell.strip() for cell in row]
            if not any(row) or row[0].startswith("#"):
                continue
            if len(row) < 2 or not row[0] or not row[1]:
                raise DataError(
                    f"Invalid row {line} in csv_file '{csv_path}' of [{section_name}]: "
                    f"expected 'subject_id,path', received {','.join(row)!r}."
                )
            if line == 1 and row[0].lower() in ("subject_id", "subject", "id"):
                continue  # header row
            path = os.path.normpath(os.path.join(folder, os.path.expanduser(row[1])))
            if not os.path.exists(path):
                raise DataError(
                    f"File '{path}' listed on line {line} of csv_file '{csv_path}' "
                    f"([{section_name}]) does not exist."
                )
            _add(found, row[0], path, section_name)
    if not found:
        raise DataError(f"csv_file '{csv_path}' of [{section_name}] lists no subject.")
    return found


def _candidates(folder: str) -> list[tuple[str, str]]:
    """(name, stem) of every image file and DICOM folder in ``folder``, sorted by name."""
    names = sorted(os.listdir(folder))
    present = set(names)
    out = []
    for name in names:
        full = os.path.join(folder, name)
        stem, ext = split_extension(name)
        if os.path.isdir(full):
            if is_dicom_series_dir(full):
                out.append((name, name))
            continue
        if not ext:
            continue
        if ext == ".img" and (stem + ".hdr") in present:
            continue  # the .hdr/.img pair is listed once, by its header
        out.append((name, stem))
    return out


def _search(section_name: str, section: Any) -> dict[str, str]:
    folders = _tokens(section.path_to_search)
    if not folders:
        raise DataError(
            f"Input section [{section_name}] has no `path_to_search` and no existing `csv_file`; "
            "set one of them."
        )
    contains = _tokens(section.filename_contains)
    not_contains = _tokens(getattr(section, "filename_not_contains", ()))
    found: dict[str, str] = {}
    for folder in folders:
        if not os.path.isdir(folder):
            raise DataError(
                f"Folder '{folder}' in `path_to_search` of [{section_name}] does not exist."
            )
        for name, stem in _candidates(folder):
            if all(t in name for t in contains) and not any(t in name for t in not_contains):
                full = os.path.join(folder, name)
                _add(found, _subject_id(stem, section_name, section), full, section_name)
    if not found:
        rule = f"names containing {list(contains)}" if contains else "image files"
        if not_contains:
            rule += f" and not containing {list(not_contains)}"
        raise DataError(f"No file of [{section_name}] found: searched {list(folders)} for {rule}.")
    return found


def _describe_search(section_name: str, section: Any) -> str:
    csv_file = getattr(section, "csv_file", "") or ""
    if csv_file and os.path.isfile(csv_file):
        return f"listed in '{csv_file}'"
    contains = list(_tokens(section.filename_contains))
    return f"searched {list(_tokens(section.path_to_search))} for {contains}"


def list_section_files(cfg: Any, section_name: str) -> dict[str, str]:
    """Files of one input section, by subject id (the CSV list if it exists, else a search).

    Raises:
        ConfigError: the section is not defined, or its id regex is invalid.
        DataError: missing folder, no matching file, duplicate ids, bad CSV rows.
    """
    section = _section(cfg, section_name)
    csv_file = getattr(section, "csv_file", "") or ""
    if csv_file and os.path.isfile(csv_file):
        return _read_file_list(csv_file, section_name)
    return _search(section_name, section)


def find_subjects(cfg: Any, sections: tuple[str, ...]) -> list[Subject]:
    """Finds the subjects having one file in every one of ``sections``.

    Per section: the ``csv_file`` list if that file exists; otherwise the image files and DICOM
    folders directly inside each ``path_to_search`` folder whose *file name* (extension
    included) contains every ``filename_contains`` token and no ``filename_not_contains``
    token. The id is the name without its extension, minus the ``filename_removefromid``
    regex (or, without one, minus the ``filename_contains`` tokens), stripped of ``_ - .``.

    Args:
        cfg: the configuration (uses ``cfg.inputs[section]``).
        sections: input-section names, e.g. ``("T1", "T2", "label")``.

    Returns:
        Subjects sorted by id, each with ``files[section]`` for every section.

    Raises:
        DataError: a section's files cannot be listed, or a subject has files in some of the
            sections but not in all (the message names the subject, file and searched folders).
    """
    sections = tuple(dict.fromkeys(sections))
    per_section = {name: list_section_files(cfg, name) for name in sections}
    all_ids = sorted(set().union(*(files.keys() for files in per_section.values())))
    incomplete = []
    first_problem = ""
    for subject_id in all_ids:
        have = [s for s in sections if subject_id in per_section[s]]
        missing = [s for s in sections if subject_id not in per_section[s]]
        if missing:
            incomplete.append(subject_id)
            if not first_problem:
                example = per_section[have[0]][subject_id]
                first_problem = (
                    f"Subject '{subject_id}' has a file in [{have[0]}] ('{example}') but no file "
                    f"in [{missing[0]}] ({_describe_search(missing[0], _section(cfg, missing[0]))})"
                )
    if incomplete:
        raise DataError(
            f"{first_problem}; {len(incomplete)} subject(s) are incomplete: {_few(incomplete)}."
        )
    return [Subject(i, {s: per_section[s][i] for s in sections}) for i in all_ids]


def _read_split_file(path: str) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {p: [] for p in PHASES}
    with open(path, newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            row = [cell.strip() for cell in row]
            if not any(row) or row[0].startswith("#"):
                continue
            if line == 1 and row[0].lower() in ("subject_id", "subject", "id"):
                continue
            phase = row[1].lower() if len(row) >= 2 else ""
            if phase not in PHASES:
                raise DataError(
                    f"Invalid phase on line {line} of dataset_split_file '{path}'. Expected one "
                    f"of: {', '.join(PHASES)}. Received: {','.join(row)!r}."
                )
            if row[0] not in parts[phase]:
                parts[phase].append(row[0])
    return parts


def _write_split_file(path: str, parts: dict[str, list[str]]) -> None:
    rows = sorted((sid, phase) for phase in PHASES for sid in parts[phase])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def _count(fraction: float, total: int) -> int:
    if not fraction or fraction <= 0:
        return 0
    return max(1, int(round(fraction * total)))


def random_split(ids: list[str], fraction_validation: float, fraction_inference: float,
                 seed: int | None) -> dict[str, list[str]]:
    """Seeded random split of ``ids`` by fractions (each non-zero fraction gets >= 1 subject).

    Raises:
        DataError: the fractions leave no training subject.
    """
    ids = sorted(ids)
    n_val = _count(fraction_validation, len(ids))
    n_inf = _count(fraction_inference, len(ids))
    if n_val + n_inf >= len(ids):
        raise DataError(
            f"Cannot split {len(ids)} subject(s) with exclude_fraction_for_validation = "
            f"{fraction_validation} and exclude_fraction_for_inference = {fraction_inference}: "
            f"{n_val} + {n_inf} excluded subjects leave none for training."
        )
    order = np.random.default_rng(0 if seed is None else seed).permutation(len(ids))
    shuffled = [ids[i] for i in order]
    return {
        "validation": sorted(shuffled[:n_val]),
        "inference": sorted(shuffled[n_val : n_val + n_inf]),
        "training": sorted(shuffled[n_val + n_inf :]),
    }


def split_subjects(ids: list[str], cfg: Any, action: str | None = None) -> dict[str, list[str]]:
    """Splits subject ids into training / validation / inference partitions.

    With an existing ``cfg.system.dataset_split_file`` (CSV ``subject_id,phase``) that file is
    the split: listed ids that were not found are ignored (warning). Found ids it does not list
    are an error when training; for other actions they are added to ``inference`` (warning), so
    that a trained model can be run on new subjects. Without the file, training makes a seeded
    random split by ``exclude_fraction_for_validation`` / ``_for_inference`` and writes it;
    other actions put every subject in every partition (as NiftyNet did).

    Args:
        ids: subject ids found by :func:`find_subjects`.
        cfg: the configuration.
        action: ``"train"``, ``"inference"`` or ``"evaluation"``; ``None`` uses ``cfg.action``
            when present, else ``"train"``.

    Returns:
        ``{"training": [...], "validation": [...], "inference": [...]}``, each sorted.

    Raises:
        DataError: a bad phase in the split file, unlisted subjects when training, or fractions
            that leave no training subject.
    """
    action = action or getattr(cfg, "action", None) or "train"
    ids = sorted(dict.fromkeys(ids))
    split_file = cfg.system.dataset_split_file
    if split_file and os.path.isfile(split_file):
        listed = _read_split_file(split_file)
        known = set(ids)
        in_file = {sid for phase in PHASES for sid in listed[phase]}
        stale = sorted(in_file - known)
        if stale:
            logger.warning(
                "%d subject(s) in dataset_split_file '%s' were not found and are ignored: %s",
                len(stale), split_file, _few(stale),
            )
        unlisted = sorted(known - in_file)
        parts = {p: sorted(s for s in listed[p] if s in known) for p in PHASES}
        if unlisted and action == "train":
            raise DataError(
                f"{len(unlisted)} subject(s) found by the input sections are not listed in "
                f"dataset_split_file '{split_file}': {_few(unlisted)}. Add them to the file, "
                "or delete it to make a new random split."
            )
        if unlisted:
            logger.warning(
                "%d subject(s) not listed in dataset_split_file '%s' are used for inference: %s",
                len(unlisted), split_file, _few(unlisted),
            )
            parts["inference"] = sorted(set(parts["inference"]) | set(unlisted))
        return parts
    if action == "train":
        parts = random_split(
            ids,
            cfg.training.exclude_fraction_for_validation,
            cfg.training.exclude_fraction_for_inference,
            cfg.system.seed,
        )
        if split_file:
            _write_split_file(split_file, parts)
            logger.info("Wrote dataset split to '%s'", split_file)
        return parts
    return {phase: list(ids) for phase in PHASES}


def subjects_to_infer(parts: dict[str, list[str]], dataset_to_infer: str = "") -> list[str]:
    """The ids an inference/evaluation run processes, from ``[INFERENCE] dataset_to_infer``.

    Args:
        parts: the output of :func:`split_subjects`.
        dataset_to_infer: ``""`` (the inference partition if non-empty, else every subject),
            ``"all"``, ``"training"``, ``"validation"`` or ``"inference"``.

    Returns:
        Sorted ids.

    Raises:
        ConfigError: an unknown ``dataset_to_infer``.
        DataError: the requested partition is empty.
    """
    choice = (dataset_to_infer or "").lower()
    everyone = sorted(set().union(*(set(parts.get(p, ())) for p in PHASES)))
    if choice == "":
        return sorted(parts.get("inference", ())) or everyone
    if choice == "all":
        chosen = everyone
    elif choice in PHASES:
        chosen = sorted(parts.get(choice, ()))
    else:
        raise ConfigError(
            "Invalid value for `dataset_to_infer` in [INFERENCE]. Expected one of: '', all, "
            f"{', '.join(PHASES)}. Received: {dataset_to_infer!r}."
        )
    if not chosen:
        raise DataError(
            f"dataset_to_infer = {dataset_to_infer!r} selects no subject: the partition is empty."
        )
    return chosen

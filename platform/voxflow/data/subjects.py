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
import functools
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxflow.config.values import clip, clip_repr
from voxflow.data.splits import PHASES, _few, random_split, split_subjects, subjects_to_infer
from voxflow.errors import ConfigError, DataError
from voxflow.io.formats import is_dicom_series_dir, split_extension

__all__ = ["PHASES", "Subject", "find_subjects", "list_section_files", "random_split", "read_subject_tokens",
           "read_subject_values", "split_subjects", "subjects_to_infer"]

logger = logging.getLogger(__name__)

_ID_STRIP = "_-. "


@dataclass
class Subject:
    """One case: its id and one file (or DICOM folder) per input section."""

    id: str
    files: dict[str, str] = field(default_factory=dict)


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
    """The id of a file: its name minus the regex, or minus the ``filename_contains`` tokens.

    A name that is nothing but the tokens (``filename_contains = sub01_T1`` to pick one file)
    keeps itself as the id; only a regex that removes the whole name gives an empty id.
    """
    regex = getattr(section, "filename_removefromid", "") or ""
    if regex:
        try:
            return re.sub(regex, "", stem).strip(_ID_STRIP)
        except re.error as error:
            raise ConfigError(
                f"Invalid value for `filename_removefromid` in [{section_name}]. Expected a "
                f"regular expression. Received: {regex!r} ({error})."
            ) from None
    reduced = stem
    for token in _tokens(section.filename_contains):
        reduced = reduced.replace(token, "")
    return reduced.strip(_ID_STRIP) or stem.strip(_ID_STRIP) or stem


def _add(found: dict[str, str], subject_id: str, path: str, section_name: str) -> None:
    if not subject_id:
        raise DataError(
            f"File '{path}' of [{section_name}] gives an empty subject id; change "
            "`filename_removefromid` so that some of its name remains."
        )
    if subject_id in found:
        raise DataError(
            f"Subject id '{clip(subject_id)}' is given by two files of [{section_name}]: "
            f"'{found[subject_id]}' and '{path}'. Make `filename_contains`, "
            "`filename_not_contains` or `filename_removefromid` more specific."
        )
    found[subject_id] = path


def _read_file_list(csv_path: str, section_name: str) -> dict[str, str]:
    """Reads ``subject_id,path`` rows; relative paths are relative to the CSV's folder.

    Raises:
        DataError: the file cannot be read or decoded as UTF-8, a row is malformed, a listed file
            is missing, or no subject is listed.
    """
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:  # a BOM (Excel) is dropped
            found = _parse_file_list(handle, csv_path, section_name)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        what = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise DataError(
            f"Cannot read csv_file '{csv_path}' of [{section_name}]: {clip(what)}. Expected UTF-8 "
            "text with 'subject_id,path' rows."
        ) from None
    if not found:
        raise DataError(f"csv_file '{csv_path}' of [{section_name}] lists no subject.")
    return found


def _parse_file_list(handle: Any, csv_path: str, section_name: str) -> dict[str, str]:
    """The ``subject_id -> absolute path`` rows of an open CSV file (see :func:`_read_file_list`)."""
    folder = os.path.dirname(csv_path)
    found: dict[str, str] = {}
    for line, row in enumerate(csv.reader(handle), start=1):
        row = [cell.strip() for cell in row]
        if not any(row) or row[0].startswith("#"):
            continue
        if len(row) < 2 or not row[0] or not row[1]:
            raise DataError(
                f"Invalid row {line} in csv_file '{csv_path}' of [{section_name}]: "
                f"expected 'subject_id,path', received {clip_repr(','.join(row))}."
            )
        if line == 1 and row[0].lower() in ("subject_id", "subject", "id"):
            continue  # header row
        path = os.path.normpath(os.path.join(folder, os.path.expanduser(row[1])))
        if not os.path.exists(path):
            raise DataError(
                f"File '{clip(path)}' listed on line {line} of csv_file '{csv_path}' "
                f"([{section_name}]) does not exist."
            )
        _add(found, row[0], path, section_name)
    return found


def _candidates(folder: str) -> list[tuple[str, str]]:
    """(name, stem) of every image file and DICOM folder in ``folder``, sorted by name.

    Hidden names are skipped: a running voxflow's temporary outputs and lock (``.tmp.vxtmp-*``,
    ``.voxflow.lock``) and macOS's ``._sub01.nii.gz`` companions are never subjects.
    """
    names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
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
    if getattr(section, "csv_data_file", ""):
        return f"no row in '{section.csv_data_file}'"
    csv_file = getattr(section, "csv_file", "") or ""
    if csv_file and os.path.isfile(csv_file):
        return f"listed in '{csv_file}'"
    contains = list(_tokens(section.filename_contains))
    return f"searched {list(_tokens(section.path_to_search))} for {contains}"


_HEADER_IDS = ("subject_id", "subject", "id", "subject id")


def _numbers(cells: list[str]) -> tuple[float, ...] | None:
    try:
        return tuple(float(cell) for cell in cells)
    except ValueError:
        return None


@functools.lru_cache(maxsize=32)
def _values_table(csv_path: str, section_name: str, stamp: tuple[int, int]) -> dict[str, tuple[int, tuple[str, ...]]]:
    """``subject_id → (line, cells)`` of a ``csv_data_file`` (cached per file version: ``stamp`` is
    (mtime_ns, size)). The first row is a header when its first cell is ``subject_id`` (or
    ``subject``, ``id``), or when its cells are not numbers while the next row's are."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            rows = [(line, [cell.strip() for cell in row]) for line, row in enumerate(csv.reader(handle), start=1)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        what = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise DataError(f"Cannot read csv_data_file '{csv_path}' of [{section_name}]: {clip(what)}. Expected UTF-8 "
                        "text with 'subject_id,value[,value...]' rows.") from None
    rows = [(line, row) for line, row in rows if any(row) and not row[0].startswith("#")]
    if rows and (rows[0][1][0].lower() in _HEADER_IDS or (
            _numbers(rows[0][1][1:]) is None and len(rows) > 1 and _numbers(rows[1][1][1:]) is not None)):
        rows = rows[1:]
    table: dict[str, tuple[int, tuple[str, ...]]] = {}
    width = None
    for line, row in rows:
        if len(row) < 2 or not row[0] or not all(row[1:]):
            raise DataError(f"Invalid row {line} in csv_data_file '{csv_path}' of [{section_name}]: expected "
                            f"'subject_id,value[,value...]', received {clip_repr(','.join(row))}.")
        if width is not None and len(row) - 1 != width:
            raise DataError(f"Row {line} of csv_data_file '{csv_path}' of [{section_name}] has {len(row) - 1} "
                            f"value(s); the rows before it have {width}. Expected the same number on every row.")
        width = len(row) - 1
        if row[0] in table:
            raise DataError(f"Subject id '{clip(row[0])}' is on two rows of csv_data_file '{csv_path}' of "
                            f"[{section_name}] (the second on line {line}).")
        table[row[0]] = (line, tuple(row[1:]))
    if not table:
        raise DataError(f"csv_data_file '{csv_path}' of [{section_name}] lists no subject.")
    return table


def _stamp(path: str, section_name: str) -> tuple[int, int]:
    try:
        status = os.stat(path)
    except OSError as error:
        raise DataError(f"Cannot read csv_data_file '{path}' of [{section_name}]: {error.strerror or error}.") from None
    return status.st_mtime_ns, status.st_size


def read_subject_tokens(csv_path: str, section_name: str, subject_id: str) -> tuple[str, ...]:
    """The cells of ``subject_id``'s row in a section's ``csv_data_file``, as written (class names).

    Raises:
        DataError: the file cannot be read, a row is malformed, or the subject has no row.
    """
    table = _values_table(csv_path, section_name, _stamp(csv_path, section_name))
    if subject_id not in table:
        raise DataError(f"Subject '{clip(subject_id)}' has no row in csv_data_file '{csv_path}' of [{section_name}].")
    return table[subject_id][1]


@functools.lru_cache(maxsize=32)
def _numeric_table(csv_path: str, section_name: str, stamp: tuple[int, int]) -> dict[str, tuple[float, ...]]:
    """``subject_id → values`` of a ``csv_data_file`` of numbers; every row is checked."""
    table = {}
    for subject_id, (line, cells) in _values_table(csv_path, section_name, stamp).items():
        values = _numbers(list(cells))
        if values is None or not all(math.isfinite(v) for v in values):
            raise DataError(f"Invalid row {line} in csv_data_file '{csv_path}' of [{section_name}]: expected "
                            f"'subject_id,value[,value...]' with finite numbers, received "
                            f"{clip_repr(','.join((subject_id, *cells)))}.")
        table[subject_id] = values
    return table


def read_subject_values(csv_path: str, section_name: str, subject_id: str) -> np.ndarray:
    """The float32 values of ``subject_id`` in a section's ``csv_data_file`` (a ``value`` role's data).

    Raises:
        DataError: the file cannot be read, a row is malformed or not finite numbers (any row), or
            the subject has no row.
    """
    table = _numeric_table(csv_path, section_name, _stamp(csv_path, section_name))
    if subject_id not in table:
        raise DataError(f"Subject '{clip(subject_id)}' has no row in csv_data_file '{csv_path}' of [{section_name}].")
    return np.asarray(table[subject_id], dtype=np.float32)


def list_section_files(cfg: Any, section_name: str) -> dict[str, str]:
    """Files of one input section, by subject id (the CSV list if it exists, else a search).

    A section with a ``csv_data_file`` gives every subject it lists that file (its row is read by
    :func:`read_subject_values`).

    Raises:
        ConfigError: the section is not defined, or its id regex is invalid.
        DataError: missing folder, no matching file, duplicate ids, bad CSV rows.
    """
    section = _section(cfg, section_name)
    data_file = getattr(section, "csv_data_file", "") or ""
    if data_file:
        table = _values_table(data_file, section_name, _stamp(data_file, section_name))
        return dict.fromkeys(table, data_file)
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
    regex (or, without one, minus the ``filename_contains`` tokens), stripped of ``_ - .``; a
    name made of the tokens alone is its own id.

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

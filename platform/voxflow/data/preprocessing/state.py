"""Saving and loading what preprocessing learns: histogram landmarks and the label map.

voxflow writes JSON, atomically. Floats are stored with Python's shortest exact repr, so a load
returns exactly what was saved.

Landmark file (voxflow's, ``[NETWORK] histogram_ref_file``)::

    {"format": "voxflow-histogram-landmarks", "version": 1,
     "percentiles": [1.0, 10.0, ..., 99.0],
     "landmarks": {"T1": [[0.0, ..., 100.0]], "T2": [[...]]}}   # one list per channel

Label-map file (``<model_dir>/label_map.json``)::

    {"format": "voxflow-label-map", "version": 1, "section": "label", "values": [0, 10, 64]}

(plus ``"classes": [0, 1, 1]``, the class of each value, for a map that merges values).

NiftyNet's histogram file (``standardisation_models.txt``, what ``histogram_ref_file`` names in
NiftyNet's configs) is read as is: one line per modality (an input section) with its 13 reference
landmarks, and for label normalisation two lines per label input, ``<role>_<section>-from`` with
the original label values and ``<role>_<section>-to`` with their classes::

    T1 0.0 8.25 15.6 19.0 22.4 29.8 37.5 45.9 55.3 60.4 66.0 79.7 100.0
    T2 0.0 3.1 7.9 10.6 13.4 19.9 27.6 36.8 48.1 54.7 61.9 78.4 100.0
    label_parcellation-from 0.0 4.0 11.0 23.0
    label_parcellation-to 0 1 2 3

(NiftyNet's BRATS demo writes them without hyphens, ``labellabelfrom 0 1 2 4`` /
``labellabelto 0 1 1 1``: a mapping that merges the tumour labels into one class.)

NiftyNet's file records no percentiles: its landmarks are used with the configured ``cutoff``.
Which file voxflow writes, and when, is :func:`voxflow_landmark_path`'s rule: a file in another
format than voxflow's is never written, and a file voxflow replaces is first copied to a backup
(:func:`backup`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxflow.atomic import atomic_path, atomic_write_json
from voxflow.data.preprocessing.label_normalisation import LabelMap
from voxflow.errors import CheckpointError

LANDMARKS_FORMAT = "voxflow-histogram-landmarks"
LABEL_MAP_FORMAT = "voxflow-label-map"
LABEL_MAP_FILENAME = "label_map.json"
#: The name voxflow gives its own landmark file beside a ``histogram_ref_file`` of another format.
VOXFLOW_SUFFIX = ".voxflow.json"
NUM_LANDMARKS = 13


@dataclass
class HistogramFile:
    """The content of a ``histogram_ref_file``, in voxflow's or NiftyNet's format.

    Attributes:
        path: the file.
        format: ``"voxflow"`` or ``"niftynet"``.
        percentiles: the 13 landmark percentiles (``None`` for NiftyNet's file: the configured
            ``cutoff`` applies).
        landmarks: ``{section: [13 landmarks per channel]}``.
        label_mappings: NiftyNet's label mappings, ``{key: (from values, to classes)}`` with the
            key as written minus ``-from`` / ``-to`` (e.g. ``label_parcellation``).
    """

    path: str
    format: str
    percentiles: np.ndarray | None
    landmarks: dict[str, list[np.ndarray]]
    label_mappings: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = field(default_factory=dict)

    def label_map(self, role: str, section: str) -> LabelMap | None:
        """The label map NiftyNet stored for ``role``'s ``section`` (``label_<section>-from/-to``),
        or None. Keys match whatever NiftyNet's version did with separators and case
        (``label_seg-from``, ``labelsegfrom``).

        Raises:
            CheckpointError: the two lines do not form a map of distinct integer values, in
                increasing order, to the classes ``0..K-1``.
        """
        wanted = _key_letters(f"{role}{section}")
        for key, (values, classes) in self.label_mappings.items():
            if _key_letters(key) == wanted:
                return _niftynet_label_map(self.path, key, values, classes)
        return None


def _key_letters(key: str) -> str:
    return re.sub(r"[^0-9a-z]", "", key.lower())


def _read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"Cannot read the {what} file '{path}': {error}.") from error


def _read_json(path: str, expected_format: str, what: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise CheckpointError(
            f"The {what} file '{path}' does not exist; run the `train` action first "
            "(it learns this file) or point the config at an existing one."
        )
    try:
        content = json.loads(_read_text(path, what))
    except ValueError as error:
        raise CheckpointError(f"Cannot read the {what} file '{path}': {error}.") from error
    if not isinstance(content, dict) or content.get("format") != expected_format:
        raise CheckpointError(
            f"The {what} file '{path}' is not a voxflow {what} file (expected JSON with "
            f"\"format\": \"{expected_format}\"); delete it to learn it again during training."
        )
    return content


# ---------------------------------------------------------------------------- landmark files
def is_voxflow_landmark_file(path: str) -> bool:
    """Whether ``path`` is a file in voxflow's landmark format (JSON with its ``format``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and content.get("format") == LANDMARKS_FORMAT


def voxflow_landmark_path(configured: str) -> str:
    """The file voxflow writes the landmarks it learns to, for ``histogram_ref_file = configured``.

    The configured path itself when it ends in ``.json`` and holds no file or a voxflow landmark
    file; otherwise ``<configured path minus its extension>.voxflow.json`` beside it, so a file in
    another format (NiftyNet's ``standardisation_models.txt``) is never written.

    Example:
        >>> voxflow_landmark_path("/data/standardisation_models.txt")  # doctest: +SKIP
        '/data/standardisation_models.voxflow.json'
    """
    if configured.endswith(".json") and (not os.path.exists(configured) or is_voxflow_landmark_file(configured)):
        return configured
    return os.path.splitext(configured)[0] + VOXFLOW_SUFFIX


def read_histogram_file(path: str) -> HistogramFile | None:
    """Reads a ``histogram_ref_file`` in voxflow's JSON or NiftyNet's text format (told apart by
    the content, not the name); None when there is no file.

    Raises:
        CheckpointError: the file is unreadable, or malformed in the format it is in.
    """
    if not path or not os.path.isfile(path):
        return None
    text = _read_text(path, "histogram landmark")
    if text.lstrip().startswith("{"):
        percentiles, landmarks = load_landmarks(path)
        return HistogramFile(path, "voxflow", percentiles, landmarks)
    return _parse_niftynet(path, text)


def _parse_niftynet(path: str, text: str) -> HistogramFile:
    """NiftyNet's ``<name> <value> <value> ...`` lines (lines with fewer than two words are skipped,
    as NiftyNet's reader does). A label mapping is a pair of lines ``<key>-from`` / ``<key>-to``;
    NiftyNet's demos also write them without the hyphen (``labellabelfrom``, ``labellabelto``),
    read as a mapping when both lines are there."""
    lines: list[tuple[int, str, tuple[float, ...], str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if len(words) < 2:
            continue
        try:
            values = tuple(float(v) for v in words[1:])
        except ValueError:
            raise CheckpointError(
                f"Malformed histogram file '{path}' (neither voxflow's JSON nor NiftyNet's text format): line "
                f"{number} should be a name followed by numbers. Received: {line.strip()[:80]!r}."
            ) from None
        lines.append((number, words[0], values, line))
    names = {name.lower() for _, name, _, _ in lines}
    landmarks: dict[str, list[np.ndarray]] = {}
    mappings: dict[str, dict[str, tuple[float, ...]]] = {}
    for number, name, values, _ in lines:
        end = re.search(r"-(from|to)$", name, flags=re.IGNORECASE) or _unhyphenated_mapping(name, names)
        if end:
            mappings.setdefault(name[: end.start()], {})[end.group(1).lower()] = values
            continue
        if len(values) != NUM_LANDMARKS or not np.all(np.isfinite(values)):
            raise CheckpointError(
                f"Malformed NiftyNet histogram file '{path}': line {number} ({name}) should hold "
                f"{NUM_LANDMARKS} finite landmarks (or be half of a label mapping, `<key>-from` / `<key>-to`). "
                f"Received: {len(values)} value(s)."
            )
        landmarks[name] = [np.array(values, dtype=np.float64)]
    label_mappings = {}
    for key, parts in mappings.items():
        if set(parts) != {"from", "to"}:
            missing = ({"from", "to"} - set(parts)).pop()
            raise CheckpointError(f"Malformed NiftyNet histogram file '{path}': `{key}-{missing}` is missing "
                                  f"(a label mapping is two lines, `{key}-from` and `{key}-to`).")
        label_mappings[key] = (parts["from"], parts["to"])
    return HistogramFile(path, "niftynet", None, landmarks, label_mappings)


def _unhyphenated_mapping(name: str, names: set[str]) -> re.Match | None:
    """``labellabelfrom`` is half of a mapping when ``labellabelto`` is in the file too (and back)."""
    end = re.search(r"(from|to)$", name, flags=re.IGNORECASE)
    if not end or end.start() == 0:
        return None
    other = "to" if end.group(1).lower() == "from" else "from"
    return end if (name[: end.start()] + other).lower() in names else None


def _niftynet_label_map(path: str, key: str, values: tuple[float, ...], classes: tuple[float, ...]) -> LabelMap:
    """NiftyNet's ``-from`` values sent to its ``-to`` classes, as a :class:`LabelMap` (several
    values may share a class: NiftyNet's whole-tumour mapping ``0 1 2 4`` → ``0 1 1 1``)."""
    where = f"NiftyNet label mapping `{key}-from` / `{key}-to` in '{path}'"
    count = len(values)
    if len(classes) != count or not count:
        raise CheckpointError(f"Malformed {where}: `-to` must give one class per `-from` value. Received: "
                              f"{len(classes)} classes for {count} values.")
    if any(v != round(v) for v in (*values, *classes)) or len(set(values)) != count:
        raise CheckpointError(f"Unsupported {where}: voxflow needs distinct integer label values sent to "
                              "integer classes.")
    targets = sorted({int(k) for k in classes})
    if targets != list(range(len(targets))):
        raise CheckpointError(f"Malformed {where}: `-to` must use every class 0..K-1. Received: {targets}.")
    order = np.argsort(values)
    return LabelMap(tuple(int(values[i]) for i in order), tuple(int(classes[i]) for i in order))


def backup(path: str) -> str | None:
    """Copies an existing file to ``<path>.backup`` (``.backup.1``, ... when taken) before it is
    replaced; returns the copy's path, or None when there is no file."""
    if not os.path.isfile(path):
        return None
    target, number = f"{path}.backup", 0
    while os.path.exists(target):
        number += 1
        target = f"{path}.backup.{number}"
    with atomic_path(target) as tmp:
        shutil.copy2(path, tmp)
    return target


def save_landmarks(
    path: str, percentiles: np.ndarray, landmarks: dict[str, list[np.ndarray]]
) -> str | None:
    """Saves the reference landmarks of every image section (one vector per channel).

    An existing file is first copied to a backup (:func:`backup`), whose path is returned.

    Raises:
        CheckpointError: ``path`` holds a file in another format than voxflow's (never written).
    """
    if os.path.exists(path) and not is_voxflow_landmark_file(path):
        raise CheckpointError(
            f"'{path}' is not a voxflow landmark file and voxflow never writes over it; "
            f"write the landmarks to '{voxflow_landmark_path(path)}' instead."
        )
    kept = backup(path)
    atomic_write_json(
        path,
        {
            "format": LANDMARKS_FORMAT,
            "version": 1,
            "percentiles": [float(p) for p in percentiles],
            "landmarks": {
                section: [[float(v) for v in channel] for channel in channels]
                for section, channels in landmarks.items()
            },
        },
        indent=1,
    )
    return kept


def load_landmarks(path: str) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """Loads ``(percentiles, {section: [landmarks per channel]})`` from a voxflow landmark file.

    Raises:
        CheckpointError: the file is missing or not a landmark file.
    """
    content = _read_json(path, LANDMARKS_FORMAT, "histogram landmark")
    try:
        percentiles = np.array(content["percentiles"], dtype=np.float64)
        landmarks = {
            str(section): [np.array(ch, dtype=np.float64) for ch in channels]
            for section, channels in content["landmarks"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"Malformed histogram landmark file '{path}': {error!r}.") from error
    if percentiles.shape != (NUM_LANDMARKS,) or any(
            lm.shape != (NUM_LANDMARKS,) for c in landmarks.values() for lm in c):
        raise CheckpointError(
            f"Malformed histogram landmark file '{path}': expected {NUM_LANDMARKS} values per landmark list."
        )
    return percentiles, landmarks


# ---------------------------------------------------------------------------- label maps
def save_label_map(path: str, section: str, label_map: LabelMap) -> None:
    """Saves the label map learnt for the label section."""
    atomic_write_json(
        path,
        {
            "format": LABEL_MAP_FORMAT,
            "version": 1,
            "section": section,
            "values": [int(v) for v in label_map.values],
            **({"classes": [int(k) for k in label_map.classes]} if label_map.classes is not None else {}),
        },
        indent=1,
    )


def load_label_map(path: str) -> tuple[str, LabelMap]:
    """Loads ``(section, LabelMap)``.

    Raises:
        CheckpointError: the file is missing or not a label-map file.
    """
    content = _read_json(path, LABEL_MAP_FORMAT, "label map")
    try:
        values = tuple(int(v) for v in content["values"])
        classes = tuple(int(k) for k in content["classes"]) if "classes" in content else None
        section = str(content.get("section", ""))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"Malformed label map file '{path}': {error!r}.") from error
    if not values or list(values) != sorted(set(values)):
        raise CheckpointError(
            f"Malformed label map file '{path}': 'values' must be sorted distinct integers."
        )
    try:
        return section, LabelMap(values, classes)
    except ValueError as error:
        raise CheckpointError(f"Malformed label map file '{path}': {error}.") from error

"""Saving and loading what preprocessing learns: histogram landmarks and the label map (JSON).

Both files are written atomically. Floats are stored with Python's shortest exact repr, so a
load returns exactly what was saved.

Landmark file (``[NETWORK] histogram_ref_file``)::

    {"format": "voxflow-histogram-landmarks", "version": 1,
     "percentiles": [1.0, 10.0, ..., 99.0],
     "landmarks": {"T1": [[0.0, ..., 100.0]], "T2": [[...]]}}   # one list per channel

Label-map file (``<model_dir>/label_map.json``)::

    {"format": "voxflow-label-map", "version": 1, "section": "label", "values": [0, 10, 64]}
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from voxflow.atomic import atomic_write_json
from voxflow.data.preprocessing.label_normalisation import LabelMap
from voxflow.errors import CheckpointError

LANDMARKS_FORMAT = "voxflow-histogram-landmarks"
LABEL_MAP_FORMAT = "voxflow-label-map"
LABEL_MAP_FILENAME = "label_map.json"


def _read_json(path: str, expected_format: str, what: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise CheckpointError(
            f"The {what} file '{path}' does not exist; run the `train` action first "
            "(it learns this file) or point the config at an existing one."
        )
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"Cannot read the {what} file '{path}': {error}.") from error
    if not isinstance(content, dict) or content.get("format") != expected_format:
        raise CheckpointError(
            f"The {what} file '{path}' is not a voxflow {what} file (expected JSON with "
            f"\"format\": \"{expected_format}\"); delete it to learn it again during training."
        )
    return content


def save_landmarks(
    path: str, percentiles: np.ndarray, landmarks: dict[str, list[np.ndarray]]
) -> None:
    """Saves the reference landmarks of every image section (one vector per channel)."""
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


def load_landmarks(path: str) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """Loads ``(percentiles, {section: [landmarks per channel]})``.

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
    if percentiles.shape != (13,) or any(lm.shape != (13,) for c in landmarks.values() for lm in c):
        raise CheckpointError(
            f"Malformed histogram landmark file '{path}': expected 13 values per landmark list."
        )
    return percentiles, landmarks


def save_label_map(path: str, section: str, label_map: LabelMap) -> None:
    """Saves the label map learnt for the label section."""
    atomic_write_json(
        path,
        {
            "format": LABEL_MAP_FORMAT,
            "version": 1,
            "section": section,
            "values": [int(v) for v in label_map.values],
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
        section = str(content.get("section", ""))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"Malformed label map file '{path}': {error!r}.") from error
    if not values or list(values) != sorted(set(values)):
        raise CheckpointError(
            f"Malformed label map file '{path}': 'values' must be sorted distinct integers."
        )
    return section, LabelMap(values)

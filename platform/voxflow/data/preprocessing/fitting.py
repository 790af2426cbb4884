"""Learning the preprocessing state from the training subjects: Nyúl histogram landmarks of the
normalised intensity roles and the label map of the label role (saved for inference).

These functions are the learning half of :class:`~voxflow.data.preprocessing.Preprocessor`
(``pre``), kept apart so that each file holds one idea.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from voxflow.data.preprocessing import histogram, state
from voxflow.data.preprocessing.geometry import to_grid
from voxflow.data.preprocessing.label_normalisation import LabelMap
from voxflow.data.preprocessing.reading import integer_labels

logger = logging.getLogger(__name__)


def learn_landmarks(pre: Any, subjects: Sequence[Any], sections: Sequence[str]) -> dict[str, tuple]:
    """Learn the histogram landmarks of ``sections`` (of the normalised intensity roles) and save them.

    They go to voxflow's own file (:func:`~voxflow.data.preprocessing.state.voxflow_landmark_path`),
    with the sections that file already held at the same percentiles; a file replaced is first
    backed up, and a ``histogram_ref_file`` in another format (NiftyNet's) is never written.

    Returns:
        ``{section: (percentiles, landmarks per channel, file)}`` of the learnt sections.
    """
    collected: dict[str, list[list[np.ndarray]]] = {}
    for subject in subjects:
        for role, volumes in pre._read(subject, tuple(pre.normalised)).items():
            _collect_landmarks(pre, role, volumes, subject.id, collected, set(sections))
    learnt = {
        section: [histogram.learn_reference(lms) for lms in channels]
        for section, channels in collected.items()
    }
    path = state.voxflow_landmark_path(pre.histogram_file)
    previous = state.read_histogram_file(path) if os.path.isfile(path) else None
    kept = {}
    if previous is not None and previous.format == "voxflow" and np.allclose(previous.percentiles, pre.percentiles):
        kept = {s: channels for s, channels in previous.landmarks.items() if s not in learnt}
    backup = state.save_landmarks(path, pre.percentiles, {**kept, **learnt})
    logger.info("Learnt histogram landmarks of %s -> '%s'", sorted(learnt), path)
    if backup:
        logger.warning("The previous '%s' is kept as '%s'.", path, backup)
    if path != pre.histogram_file:
        logger.warning(
            "histogram_ref_file '%s' is not a voxflow landmark file (NiftyNet's is read as is, never written)%s: "
            "the landmarks learnt for %s are in voxflow's own '%s' beside it.", pre.histogram_file,
            "" if os.path.exists(pre.histogram_file) else " or absent", sorted(learnt), path,
        )
    return {section: (pre.percentiles, channels, path) for section, channels in learnt.items()}


def _collect_landmarks(pre: Any, role: str, volumes: list[Any], subject_id: str,
                       collected: dict[str, list[list[np.ndarray]]], sections: set[str]) -> None:
    """Add one subject's landmarks of ``role``'s ``sections`` to ``collected[section][channel]``."""
    geometry = pre._plan(volumes[0])
    image = np.concatenate([to_grid(v.data, geometry, pre._order(role, v)) for v in volumes], axis=-1)
    masks = pre._masks(image, subject_id, role) if pre.foreground_only else None
    for channel, (section, index) in enumerate(pre._channel_sections(volumes)):
        if section not in sections:
            continue
        values = image[..., channel]
        if masks is not None:
            values = values[masks[..., channel]]
        per_channel = collected.setdefault(section, [])
        while len(per_channel) <= index:
            per_channel.append([])
        per_channel[index].append(histogram.image_landmarks(values, pre.percentiles))


def learn_label_map(pre: Any, subjects: Sequence[Any]) -> None:
    """Learn the label map of the first label role from the training subjects and save it."""
    role = pre.label_roles[0]
    uniques = []
    for subject in subjects:
        for volume in pre._read(subject, (role,))[role]:
            uniques.append(np.unique(integer_labels(volume, subject.id)))
    label_map = LabelMap.learn(uniques)
    pre._check_num_labels(label_map, None)
    pre.label_map, pre.label_map_source = label_map, pre.label_map_file
    state.save_label_map(pre.label_map_file, pre.roles[role][0], label_map)
    logger.info("Learnt label map %s -> '%s'", label_map.describe(), pre.label_map_file)

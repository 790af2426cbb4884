"""Learning the preprocessing state from the training subjects: Nyúl histogram landmarks of the
normalised intensity roles and the label map of the label role (saved for inference).

These functions are the learning half of :class:`~voxflow.data.preprocessing.Preprocessor`
(``pre``), kept apart so that each file holds one idea.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from voxflow.data.preprocessing import histogram, state
from voxflow.data.preprocessing.geometry import to_grid
from voxflow.data.preprocessing.label_normalisation import LabelMap
from voxflow.data.preprocessing.reading import integer_labels

logger = logging.getLogger(__name__)


def learn_landmarks(pre: Any, subjects: Sequence[Any]) -> None:
    """Learn the histogram landmarks of every normalised intensity role's sections and save them."""
    collected: dict[str, list[list[np.ndarray]]] = {}
    for subject in subjects:
        for role, volumes in pre._read(subject, tuple(pre.normalised)).items():
            _collect_landmarks(pre, role, volumes, subject.id, collected)
    pre.landmarks = {
        section: [histogram.learn_reference(lms) for lms in channels]
        for section, channels in collected.items()
    }
    state.save_landmarks(pre.histogram_file, pre.percentiles, pre.landmarks)
    logger.info(
        "Learnt histogram landmarks of %s -> '%s'", sorted(collected), pre.histogram_file
    )


def _collect_landmarks(pre: Any, role: str, volumes: list[Any], subject_id: str,
                       collected: dict[str, list[list[np.ndarray]]]) -> None:
    """Add one subject's landmarks of ``role`` to ``collected[section][channel]``."""
    geometry = pre._plan(volumes[0])
    image = np.concatenate([to_grid(v.data, geometry, pre._order(role, v)) for v in volumes], axis=-1)
    masks = pre._masks(image, subject_id, role) if pre.foreground_only else None
    for channel, (section, index) in enumerate(pre._channel_sections(volumes)):
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
    pre._check_num_labels(label_map)
    pre.label_map = label_map
    state.save_label_map(pre.label_map_file, pre.roles[role][0], label_map)
    logger.info("Learnt label map %s -> '%s'", list(label_map.values), pre.label_map_file)

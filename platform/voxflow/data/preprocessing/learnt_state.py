"""The learnt state of the preprocessing: histogram landmarks and the label map.

Learnt from the training subjects (:meth:`LearntState.fit`), saved in ``model_dir`` (or read from
a NiftyNet histogram file), and read back at inference and evaluation (:meth:`LearntState.load_state`).
:class:`~voxflow.data.preprocessing.pipeline.Preprocessor` holds it; this module keeps that part of
the pipeline apart from the per-volume steps.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from voxflow.data.preprocessing import fitting, state
from voxflow.data.preprocessing.label_normalisation import LabelMap
from voxflow.errors import CheckpointError, DataError

logger = logging.getLogger(__name__)


class LearntState:
    """Histogram landmarks and the label map of a :class:`~voxflow.data.preprocessing.pipeline.Preprocessor`."""

    def _require_state(self) -> None:
        needs_landmarks = self.normalisation and self.landmarks is None
        needs_map = self.label_normalisation and self.label_map is None
        if needs_landmarks or needs_map:
            self.load_state()

    def load_state(self) -> None:
        """Reads the learnt landmarks and label map back (those the config needs).

        Raises:
            CheckpointError: a needed file is missing, malformed, or lacks a section.
            DataError: the label map's size is not ``num_classes``.
        """
        if self.normalisation:
            self._load_landmarks()
        if self.label_normalisation:
            self._load_label_map()

    # --- landmarks: histogram_ref_file (voxflow's JSON or NiftyNet's text), and voxflow's own file
    def _landmark_sources(self) -> list[state.HistogramFile]:
        """The configured ``histogram_ref_file`` and voxflow's own file beside it
        (:func:`~voxflow.data.preprocessing.state.voxflow_landmark_path`), those that exist, in
        that order: a section's landmarks come from the first that has them."""
        paths = dict.fromkeys((self.histogram_file, state.voxflow_landmark_path(self.histogram_file)))
        return [found for found in map(state.read_histogram_file, paths) if found is not None]

    def _normalised_sections(self) -> list[str]:
        return list(dict.fromkeys(s for role in self.normalised for s in self.roles[role]))

    def _stored_landmarks(self, sources: Sequence[state.HistogramFile]) -> dict[str, tuple]:
        """``{section: (percentiles, landmarks per channel, file)}`` from ``sources``."""
        found: dict[str, tuple] = {}
        for source in sources:
            percentiles = self.percentiles if source.percentiles is None else source.percentiles
            for section, channels in source.landmarks.items():
                found.setdefault(section, (percentiles, channels, source.path))
        return found

    def _load_landmarks(self) -> None:
        sources = self._landmark_sources()
        if not sources:
            raise CheckpointError(
                f"The histogram landmark file '{self.histogram_file}' does not exist; run the `train` action "
                "first (it learns this file) or point histogram_ref_file at an existing one."
            )
        found = self._stored_landmarks(sources)
        missing = [s for s in self._normalised_sections() if s not in found]
        if missing:
            files = " and ".join(f"'{source.path}'" for source in sources)
            raise CheckpointError(
                f"The histogram landmark file {files} has no landmarks for {missing}; it was learnt for "
                f"{sorted(found)}. Train again to learn them (voxflow writes them to "
                f"'{state.voxflow_landmark_path(self.histogram_file)}')."
            )
        self._use_landmarks(found)

    def _use_landmarks(self, found: dict[str, tuple]) -> None:
        sections = self._normalised_sections()
        for path in dict.fromkeys(found[s][2] for s in sections):
            percentiles = next(found[s][0] for s in sections if found[s][2] == path)
            if not np.allclose(percentiles, self.percentiles):
                logger.warning(
                    "Histogram landmarks in '%s' were learnt with percentiles %s, not the "
                    "configured %s; using the file's.", path, percentiles.tolist(), self.percentiles.tolist(),
                )
        self.landmarks = {s: found[s][1] for s in sections}
        self.landmark_percentiles = {s: found[s][0] for s in sections}
        self.landmark_files = {s: found[s][2] for s in sections}

    # --- the label map: model_dir/label_map.json, or NiftyNet's mapping in histogram_ref_file
    def _stored_label_map(self) -> tuple[LabelMap | None, str]:
        """The label map and its file: the model's ``label_map.json`` (what training learnt), else
        NiftyNet's mapping for the label role's section in ``histogram_ref_file``; ``(None, "")``."""
        if os.path.exists(self.label_map_file):
            return state.load_label_map(self.label_map_file)[1], self.label_map_file
        if self.label_roles:
            role = self.label_roles[0]
            source = state.read_histogram_file(self.histogram_file)
            label_map = source.label_map(role, self.roles[role][0]) if source is not None else None
            if label_map is not None:
                return label_map, source.path
        return None, ""

    def _load_label_map(self) -> None:
        label_map, source = self._stored_label_map()
        if label_map is None:
            raise CheckpointError(
                f"The label map file '{self.label_map_file}' does not exist; run the `train` action first "
                "(it learns this file), or give NiftyNet's label mapping in histogram_ref_file."
            )
        self._check_num_labels(label_map, source)
        self.label_map, self.label_map_source = label_map, source

    def learnt_label_map(self) -> LabelMap | None:
        """The label map training learnt (``model_dir/label_map.json``), else NiftyNet's mapping in
        ``histogram_ref_file``, checked against ``num_classes``; None when there is neither
        (evaluation without a trained model).

        Raises:
            DataError: the map's size is not ``num_classes``.
        """
        label_map, source = self._stored_label_map()
        if label_map is not None:
            self._check_num_labels(label_map, source)
        self.label_map, self.label_map_source = label_map, source
        return label_map

    def _check_num_labels(self, label_map: LabelMap, source: str | None) -> None:
        """With label normalisation class ``k`` is the ``k``-th label value, so the map must hold
        exactly ``num_classes`` values (NiftyNet's rule): with fewer, the network's other classes
        have no value to be written as, and with more some labels have no class.

        Args:
            label_map: the map.
            source: the file it was read from; None when it was just learnt from the training labels.

        Raises:
            DataError: the sizes differ (one line naming the file, the values and ``num_classes``).
        """
        if not self.num_classes or label_map.num_labels == int(self.num_classes):
            return
        count, classes = label_map.num_labels, int(self.num_classes)
        section = getattr(self.cfg.app, "section_name", "")
        key = f"[{section}] num_classes" if section else "num_classes"
        rule = "with label_normalisation, class k is the k-th label value, so they must be equal"
        if source is None:
            labels = self.roles[self.label_roles[0]][0]
            raise DataError(
                f"The training labels of [{labels}] have {count} distinct values {label_map.describe()} but "
                f"{key} = {classes}: {rule}. Set num_classes = {count} (to keep {classes} classes, give the "
                f"{classes} values in a NiftyNet label mapping in histogram_ref_file); the label map "
                f"'{self.label_map_file}' was not written."
            )
        fix = ("delete it to learn the map again" if source == self.label_map_file
               else "correct its `-from` / `-to` lines")
        raise DataError(
            f"The label map '{source}' has {count} distinct values {label_map.describe()} but {key} = {classes}: "
            f"{rule}. Set num_classes = {count} and train again, or {fix}."
        )

    def fit(self, subjects: Sequence[Any], overwrite: bool = False) -> None:
        """Learns histogram landmarks and the label map from training subjects and saves them.

        Only what the config enables is learnt (``normalisation``, ``label_normalisation``), and
        only what the stored files lack (unless ``overwrite``): landmarks of sections that neither
        ``histogram_ref_file`` (voxflow's or NiftyNet's) nor voxflow's own file beside it holds, and
        the label map when neither ``model_dir/label_map.json`` nor a NiftyNet mapping in
        ``histogram_ref_file`` gives it (a NiftyNet mapping is copied to ``label_map.json``). A file
        in another format than voxflow's is never written; a voxflow file replaced is backed up.

        Args:
            subjects: the training subjects.
            overwrite: learn voxflow's landmarks and the label map again even when stored.

        Raises:
            DataError: no subject, unreadable files, or a label map whose size is not ``num_classes``.
            CheckpointError: a stored file is malformed.
        """
        if not subjects and (self.normalisation or self.label_normalisation):
            raise DataError("No training subject to learn normalisation from.")
        if self.normalisation:
            own = state.voxflow_landmark_path(self.histogram_file)
            found = self._stored_landmarks([s for s in self._landmark_sources() if not (overwrite and s.path == own)])
            missing = [s for s in self._normalised_sections() if s not in found]
            if missing:
                found.update(fitting.learn_landmarks(self, subjects, missing))
            self._use_landmarks(found)
        if self.label_normalisation and self.label_roles:
            label_map, source = (None, "") if overwrite else self._stored_label_map()
            if label_map is None:
                fitting.learn_label_map(self, subjects)
                return
            self._check_num_labels(label_map, source)
            self.label_map, self.label_map_source = label_map, source
            if source != self.label_map_file:
                state.save_label_map(self.label_map_file, self.roles[self.label_roles[0]][0], label_map)
                logger.info("Label map %s from '%s' -> '%s'", label_map.describe(), source, self.label_map_file)

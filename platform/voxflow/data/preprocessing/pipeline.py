"""The per-volume preprocessing pipeline and its inverse.

For each subject, every file of every role is read, checked, then, by the role's kind
(:mod:`voxflow.roles`; never by its name):

1. reoriented to ``axcodes`` and 2. resampled to ``pixdim`` (label roles with order 0);
3. intensity-normalised (normalised intensity roles, per channel): histogram standardisation,
   then whitening, optionally inside foreground masks; label roles are checked and, with
   ``label_normalisation``, mapped to ``0..K-1``;
4. padded by ``volume_padding_size`` and up to ``min_shape`` (intensity roles with
   ``volume_padding_mode``, the others with 0).

Roles of one group (:attr:`voxflow.roles.Role.group`) share a grid: the group's plan is made
from its first file, and the subject's grid (:attr:`PreprocessedSubject.geometry`) is that of the
first file of the first role read. Roles of other groups keep their own grids
(:attr:`PreprocessedSubject.geometries`). ``value`` roles are read from their section's
``csv_data_file`` as one float32 vector per subject; ``field`` roles (3 channels, displacement in
world mm) are resampled like images and their vectors expressed along the preprocessed grid's axes.

Intensity statistics are taken before padding, so they do not depend on the padding or on the
window size. :meth:`Preprocessor.invert` undoes 4, 2 and 1 for network outputs.

Example:
    >>> pre = Preprocessor(cfg, roles={"image": ("T1",), "label": ("label",)}, min_shape=(64,) * 3,
    ...                    kinds={"image": Kind.INTENSITY, "label": Kind.LABEL})
    >>> pre.fit(training_subjects)          # doctest: +SKIP
    >>> vol = pre.load(subject)             # doctest: +SKIP
    >>> seg = pre.invert(prediction, vol.geometry, interp_order=0)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxflow.data.preprocessing import histogram, state
from voxflow.data.preprocessing.foreground import foreground_masks
from voxflow.data.preprocessing.geometry import (
    VolumeGeometry,
    field_to_grid_axes,
    field_to_world,
    from_grid,
    pad,
    plan_geometry,
    to_grid,
)
from voxflow.data.preprocessing.label_normalisation import LabelMap
from voxflow.data.preprocessing.learnt_state import LearntState
from voxflow.data.preprocessing.reading import (
    ChannelCounts,
    LoadedVolume,
    check_label_range,
    check_same_grid,
    integer_labels,
    is_integer_valued,
    read_volume,
)
from voxflow.data.preprocessing.whitening import clip_channels, whiten, whitening_stats, with_fixed_stats
from voxflow.data.subjects import read_subject_tokens, read_subject_values
from voxflow.errors import CheckpointError, ConfigError, DataError
from voxflow.roles import Kind, kinds_of, of_kind

logger = logging.getLogger(__name__)

#: The group of roles that declare none (:attr:`voxflow.roles.Role.group`).
DEFAULT_GROUP = "subject"


def read_value_tokens(cfg: Any, subject: Any, section: str) -> tuple[str, ...]:
    """A subject's value in ``section`` as written: its ``csv_data_file`` row, or the one value of
    its image (NiftyNet's one-voxel label images; every voxel must hold it), e.g. ``("2",)``.

    Raises:
        DataError: no row or file, or an image holding more than one value.
    """
    if getattr(cfg.inputs[section], "csv_data_file", ""):
        return read_subject_tokens(subject.files[section], section, subject.id)
    if section not in subject.files:
        raise DataError(f"Subject '{subject.id}' has no file in [{section}].")
    volume = read_volume(subject.files[section], section)
    values = np.unique(volume.data)
    if values.size != 1:
        raise DataError(f"Image '{volume.path}' of [{section}] holds {values.size} different values; a per-subject "
                        "value image (NiftyNet's one-voxel label) holds one.")
    value = float(values[0])
    return (str(int(value)) if value == int(value) else repr(value),)


@dataclass
class PreprocessedSubject:
    """A subject ready for sampling: ``arrays[role]`` is ``(X, Y, Z, C)`` float32 (``(C,)`` for a
    ``value`` role); ``geometry`` is the first group's grid, ``geometries`` every group's."""

    id: str
    arrays: dict[str, np.ndarray]
    geometry: VolumeGeometry
    geometries: dict[str, VolumeGeometry] = None  # type: ignore[assignment]
    #: ``{role: (means, stds)}`` per channel of the whitened roles (``whitening = True``).
    whitening: dict[str, tuple[np.ndarray, np.ndarray]] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.geometries is None:
            self.geometries = {DEFAULT_GROUP: self.geometry}
        if self.whitening is None:
            self.whitening = {}


def _shared(cfg: Any, sections: Sequence[str], key: str) -> tuple:
    """The one non-empty value of ``key`` over ``sections`` (empty values inherit it)."""
    chosen: tuple = ()
    owner = ""
    for name in sections:
        value = tuple(getattr(cfg.inputs[name], key, ()) or ())
        if value and chosen and value != chosen:
            raise ConfigError(
                f"Invalid value for `{key}` in [{name}]: {value} differs from {chosen} in "
                f"[{owner}]; the sections read for one subject must share `{key}` (or leave "
                "it empty to inherit it)."
            )
        if value and not chosen:
            chosen, owner = value, name
    return chosen


class Preprocessor(LearntState):
    """Loads subjects as preprocessed arrays and sends outputs back to the input grid.

    Args:
        cfg: the configuration (``inputs``, ``network``, ``app``, ``system``).
        roles: role -> input sections, e.g. ``{"image": ("T1", "T2"), "label": ("label",)}``;
            the sections of a role are concatenated as channels in this order.
        min_shape: pad every volume to at least this spatial shape (e.g. the window size);
            ``None`` or 1 on an axis means no requirement.
        kinds: role -> :class:`~voxflow.roles.Kind`; ``None`` = the standard kinds of ``image``,
            ``label``, ``weight`` and ``sampler``.
        normalised: the intensity roles that histogram standardisation and whitening change;
            ``None`` = every intensity role.
        groups: role -> group; roles of one group share a grid (default: one group, ``subject``).
        value_maps: role -> ``{token: number}`` for ``value`` roles whose CSV cells are names (class
            names), mapped to numbers (class indices) on load.
        whitened_like: role -> a whitened role whose first channel's whitening (its mean and std)
            this role takes too (a regression target put in its image's units); the statistics
            are in :attr:`PreprocessedSubject.whitening`.

    Raises:
        ConfigError: undefined sections, or sections disagreeing on ``axcodes``/``pixdim``.
    """

    def __init__(
        self,
        cfg: Any,
        roles: dict[str, Sequence[str]],
        min_shape: Sequence[int] | None = None,
        kinds: dict[str, Kind] | None = None,
        normalised: Sequence[str] | None = None,
        groups: dict[str, str] | None = None,
        value_maps: dict[str, dict[str, float]] | None = None,
        whitened_like: dict[str, str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.whitened_like = dict(whitened_like or {})
        self.roles = {role: tuple(sections) for role, sections in roles.items() if sections}
        if not self.roles:
            raise ConfigError("No input section is assigned to any role (image, label...).")
        self.kinds = kinds_of(self.roles, kinds)
        self.groups = {role: (groups or {}).get(role, DEFAULT_GROUP) for role in self.roles}
        self.value_maps = dict(value_maps or {})
        self.value_roles = of_kind(self.kinds, Kind.VALUE)
        self.map_roles = [role for role in self.roles if role not in self.value_roles]
        if not self.map_roles:
            raise ConfigError(f"The roles {list(self.roles)} are all per-subject values; at least one role must "
                              "be an image.")
        intensity = of_kind(self.kinds, Kind.INTENSITY)
        self.normalised = [r for r in intensity if normalised is None or r in normalised]
        self.label_roles = of_kind(self.kinds, Kind.LABEL)
        all_sections = [s for sections in self.roles.values() for s in sections]
        for name in all_sections:
            if name not in cfg.inputs:
                raise ConfigError(
                    f"Input section [{name}] is used but not defined. Defined input sections: "
                    f"{', '.join(cfg.inputs) or 'none'}."
                )
        for role, sections in self.roles.items():
            for name in sections:
                if getattr(cfg.inputs[name], "csv_data_file", "") and role not in self.value_roles:
                    raise ConfigError(
                        f"Input section [{name}] (role `{role}`, kind {self.kinds[role].value}) has a "
                        "`csv_data_file`: per-subject values can only feed a role of kind value."
                    )
        self.min_shape = tuple(int(m) for m in min_shape) if min_shape is not None else None
        self.axcodes = _shared(cfg, all_sections, "axcodes")
        self.pixdim = _shared(cfg, all_sections, "pixdim")
        self.pixdim_grid = str(getattr(cfg.network, "pixdim_grid", "first_voxel") or "first_voxel")
        network = cfg.network
        self.padding_size = tuple(getattr(network, "volume_padding_size", ()) or ())
        self.padding_mode = getattr(network, "volume_padding_mode", "minimum") or "minimum"
        self.normalisation = bool(getattr(network, "normalisation", False)) and bool(self.normalised)
        self.whitening = bool(getattr(network, "whitening", False)) and bool(self.normalised)
        self.foreground_only = bool(getattr(network, "normalise_foreground_only", False))
        self.foreground_type = getattr(network, "foreground_type", "otsu_plus") or "otsu_plus"
        self.multimod_type = getattr(network, "multimod_foreground_type", "and") or "and"
        self.norm_type = getattr(network, "norm_type", "percentile") or "percentile"
        self.percentiles = histogram.landmark_percentiles(
            getattr(network, "cutoff", (0.01, 0.99)) or (0.01, 0.99), self.norm_type
        )
        self.histogram_file = getattr(network, "histogram_ref_file", "") or ""
        if self.normalisation and not self.histogram_file:
            raise ConfigError("`normalisation` in [NETWORK] needs `histogram_ref_file`.")
        self.num_classes = getattr(cfg.app, "num_classes", None)
        # Applies to label inputs (training, evaluation) and to outputs (inference), so it does
        # not depend on a label role being read.
        self.label_normalisation = bool(getattr(cfg.app, "label_normalisation", False))
        self.label_map_file = os.path.join(cfg.system.model_dir, state.LABEL_MAP_FILENAME)
        # The landmarks of each normalised section, the percentiles they were learnt with (the configured
        # ones for NiftyNet's file, which records none) and the file each came from.
        self.landmarks: dict[str, list[np.ndarray]] | None = None
        self.landmark_percentiles: dict[str, np.ndarray] = {}
        self.landmark_files: dict[str, str] = {}
        self.label_map: LabelMap | None = None
        self.label_map_source = ""  # the file the label map was read from
        self.channel_counts = ChannelCounts()  # every file of a section has the first file's channels

    # ------------------------------------------------------------------ reading
    def _read(self, subject: Any, roles: Sequence[str]) -> dict[str, list[LoadedVolume]]:
        """The files of the map ``roles`` of ``subject``, each group's checked to share one grid."""
        volumes: dict[str, list[LoadedVolume]] = {}
        for role in roles:
            volumes[role] = []
            for section in self.roles[role]:
                if section not in subject.files:
                    raise DataError(f"Subject '{subject.id}' has no file for [{section}].")
                loader = getattr(self.cfg.inputs[section], "loader", None)
                volumes[role].append(read_volume(subject.files[section], section, loader, self.channel_counts))
        for group in dict.fromkeys(self.groups[role] for role in volumes):
            check_same_grid([v for role, vs in volumes.items() if self.groups[role] == group for v in vs], subject.id)
        return volumes

    def _values(self, subject: Any, role: str) -> np.ndarray:
        """The per-subject vector of a ``value`` role: its sections' CSV rows (or one-value images,
        NiftyNet's classification labels), concatenated."""
        parts = []
        for section in self.roles[role]:
            if section not in subject.files:
                raise DataError(f"Subject '{subject.id}' has no value in [{section}].")
            names = self.value_maps.get(role)
            if names is None and getattr(self.cfg.inputs[section], "csv_data_file", ""):
                parts.append(read_subject_values(subject.files[section], section, subject.id))
                continue
            tokens = read_value_tokens(self.cfg, subject, section)
            if names is None:  # a one-value image
                parts.append(np.array([float(tokens[0])], np.float32))
                continue
            unknown = [token for token in tokens if token not in names]
            if unknown:
                raise DataError(f"Subject '{subject.id}' has '{unknown[0]}' in '{subject.files[section]}' of "
                                f"[{section}]; expected one of {sorted(names)}.")
            parts.append(np.array([names[token] for token in tokens], np.float32))
        return np.concatenate(parts).astype(np.float32)

    def _field(self, volume: LoadedVolume, geometry: VolumeGeometry) -> np.ndarray:
        """A displacement-field file with its vectors along the preprocessed grid's axes (mm)."""
        if volume.data.shape[-1] != 3:
            raise DataError(
                f"Displacement field '{volume.path}' of [{volume.section}] has {volume.data.shape[-1]} "
                "channel(s); expected 3 (x, y, z displacement in world mm, RAS+)."
            )
        return field_to_grid_axes(volume.data, geometry.preprocessed_affine)

    def _plan(self, first: LoadedVolume) -> VolumeGeometry:
        try:
            return plan_geometry(
                first.data.shape[:3], first.affine, axcodes=self.axcodes, pixdim=self.pixdim,
                padding_size=self.padding_size, min_shape=self.min_shape, path=first.path,
                reference=first.header, grid=self.pixdim_grid,
            )
        except ValueError as error:
            raise ConfigError(f"Cannot preprocess '{first.path}': {error}.") from error

    def _order(self, role: str, volume: LoadedVolume) -> int:
        order = int(getattr(self.cfg.inputs[volume.section], "interp_order", 1))
        kind = self.kinds[role]
        if kind is Kind.LABEL or (kind is Kind.WEIGHT and is_integer_valued(volume.data)):
            return 0
        return max(order, 0)

    # ------------------------------------------------------------------ intensity
    def _masks(self, image: np.ndarray, subject_id: str, role: str) -> np.ndarray:
        masks = foreground_masks(image, self.foreground_type, self.multimod_type)
        for channel in range(masks.shape[-1]):
            if not masks[..., channel].any():
                raise DataError(
                    f"Subject '{subject_id}' has an empty foreground mask in channel {channel} "
                    f"of {self.roles[role]} (foreground_type = {self.foreground_type}, "
                    f"multimod_foreground_type = {self.multimod_type}); choose another "
                    "foreground_type or set normalise_foreground_only = False."
                )
        return masks

    def _channel_sections(self, volumes: list[LoadedVolume]) -> list[tuple[str, int]]:
        return [(v.section, c) for v in volumes for c in range(v.data.shape[-1])]

    def _normalise(
        self, image: np.ndarray, volumes: list[LoadedVolume], subject_id: str, role: str,
        stats: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> np.ndarray:
        channels = self._channel_sections(volumes)
        clips = [tuple(self.cfg.inputs[section].intensity_clip) or None for section, _ in channels]
        fixed = [tuple(self.cfg.inputs[section].fixed_whitening) or None for section, _ in channels]
        if any(clips):
            image = clip_channels(image, clips)
        if not (self.normalisation or self.whitening or any(fixed)):
            return image
        masks = self._masks(image, subject_id, role) if self.foreground_only else None
        if self.normalisation:
            self._require_state()
            out = np.empty_like(image)
            for channel, (section, index) in enumerate(self._channel_sections(volumes)):
                out[..., channel] = histogram.standardise(
                    image[..., channel], self._reference(section, index), self.landmark_percentiles[section],
                    self.norm_type, None if masks is None else masks[..., channel],
                )
            image = out
        if self.whitening or any(fixed):
            found = with_fixed_stats(whitening_stats(image, masks), fixed)
            if not self.whitening:  # only the sections with dataset statistics are whitened
                found = with_fixed_stats((np.zeros(len(fixed)), np.ones(len(fixed))), fixed)
            if stats is not None:
                stats[role] = found
            image = whiten(image, stats=found)
        return image

    def _reference(self, section: str, channel: int) -> np.ndarray:
        """The reference landmarks of ``channel`` of ``section``."""
        channels = self.landmarks[section]
        if channel >= len(channels):
            raise CheckpointError(
                f"The histogram file '{self.landmark_files[section]}' holds landmarks for {len(channels)} "
                f"channel(s) of [{section}], but its images have more; learn them again with another "
                "histogram_ref_file."
            )
        return channels[channel]

    # ------------------------------------------------------------------ labels
    def _labels(self, volume: LoadedVolume, subject_id: str) -> np.ndarray:
        labels = integer_labels(volume, subject_id)
        if self.label_normalisation:
            self._require_state()
            unknown = self.label_map.unknown(labels)
            if unknown:
                raise DataError(
                    f"Label file '{volume.path}' of subject '{subject_id}' holds values "
                    f"{unknown} that are not in the label map {list(self.label_map.values)} "
                    f"('{self.label_map_file}', learnt from the training set)."
                )
            return self.label_map.to_indices(labels)
        if self.num_classes:
            check_label_range(labels, volume, subject_id, int(self.num_classes))
        return labels

    # ------------------------------------------------------------------ public API
    def load(self, subject: Any) -> PreprocessedSubject:
        """Reads and preprocesses every role of a subject.

        Args:
            subject: a :class:`voxflow.data.subjects.Subject` (``id`` and ``files``).

        Returns:
            The :class:`PreprocessedSubject`.

        Raises:
            DataError: unreadable files, grids that differ, NaN/Inf, bad label values.
            CheckpointError: normalisation state needed but not found.
        """
        volumes = self._read(subject, tuple(self.map_roles))
        geometries: dict[str, VolumeGeometry] = {}
        for role, role_volumes in volumes.items():  # each group's plan from its first file
            if self.groups[role] not in geometries:
                geometries[self.groups[role]] = self._plan(role_volumes[0])
        arrays: dict[str, np.ndarray] = {}
        stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for role, role_volumes in volumes.items():
            kind = self.kinds[role]
            geometry = geometries[self.groups[role]]
            channels = []
            for volume in role_volumes:
                if kind is Kind.LABEL:
                    data = self._labels(volume, subject.id)
                elif kind is Kind.FIELD:
                    data = self._field(volume, geometry)
                else:
                    data = volume.data
                channels.append(to_grid(data, geometry, self._order(role, volume)))
            array = np.concatenate(channels, axis=-1) if len(channels) > 1 else channels[0]
            if role in self.normalised:
                array = self._normalise(array, role_volumes, subject.id, role, stats)
            mode = self.padding_mode if kind is Kind.INTENSITY else "constant"
            arrays[role] = np.ascontiguousarray(pad(array, geometry, mode), dtype=np.float32)
        for role in self.value_roles:
            arrays[role] = self._values(subject, role)
        for role, source in self.whitened_like.items():  # e.g. a regression target in its image's units
            if role in arrays and source in stats:
                means, stds = stats[source]
                arrays[role] = ((arrays[role] - float(means[0])) / float(stds[0])).astype(np.float32)
        first = next(iter(geometries.values()))  # the first file of the first role
        return PreprocessedSubject(subject.id, arrays, first, geometries, stats)

    def invert(
        self, array: np.ndarray, geometry: VolumeGeometry, interp_order: int = 0
    ) -> np.ndarray:
        """Sends an array on the preprocessed grid back to the first image file's grid.

        Args:
            array: ``(X', Y', Z', C)`` or ``(X', Y', Z')`` with the preprocessed spatial shape.
            geometry: the subject's :attr:`PreprocessedSubject.geometry`.
            interp_order: 0 for labels, 1 (or 3) for probabilities/intensities.

        Returns:
            The array on the original grid (same number of dimensions as ``array``); write it
            with ``geometry.affine`` and ``reference=geometry.reference``.
        """
        squeeze = array.ndim == 3
        data = array[..., np.newaxis] if squeeze else array
        out = from_grid(np.asarray(data), geometry, interp_order)
        return out[..., 0] if squeeze else out

    @staticmethod
    def field_to_world(field: np.ndarray, geometry: VolumeGeometry) -> np.ndarray:
        """A field whose vectors are along the preprocessed grid's axes (as ``field`` roles are
        loaded and as a network predicts them) with its vectors in world mm (RAS+), as written."""
        return field_to_world(field, geometry.preprocessed_affine)

    def labels_to_original(self, indices: np.ndarray) -> np.ndarray:
        """Maps label indices ``0..K-1`` back to the original label values.

        Identity (the input unchanged) without label normalisation.
        """
        if not self.label_normalisation:
            return indices
        self._require_state()
        try:
            return self.label_map.to_original(indices)
        except ValueError as error:  # load_state checked the map against num_classes: not expected
            raise CheckpointError(f"Cannot map classes back to label values with the label map "
                                  f"'{self.label_map_source}': {error}.") from error

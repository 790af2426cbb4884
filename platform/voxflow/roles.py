"""What an application's inputs are: roles, and the kind of data each role holds.

A **role** is a key of an application's config section that names input sections
(``[SEGMENTATION] image = T1, T2``); the files of those sections are read, preprocessed and cut
into windows together, and reach the network as ``batch[role]``. What happens to a role's data is
decided by its **kind**, never by its name — TorchIO's ``ScalarImage`` / ``LabelMap`` idea — so a
new application can call its roles ``moving_image``, ``target`` or ``output`` and every part of
voxflow treats them correctly:

==============  ===============================  =========================================
kind            preprocessing                    augmentation
==============  ===============================  =========================================
``intensity``   resampled with the section's     warped with the image interpolation;
                ``interp_order``; histogram      intensity transforms (bias field, gamma,
                standardisation and whitening;   noise, k-space artefacts ...) when the role
                padded with ``volume_padding_    takes them (``Role.intensity_transforms``)
                mode``
``label``       integer values checked against   warped by nearest neighbour (or on one-hot
                ``num_classes``, label           maps); never intensity-transformed
                normalisation; nearest
                neighbour; padded with 0
``weight``      nearest neighbour if integer-    warped linearly; never intensity-transformed
                valued, else ``interp_order``;
                padded with 0
``field``       a displacement field: one        refused by spatial transforms (its vectors
                channel per spatial axis, in     would need reorienting); never
                mm along the world axes in the   intensity-transformed
                file, along the preprocessed
                grid's axes in the array;
                linear; padded with 0 (no
                displacement)
``value``       one number or vector per         passed through unchanged
                subject, from a CSV column
                (``csv_data_file``): not a
                volume, never resampled
==============  ===============================  =========================================

Every map kind (all but ``value``) is cut into windows at the same place as the others, and
resized by the resize sampler (nearest for labels, linearly otherwise); a ``value`` is attached,
uncut, to every window of its subject. Which weight map steers a sampler is said by name
(``sampling_role``), not guessed.

**Groups.** Roles of one group share one voxel grid (their files must match, and they are
preprocessed onto one plan made from the group's first file). Roles of different groups may
live on different grids — registration's fixed and moving images — and each group is
reoriented, resampled and padded on its own; the resize sampler resizes each group to the
window, while samplers that cut windows need every group to have one shape.

Example:
    >>> IMAGE = Role("image", Kind.INTENSITY, "Input sections of the network input.")
    >>> IMAGE.kind.value, IMAGE.intensity_transforms
    ('intensity', True)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class Kind(str, enum.Enum):  # noqa: UP042 - StrEnum would change str(Kind.X), which messages use
    """The kind of data a role holds (see the module docstring)."""

    INTENSITY = "intensity"
    LABEL = "label"
    WEIGHT = "weight"
    FIELD = "field"
    VALUE = "value"

    @property
    def is_map(self) -> bool:
        """Whether data of this kind is a volume on a voxel grid (every kind but ``value``)."""
        return self is not Kind.VALUE


@dataclass(frozen=True)
class Role:
    """One input of an application.

    Attributes:
        name: the config key in the application's section, and the batch key of its windows.
        kind: what the data is (:class:`Kind`).
        doc: one line for the configuration reference.
        group: roles of one group share one grid; different groups may have different grids
            (registration's ``fixed`` and ``moving``). Default: ``subject``.
        intensity_transforms: whether intensity augmentation changes this role (default: for
            ``intensity`` roles; a regression target would say False).
        normalised: whether histogram standardisation and whitening apply (default: for
            ``intensity`` roles).
        required: ``True`` if the config must always name its sections, or the actions that need
            it (e.g. ``("train", "evaluation")``).
        read_by: the actions that read it (None: every action). For the others a section it names
            that the file lacks is a notice, not an error (NiftyNet's evaluation configs keep a
            ``weight = T1`` whose section they dropped).
    """

    name: str
    kind: Kind
    doc: str = ""
    group: str = "subject"
    intensity_transforms: bool | None = None
    normalised: bool | None = None
    required: bool | tuple[str, ...] = False
    read_by: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", Kind(self.kind))
        for flag in ("intensity_transforms", "normalised"):
            if getattr(self, flag) is None:
                object.__setattr__(self, flag, self.kind is Kind.INTENSITY)


#: The kinds of the conventional batch keys, used where no application declared its roles: the
#: augmentation layers and samplers called on their own, ``net_transform``.
STANDARD_KINDS: dict[str, Kind] = {
    "image": Kind.INTENSITY, "label": Kind.LABEL, "weight": Kind.WEIGHT, "sampler": Kind.WEIGHT,
}


def kinds_of(names: Iterable[str], kinds: Mapping[str, Kind | str] | None = None) -> dict[str, Kind]:
    """``{name: Kind}`` for ``names``: from ``kinds`` when given, else :data:`STANDARD_KINDS`.

    Raises:
        ValueError: a name whose kind is neither given nor standard (declare it with a
            :class:`Role`).
    """
    table = STANDARD_KINDS if kinds is None else {key: Kind(value) for key, value in kinds.items()}
    missing = [name for name in names if name not in table]
    if missing:
        raise ValueError(f"no kind declared for {missing}: give each role's Kind "
                         f"({', '.join(kind.value for kind in Kind)})")
    return {name: table[name] for name in names}


def maps_of(kinds: Mapping[str, Kind]) -> dict[str, Kind]:
    """The roles of ``kinds`` that are volumes (every kind but ``value``), in order."""
    return {name: kind for name, kind in kinds.items() if Kind(kind).is_map}


def of_kind(kinds: Mapping[str, Kind], kind: Kind) -> list[str]:
    """The names of ``kinds`` (in order) whose kind is ``kind``."""
    return [name for name, value in kinds.items() if value is kind]

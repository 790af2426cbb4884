"""Output writers: what one inference writes, each file listed in ``inferred.csv`` as it is written.

An application picks the writer of each inference mode; the engine's inference loop
(:mod:`voxflow.engine.inference`) hands it every prediction. Every writer:

- writes into one folder (``[INFERENCE] save_seg_dir``), each file atomically (a killed run
  leaves no half-written file, and the next run removes its temporary files);
- lists each file in ``<folder>/inferred.csv`` as ``subject_id,path`` — the list the evaluation
  action reads — rewritten atomically after each file;
- refuses, before any work, a planned output that would replace one of the run's inputs.

===========================  ===================================================  =====================
writer                       writes                                               for
===========================  ===================================================  =====================
:class:`VolumeWriter`        ``<subject><postfix>.nii.gz`` on exactly the grid    segmentation,
                             of the subject's first input file (every             regression
                             preprocessing step undone)
:class:`WindowImageWriter`   each window as its own image, ``<name><postfix>      generated images,
                             .nii.gz``, with the affine of the subject's extent   reconstructions
                             (:func:`window_affine`) or 1 mm voxels
:class:`TableWriter`         one CSV, ``<name><postfix>.csv``, one row per        classification,
                             subject: ``subject_id,<columns>`` — readable back    per-subject scores
                             as a ``csv_data_file``
:class:`ArrayWriter`         ``<subject><postfix>.npy`` per subject (NumPy)       arrays
:class:`CodeWriter`          ``<subject>_code<postfix>.nii.gz`` and ``.csv`` per  latent codes
                             subject, and the table ``codes<postfix>.csv``
:class:`PairWriter`          per registered pair, on the fixed image's grid:      registration
                             ``<pair>_warped``, ``<pair>_warped_label``,
                             ``<pair>_field`` (``<postfix>.nii.gz``)
===========================  ===================================================  =====================

Example:
    >>> writer = TableWriter(folder, "_class", subjects, columns=("p0", "p1"), name="classes")  # doctest: +SKIP
    >>> writer.write("sub01", [0.2, 0.8])                                                     # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from voxflow.atomic import atomic_path, atomic_write_text, refuse_replacing_inputs
from voxflow.io import write_image

log = logging.getLogger(__name__)

INFERRED_CSV = "inferred.csv"


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


class OutputWriter:
    """The folder, listing and input protection every writer shares (see the module docstring).

    Args:
        folder: where the outputs go (created on the first write).
        postfix: appended to each output's name (``[INFERENCE] output_postfix``).
        subjects: the subjects inference reads: their files are inputs no output may replace, and
            the writers that name files by subject plan one per subject.
        what: how messages name an output (``segmentation``, ``latent code`` ...).

    Raises:
        OutputError: a planned output would replace one of the subjects' files.
    """

    SUFFIX = ".nii.gz"

    def __init__(self, folder: str, postfix: str, subjects: Sequence[Any] = (), what: str = "output") -> None:
        self.folder, self.postfix, self.what = folder, postfix, what
        self.listing = os.path.join(folder, INFERRED_CSV)
        self.rows: list[tuple[str, str]] = []
        inputs = [path for subject in subjects for path in subject.files.values()]
        refuse_replacing_inputs([*self.planned(subjects), self.listing], inputs, what=what)

    def planned(self, subjects: Sequence[Any]) -> list[str]:
        """The files this writer will write for ``subjects`` (checked against the inputs)."""
        return [self.path(subject.id) for subject in subjects]

    def path(self, name: str) -> str:
        """Where the output called ``name`` goes."""
        return os.path.join(self.folder, f"{name}{self.postfix}{self.SUFFIX}")

    def _listed(self, subject_id: str, path: str) -> str:
        """Add ``path`` to ``inferred.csv`` (rewritten atomically) and return it."""
        self.rows.append((subject_id, path))
        atomic_write_text(self.listing, _csv_text(("subject_id", "path"), self.rows))
        log.info("wrote %s", path)
        return path

    def result(self) -> dict[str, Any]:
        """What inference returns: ``outputs`` (the listed rows) and ``folder``."""
        return {"outputs": list(self.rows), "folder": self.folder}


class VolumeWriter(OutputWriter):
    """One image per subject on the grid of its first input file."""

    def write(self, subject: Any, data: np.ndarray, geometry: Any) -> str:
        """Write ``data`` (already on the subject's original grid) with ``geometry``'s affine and header."""
        path = self.path(subject.id)
        os.makedirs(self.folder, exist_ok=True)
        write_image(path, data, geometry.affine, reference=geometry.reference)
        return self._listed(subject.id, path)


def window_affine(geometry: Any, window: Sequence[int]) -> np.ndarray:
    """The affine of a window holding a subject's whole preprocessed extent resized to ``window``.

    Voxel ``i`` of the window is centred where :func:`~voxflow.data.aggregators.resize.resize_volume`
    takes it from: ``(i + ½)·s − ½`` preprocessed voxels, ``s = extent / window`` per axis.
    """
    scale = np.asarray(geometry.preprocessed_shape, np.float64) / np.asarray(window, np.float64)
    to_preprocessed = np.eye(4)
    to_preprocessed[:3, :3] = np.diag(scale)
    to_preprocessed[:3, 3] = (scale - 1.0) / 2.0
    return np.asarray(geometry.preprocessed_affine, np.float64) @ to_preprocessed


class WindowImageWriter(OutputWriter):
    """Each window written as its own image (NiftyNet's window-as-image outputs).

    Names repeat safely: the second output called ``name`` becomes ``name_1``, and so on.
    """

    def __init__(self, folder: str, postfix: str, subjects: Sequence[Any] = (), what: str = "image") -> None:
        self._used: dict[str, int] = {}
        super().__init__(folder, postfix, subjects, what)

    def planned(self, subjects: Sequence[Any]) -> list[str]:
        """Names are given at write time; only the folder's listing is planned."""
        return []

    def write(self, name: str, data: np.ndarray, affine: np.ndarray | None = None, subject_id: str | None = None) -> str:
        """Write one window ``(X, Y, Z[, C])`` as ``<name><postfix>.nii.gz`` (1 mm voxels without ``affine``)."""
        count = self._used.get(name, 0)
        self._used[name] = count + 1
        unique = name if count == 0 else f"{name}_{count}"
        path = self.path(unique)
        os.makedirs(self.folder, exist_ok=True)
        write_image(path, np.asarray(data, np.float32), np.eye(4) if affine is None else affine)
        return self._listed(subject_id or unique, path)


class TableWriter(OutputWriter):
    """One CSV row per subject, ``subject_id,<columns>``, in ``<name><postfix>.csv``.

    The table has the format of a ``csv_data_file``, so a later run (evaluation, or training on the
    outputs) reads it back as per-subject values (numbers, or names such as class names). With
    ``per_subject``, each subject's row is also its own file, ``<subject><postfix>.csv`` (NiftyNet
    wrote one per subject), and that file is what ``inferred.csv`` lists.
    """

    SUFFIX = ".csv"

    def __init__(self, folder: str, postfix: str, subjects: Sequence[Any] = (), columns: Sequence[str] = ("value",),
                 name: str = "values", what: str = "value", per_subject: bool = False) -> None:
        self.name, self.columns, self.per_subject = name, tuple(columns), per_subject
        self.table: list[tuple[str, ...]] = []
        super().__init__(folder, postfix, subjects, what)

    def planned(self, subjects: Sequence[Any]) -> list[str]:
        """The table (and each subject's file)."""
        return [self.path(self.name), *(self.path(s.id) for s in subjects if self.per_subject)]

    def write(self, subject_id: str, values: Sequence[Any]) -> str:
        """Add ``subject_id``'s row (as many values as columns: numbers, or text such as a class name)
        and rewrite the table atomically.

        Raises:
            ValueError: a row whose length is not the number of columns.
        """
        values = [v if isinstance(v, str) else float(v) for v in (values if isinstance(values, (list, tuple))
                                                                  else np.ravel(values))]
        if len(values) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} values ({', '.join(self.columns)}), got {len(values)}")
        row = (subject_id, *(v if isinstance(v, str) else repr(v) for v in values))
        self.table.append(row)
        header = ("subject_id", *self.columns)
        path = self.path(self.name)
        atomic_write_text(path, _csv_text(header, self.table))
        if self.per_subject:
            path = self.path(subject_id)
            atomic_write_text(path, _csv_text(header, [row]))
        return self._listed(subject_id, path)


class ArrayWriter(OutputWriter):
    """One NumPy file per subject, ``<subject><postfix>.npy`` (e.g. an encoder's latent code)."""

    SUFFIX = ".npy"

    def write(self, subject_id: str, array: np.ndarray) -> str:
        """Save ``array`` (its dtype kept) atomically."""
        path = self.path(subject_id)
        with atomic_path(path, suffix=self.SUFFIX) as tmp:
            np.save(tmp, np.asarray(array), allow_pickle=False)
        return self._listed(subject_id, path)


class CodeWriter(OutputWriter):
    """An encoder's latent codes: per subject ``<subject>_code<postfix>.nii.gz`` (the posterior mean as a
    ``(1, 1, 1, L)`` image, NiftyNet's embedded features, readable back as an input section) and
    ``<subject>_code<postfix>.csv``, and the table ``<name><postfix>.csv`` of every subject's
    ``mean_k`` and ``logvar_k`` (a ``csv_data_file``)."""

    def __init__(self, folder: str, postfix: str, subjects: Sequence[Any] = (), name: str = "codes") -> None:
        self.name = name
        self.table: list[tuple[str, ...]] = []
        super().__init__(folder, postfix, subjects, what="latent code")

    def planned(self, subjects: Sequence[Any]) -> list[str]:
        """The table and each subject's image and CSV."""
        return [self.table_path(), *(self.path(f"{s.id}_code") for s in subjects),
                *(self.csv_path(s.id) for s in subjects)]

    def table_path(self) -> str:
        """The table of every subject's code."""
        return os.path.join(self.folder, f"{self.name}{self.postfix}.csv")

    def csv_path(self, subject_id: str) -> str:
        """One subject's code as CSV."""
        return os.path.join(self.folder, f"{subject_id}_code{self.postfix}.csv")

    def write(self, subject_id: str, mean: np.ndarray, logvar: np.ndarray, affine: np.ndarray | None = None) -> str:
        """Write one subject's code (mean and log-variance, each ``(L,)``), atomically."""
        mean, logvar = np.ravel(mean).astype(np.float32), np.ravel(logvar).astype(np.float32)
        os.makedirs(self.folder, exist_ok=True)
        header = ("subject_id", *(f"mean_{k}" for k in range(mean.size)), *(f"logvar_{k}" for k in range(logvar.size)))
        row = (subject_id, *(repr(float(v)) for v in (*mean, *logvar)))
        self.table.append(row)
        atomic_write_text(self.table_path(), _csv_text(header, self.table))
        atomic_write_text(self.csv_path(subject_id), _csv_text(header, [row]))
        path = self.path(f"{subject_id}_code")
        write_image(path, mean.reshape(1, 1, 1, -1), np.eye(4) if affine is None else np.asarray(affine))
        return self._listed(subject_id, path)


class PairWriter(OutputWriter):
    """A registered pair's warped moving image (and labels) and its displacement field, on the fixed
    file's grid; ``inferred.csv`` lists one row per pair: ``pair_id,fixed_id,moving_id,warped_image,
    warped_label,field`` (``warped_label`` empty without moving labels)."""

    COLUMNS = ("pair_id", "fixed_id", "moving_id", "warped_image", "warped_label", "field")

    def __init__(self, folder: str, postfix: str, pairs: Sequence[Any], labels: bool = False) -> None:
        self.pairs, self.labels = list(pairs), labels
        self.table: list[tuple[str, ...]] = []
        subjects = list({id(s): s for p in self.pairs for s in (p.fixed, p.moving)}.values())
        super().__init__(folder, postfix, subjects, what="registration output")

    def planned(self, subjects: Sequence[Any]) -> list[str]:
        """Every file of every pair."""
        kinds = ("warped", "warped_label", "field") if self.labels else ("warped", "field")
        return [self.path(f"{pair.name}_{kind}") for pair in self.pairs for kind in kinds]

    def write(self, pair: Any, warped: np.ndarray, labels: np.ndarray | None, field: np.ndarray, geometry: Any) -> str:
        """Write one pair's files (``geometry``: the fixed image's) and its ``inferred.csv`` row."""
        from voxflow.io.displacement import write_displacement  # noqa: PLC0415

        os.makedirs(self.folder, exist_ok=True)
        image_path = self.path(f"{pair.name}_warped")
        write_image(image_path, np.asarray(warped, np.float32), geometry.affine, reference=geometry.reference)
        label_path = ""
        if labels is not None:
            label_path = self.path(f"{pair.name}_warped_label")
            write_image(label_path, np.rint(labels).astype(np.int32), geometry.affine, reference=geometry.reference)
        field_path = self.path(f"{pair.name}_field")
        write_displacement(field_path, field, geometry.affine)
        self.table.append((pair.name, pair.fixed.id, pair.moving.id, image_path, label_path, field_path))
        atomic_write_text(self.listing, _csv_text(self.COLUMNS, self.table))
        self.rows.append((pair.name, image_path))
        log.info("wrote %s", image_path)
        return image_path

    def result(self) -> dict[str, Any]:
        """``pairs`` (how many were registered), ``listing`` (``inferred.csv``) and ``outputs``."""
        return {"pairs": len(self.table), "listing": self.listing, "outputs": list(self.rows), "folder": self.folder}


def read_inferred(cfg: Any, inferred_sections: Sequence[str], section: str, script: str) -> list[tuple[str, str]]:
    """``(subject, output file)`` pairs to evaluate: the files of the application's ``inferred``
    sections when given, else the rows of ``<save_seg_dir>/inferred.csv``.

    Args:
        cfg: the configuration.
        inferred_sections: the application's ``inferred`` input sections (may be empty).
        section: the application's section, for messages (``SEGMENTATION``).
        script: its console script, for messages (``net_segment``).

    Raises:
        CheckpointError: no listing and no ``inferred`` sections, or an empty listing.
    """
    from voxflow.data.subjects import find_subjects  # noqa: PLC0415
    from voxflow.errors import CheckpointError  # noqa: PLC0415

    if inferred_sections:
        name = inferred_sections[0]
        return [(s.id, s.files[name]) for s in find_subjects(cfg, sections=(name,))]
    listing = os.path.join(cfg.inference.save_seg_dir, INFERRED_CSV)
    if not os.path.isfile(listing):
        raise CheckpointError(f"No inferred output: {listing} does not exist. Run `{script} inference -c {cfg.path}` "
                              f"first, or name the outputs to evaluate with [{section}] inferred.")
    with open(listing, newline="", encoding="utf-8") as handle:
        inferred = [(row["subject_id"], row["path"]) for row in csv.DictReader(handle)]
    if not inferred:
        raise CheckpointError(f"No inferred output listed in {listing}.")
    return inferred

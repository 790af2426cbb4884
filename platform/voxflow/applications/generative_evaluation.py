"""Evaluation of generated images that have a true image: an autoencoder's reconstructions, a
conditional GAN's simulations.

Each output listed in ``inferred.csv`` (or given by the ``inferred`` files) is compared with the real
image of its subject (the ``image`` sections), resampled linearly onto the output's grid through both
files' affines (outputs are at the window's size). Both are mapped to [0, 1] by the intensity range
the model learnt in training (``intensity_range.json``), so PSNR has a data range of 1 and the numbers
compare across subjects. One row per output (``SUBJECT``: the subject, or the output's name when a subject has several); writes ``evaluation.csv`` and
``evaluation_statistics.csv`` to ``save_csv_dir``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from voxflow.errors import DataError


def onto_grid(reference: np.ndarray, reference_affine: np.ndarray, shape: tuple[int, ...],
              affine: np.ndarray) -> np.ndarray:
    """``reference`` (X, Y, Z) resampled linearly onto the grid of ``shape`` and ``affine`` (0 outside)."""
    from scipy import ndimage  # noqa: PLC0415

    matrix = np.linalg.inv(np.asarray(reference_affine, np.float64)) @ np.asarray(affine, np.float64)
    return ndimage.affine_transform(np.asarray(reference, np.float64), matrix[:3, :3], offset=matrix[:3, 3],
                                    output_shape=tuple(shape), order=1, mode="constant", cval=0.0)


def evaluate(app: Any) -> dict:
    """Rows per output to CSV, with statistics (see the module docstring)."""
    from voxflow.applications.generative import load_range  # noqa: PLC0415
    from voxflow.applications.regression_evaluation import continuous_metrics, write_evaluation  # noqa: PLC0415
    from voxflow.data.subjects import find_subjects  # noqa: PLC0415
    from voxflow.data.writers import read_inferred  # noqa: PLC0415
    from voxflow.io import read_image  # noqa: PLC0415

    cfg = app.cfg
    resolved = continuous_metrics(cfg, "a generated image")
    low, high = load_range(cfg.system.model_dir)
    section = cfg.app.image[0]
    references = {s.id: s.files[section] for s in find_subjects(cfg, sections=(section,))}
    inferred = read_inferred(cfg, (), app.SECTION, app.CONSOLE_SCRIPT)
    rows = []
    one_per_subject = len(inferred) == len({subject for subject, _ in inferred})
    for subject_id, path in inferred:
        if subject_id not in references:
            raise DataError(f"Generated image '{path}' is of subject '{subject_id}', which has no real image in "
                            f"[{section}].")
        output = read_image(path)
        reference = read_image(references[subject_id])
        out = np.asarray(output.data, np.float64).reshape(output.data.shape[:3] + (-1,))[..., 0]
        ref = np.asarray(reference.data, np.float64).reshape(reference.data.shape[:3] + (-1,))[..., 0]
        ref = onto_grid(ref, reference.affine, out.shape, output.affine)
        ref, out = (np.clip((a - low) / (high - low), 0.0, 1.0) for a in (ref, out))
        output_name = os.path.basename(path).split(".")[0]
        rows.append({"SUBJECT": subject_id if one_per_subject else output_name, "LABEL": "image",
                     **{name: float(metric(np.squeeze(ref), np.squeeze(out))) for name, metric in resolved}})
    return write_evaluation(cfg, rows, [name for name, _ in resolved], len(inferred))

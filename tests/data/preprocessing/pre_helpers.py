"""Stand-in config and tiny synthetic volumes for the preprocessing tests."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
from scipy.spatial.transform import Rotation

from voxflow.data.subjects import Subject
from voxflow.io import write_image


def oblique_affine(spacing=(0.9, 1.3, 2.2), angles=(12.0, -7.0, 25.0), lps=True) -> np.ndarray:
    """An oblique affine with anisotropic spacing, optionally LPS-like (x, y flipped)."""
    rotation = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
    if lps:
        rotation = np.diag([-1.0, -1.0, 1.0]) @ rotation
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag(spacing)
    affine[:3, 3] = [31.5, -12.25, 7.125]
    return affine


def input_section(**overrides) -> SimpleNamespace:
    values = dict(
        path_to_search=(), filename_contains=(), filename_not_contains=(),
        filename_removefromid="", csv_file="", pixdim=(), axcodes=(), interp_order=1,
        loader=None, spatial_window_size=(), intensity_clip=(), fixed_whitening=(),
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def make_cfg(tmp_path, inputs: dict, *, network=None, app=None) -> SimpleNamespace:
    """A config stand-in with the attributes the preprocessing reads."""
    model_dir = os.path.join(str(tmp_path), "model")
    net = dict(
        volume_padding_size=(0, 0, 0), volume_padding_mode="minimum", normalisation=False,
        whitening=False, histogram_ref_file=os.path.join(model_dir, "histogram_ref_file.json"),
        norm_type="percentile", cutoff=(0.01, 0.99), normalise_foreground_only=False,
        foreground_type="otsu_plus", multimod_foreground_type="and",
    )
    net.update(network or {})
    application = dict(num_classes=3, label_normalisation=False, image=(), label=())
    application.update(app or {})
    return SimpleNamespace(
        system=SimpleNamespace(model_dir=model_dir, seed=0, num_threads=1,
                               dataset_split_file=os.path.join(model_dir, "split.csv")),
        network=SimpleNamespace(**net),
        app=SimpleNamespace(**application),
        inputs={name: input_section(**values) for name, values in inputs.items()},
    )


def save(tmp_path, name: str, data: np.ndarray, affine: np.ndarray, dtype=None) -> str:
    path = os.path.join(str(tmp_path), name)
    write_image(path, data, affine, dtype=dtype)
    return path


def subject(subject_id: str, **files: str) -> Subject:
    return Subject(subject_id, dict(files))


def blob_labels(shape=(14, 12, 9), values=(0, 1, 2)) -> np.ndarray:
    """Nested ellipsoid labels: values[0] outside, then values[1], values[2] inside."""
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    radius = np.sqrt((grid**2).sum(axis=0))
    labels = np.full(shape, values[0], dtype=np.int32)
    labels[radius < 0.85] = values[1]
    labels[radius < 0.45] = values[2]
    return labels

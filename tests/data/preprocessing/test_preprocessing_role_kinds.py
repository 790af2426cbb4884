"""Preprocessing acts on a role's kind, never on its name: roles called anything are treated right."""

import numpy as np
import pytest
from pre_helpers import blob_labels, make_cfg, oblique_affine, save, subject

from voxflow.data.preprocessing import Preprocessor
from voxflow.errors import DataError
from voxflow.roles import Kind

AFFINE = oblique_affine(spacing=(1.0, 1.2, 2.0))
SHAPE = (10, 8, 6)
KINDS = {"scan": Kind.INTENSITY, "truth": Kind.LABEL, "prior": Kind.WEIGHT}


def _files(tmp_path, labels=(0, 10, 64)):
    image = np.random.default_rng(0).uniform(10, 20, SHAPE).astype(np.float32)
    truth = blob_labels(SHAPE, labels)
    prior = (truth > 0).astype(np.float32) + 0.25
    return image, truth, dict(A=save(tmp_path, "a.nii.gz", image, AFFINE), B=save(tmp_path, "b.nii.gz", truth, AFFINE),
                              C=save(tmp_path, "c.nii.gz", prior, AFFINE))


def test_roles_of_any_name_are_treated_by_their_kind(tmp_path):
    image, truth, files = _files(tmp_path)
    cfg = make_cfg(tmp_path, {"A": {"pixdim": (0.7, 0.7, 0.7)}, "B": {"pixdim": (0.7, 0.7, 0.7)},
                              "C": {"pixdim": (0.7, 0.7, 0.7)}},
                   app=dict(label_normalisation=True, num_classes=3),
                   network=dict(whitening=True, volume_padding_size=(2, 2, 2)))
    pre = Preprocessor(cfg, roles={"scan": ("A",), "truth": ("B",), "prior": ("C",)}, kinds=KINDS)
    pre.fit([subject("s", A=files["A"], B=files["B"], C=files["C"])])
    arrays = pre.load(subject("s", A=files["A"], B=files["B"], C=files["C"])).arrays
    inner = (slice(2, -2),) * 3
    # the label role: resampled by nearest neighbour and normalised to 0..K-1, padded with 0
    assert set(np.unique(arrays["truth"])) == {0.0, 1.0, 2.0}
    assert np.all(arrays["truth"][:2] == 0)
    # the intensity role: whitened (inside the padding, which repeats the minimum)
    assert abs(float(arrays["scan"][inner].mean())) < 0.1 and float(arrays["scan"][inner].std()) == pytest.approx(1, abs=0.1)
    # the weight role: not normalised, resampled linearly (values between its two levels appear), padded with 0
    values = np.unique(arrays["prior"][inner])
    assert values.min() >= 0.25 - 1e-6 and values.max() <= 1.25 + 1e-6 and len(values) > 2
    assert np.all(arrays["prior"][:2] == 0)


def test_a_label_role_of_any_name_is_checked(tmp_path):
    _, _, files = _files(tmp_path, labels=(0, 10, 64))
    cfg = make_cfg(tmp_path, {"A": {}, "B": {}}, app=dict(num_classes=3))
    pre = Preprocessor(cfg, roles={"scan": ("A",), "truth": ("B",)}, kinds=KINDS)
    with pytest.raises(DataError, match="num_classes"):
        pre.load(subject("s", A=files["A"], B=files["B"]))


def test_a_role_without_a_kind_is_refused(tmp_path):
    _, _, files = _files(tmp_path)
    cfg = make_cfg(tmp_path, {"A": {}})
    with pytest.raises(ValueError, match="no kind declared for \\['scan'\\]"):
        Preprocessor(cfg, roles={"scan": ("A",)})

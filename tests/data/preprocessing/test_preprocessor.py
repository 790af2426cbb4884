"""Preprocessor: channels, padding, label normalisation, learnt state and every data check."""

import numpy as np
import pytest
from pre_helpers import blob_labels, make_cfg, oblique_affine, save, subject

from voxflow.data.preprocessing import Preprocessor
from voxflow.errors import CheckpointError, ConfigError, DataError

AFFINE = oblique_affine(spacing=(1.0, 1.2, 2.0))
SHAPE = (10, 8, 6)


def _image(seed=0, shape=SHAPE):
    return np.random.default_rng(seed).uniform(10, 20, shape).astype(np.float32)


def _cfg(tmp_path, app=None, network=None, **sections):
    return make_cfg(tmp_path, sections or {"T1": {}, "T2": {}, "label": {}}, app=app,
                    network=network)


def test_channels_concatenated_in_order_and_padding_modes(tmp_path):
    t1, t2 = _image(0), _image(1) + 100
    labels = blob_labels(SHAPE)
    files = dict(T1=save(tmp_path, "t1.nii.gz", t1, AFFINE),
                 T2=save(tmp_path, "t2.nii.gz", t2, AFFINE),
                 label=save(tmp_path, "lab.nii.gz", labels, AFFINE))
    cfg = _cfg(tmp_path, network=dict(volume_padding_size=(2, 1, 0)))
    pre = Preprocessor(cfg, roles={"image": ("T2", "T1"), "label": ("label",)},
                       min_shape=(16, 1, 8))
    vol = pre.load(subject("a", **files))
    image, label = vol.arrays["image"], vol.arrays["label"]
    assert image.shape == (16, 10, 8, 2) and label.shape == (16, 10, 8, 1)
    assert image.dtype == label.dtype == np.float32
    (bx, _), (by, _), (bz, _) = vol.geometry.pad_widths
    np.testing.assert_allclose(image[bx : bx + 10, by : by + 8, bz : bz + 6, 0], t2)
    np.testing.assert_allclose(image[bx : bx + 10, by : by + 8, bz : bz + 6, 1], t1)
    assert image[0, 0, 0, 0] == pytest.approx(t2.min())  # "minimum" padding
    assert label[0, 0, 0, 0] == 0
    assert vol.geometry.preprocessed_shape == (16, 10, 8)
    assert vol.geometry.reference.loader == "nibabel"


def test_four_d_nifti_gives_channels(tmp_path):
    data = np.stack([_image(0), _image(1)], axis=-1)
    path = save(tmp_path, "multi.nii.gz", data, AFFINE)
    cfg = _cfg(tmp_path, T1={})
    vol = Preprocessor(cfg, roles={"image": ("T1",)}).load(subject("a", T1=path))
    np.testing.assert_allclose(vol.arrays["image"], data)


def test_label_normalisation_round_trip(tmp_path):
    labels = [blob_labels(SHAPE, (0, 10, 64)), blob_labels(SHAPE, (0, 64, 10))]
    subjects = [subject(f"s{i}", T1=save(tmp_path, f"t{i}.nii.gz", _image(i), AFFINE),
                        label=save(tmp_path, f"l{i}.nii.gz", lab, AFFINE))
                for i, lab in enumerate(labels)]
    cfg = _cfg(tmp_path, app=dict(label_normalisation=True, num_classes=3), T1={}, label={})
    roles = {"image": ("T1",), "label": ("label",)}
    Preprocessor(cfg, roles).fit(subjects)
    pre = Preprocessor(cfg, roles)
    pre.load_state()
    assert pre.label_map.values == (0, 10, 64)
    vol = pre.load(subjects[0])
    assert set(np.unique(vol.arrays["label"])) == {0.0, 1.0, 2.0}
    back = pre.labels_to_original(pre.invert(vol.arrays["label"], vol.geometry, 0))
    np.testing.assert_array_equal(back[..., 0], labels[0])


def test_label_map_larger_than_num_classes_is_an_error(tmp_path):
    sub = subject("s", T1=save(tmp_path, "t.nii.gz", _image(), AFFINE),
                  label=save(tmp_path, "l.nii.gz", blob_labels(SHAPE, (0, 10, 64)), AFFINE))
    cfg = _cfg(tmp_path, app=dict(label_normalisation=True, num_classes=2), T1={}, label={})
    with pytest.raises(DataError, match=r"3 distinct values \[0, 10, 64\].*num_classes = 2"):
        Preprocessor(cfg, {"image": ("T1",), "label": ("label",)}).fit([sub])


def test_unknown_label_after_fit_and_missing_map(tmp_path):
    cfg = _cfg(tmp_path, app=dict(label_normalisation=True, num_classes=3), T1={}, label={})
    roles = {"image": ("T1",), "label": ("label",)}
    image = save(tmp_path, "t.nii.gz", _image(), AFFINE)
    with pytest.raises(CheckpointError, match="label_map.json"):
        Preprocessor(cfg, roles).load_state()
    train = subject("s", T1=image, label=save(tmp_path, "l.nii.gz", blob_labels(SHAPE), AFFINE))
    Preprocessor(cfg, roles).fit([train])
    odd = save(tmp_path, "odd.nii.gz", blob_labels(SHAPE, (0, 1, 7)), AFFINE)
    with pytest.raises(DataError, match=r"odd\.nii\.gz.*'new'.*\[7\]"):
        Preprocessor(cfg, roles).load(subject("new", T1=image, label=odd))


def test_out_of_range_labels_name_subject_file_values(tmp_path):
    labels = save(tmp_path, "lab.nii.gz", blob_labels(SHAPE, (0, 1, 5)), AFFINE)
    cfg = _cfg(tmp_path, app=dict(num_classes=3), label={})
    with pytest.raises(DataError, match=r"lab\.nii\.gz.*'s1'.*\[5\].*num_classes = 3"):
        Preprocessor(cfg, {"label": ("label",)}).load(subject("s1", label=labels))


def test_non_integer_labels(tmp_path):
    data = blob_labels(SHAPE).astype(np.float32)
    data[0, 0, 0] = 0.5
    path = save(tmp_path, "lab.nii.gz", data, AFFINE)
    cfg = _cfg(tmp_path, label={})
    with pytest.raises(DataError, match=r"lab\.nii\.gz.*'s1'.*non-integer.*0\.5"):
        Preprocessor(cfg, {"label": ("label",)}).load(subject("s1", label=path))


def test_nan_in_image_names_file(tmp_path):
    data = _image()
    data[1, 2, 3] = np.nan
    path = save(tmp_path, "bad.nii.gz", data, AFFINE)
    cfg = _cfg(tmp_path, T1={})
    with pytest.raises(DataError, match=r"bad\.nii\.gz.*NaN"):
        Preprocessor(cfg, {"image": ("T1",)}).load(subject("s", T1=path))


def test_grid_mismatch_names_both_files(tmp_path):
    image = save(tmp_path, "t1.nii.gz", _image(), AFFINE)
    other_shape = save(tmp_path, "small.nii.gz", blob_labels((10, 8, 5)), AFFINE)
    moved = AFFINE.copy()
    moved[0, 3] += 0.5
    other_affine = save(tmp_path, "moved.nii.gz", blob_labels(SHAPE), moved)
    cfg = _cfg(tmp_path, T1={}, label={})
    pre = Preprocessor(cfg, {"image": ("T1",), "label": ("label",)})
    with pytest.raises(DataError, match=r"t1\.nii\.gz.*small\.nii\.gz.*shape"):
        pre.load(subject("s", T1=image, label=other_shape))
    with pytest.raises(DataError, match=r"t1\.nii\.gz.*moved\.nii\.gz.*0\.5 mm"):
        pre.load(subject("s", T1=image, label=other_affine))


def test_label_with_float32_affine_precision_is_accepted(tmp_path):
    image = save(tmp_path, "t1.mha", _image(), AFFINE)  # float64 geometry
    label = save(tmp_path, "lab.nii.gz", blob_labels(SHAPE), AFFINE)  # float32 sform
    cfg = _cfg(tmp_path, T1={}, label={})
    vol = Preprocessor(cfg, {"image": ("T1",), "label": ("label",)}).load(
        subject("s", T1=image, label=label))
    assert vol.arrays["label"].shape == SHAPE + (1,)


def test_sections_disagreeing_on_pixdim_is_a_config_error(tmp_path):
    cfg = _cfg(tmp_path, T1=dict(pixdim=(1.0, 1.0, 1.0)), label=dict(pixdim=(2.0, 2.0, 2.0)))
    with pytest.raises(ConfigError, match=r"pixdim.*\[label\].*\[T1\]"):
        Preprocessor(cfg, {"image": ("T1",), "label": ("label",)})


def test_label_section_inherits_image_pixdim(tmp_path):
    image = save(tmp_path, "t1.nii.gz", _image(), AFFINE)
    label = save(tmp_path, "lab.nii.gz", blob_labels(SHAPE), AFFINE)
    cfg = _cfg(tmp_path, T1=dict(pixdim=(2.0, 2.0, 2.0)), label={})
    vol = Preprocessor(cfg, {"image": ("T1",), "label": ("label",)}).load(
        subject("s", T1=image, label=label))
    assert vol.arrays["image"].shape[:3] == vol.arrays["label"].shape[:3] == (5, 5, 6)

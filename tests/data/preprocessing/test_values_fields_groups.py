"""The kinds and groups beyond one grid of images: per-subject values, displacement fields, and
roles on different grids (registration's fixed and moving images)."""

import numpy as np
import pytest
from pre_helpers import make_cfg, save, subject

from voxflow.data.preprocessing import Preprocessor
from voxflow.data.subjects import read_subject_values
from voxflow.errors import ConfigError, DataError
from voxflow.roles import Kind

SHAPE = (8, 6, 5)


def _image(tmp_path, name, shape=SHAPE, affine=None):
    data = np.random.default_rng(len(name)).uniform(1, 2, shape).astype(np.float32)
    return save(tmp_path, name, data, np.eye(4) if affine is None else affine)


# ------------------------------------------------------------------ values (csv_data_file)
def _scores(tmp_path, text):
    path = tmp_path / "scores.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_value_role_is_the_subjects_csv_row_and_images_are_unchanged(tmp_path):
    csv = _scores(tmp_path, "subject_id,age,score\n# a comment\n\ns1,61,0.5\ns2,70,-1e-3\n")
    image = _image(tmp_path, "s1.nii.gz")
    cfg = make_cfg(tmp_path, {"T1": {}, "info": {"csv_data_file": csv}})
    kinds = {"image": Kind.INTENSITY, "info": Kind.VALUE}
    loaded = Preprocessor(cfg, {"image": ("T1",), "info": ("info",)}, kinds=kinds).load(
        subject("s1", T1=image, info=csv))
    alone = Preprocessor(cfg, {"image": ("T1",)}, kinds=kinds).load(subject("s1", T1=image))
    np.testing.assert_array_equal(loaded.arrays["info"], np.array([61.0, 0.5], np.float32))
    assert loaded.arrays["info"].dtype == np.float32
    np.testing.assert_array_equal(loaded.arrays["image"], alone.arrays["image"])
    assert loaded.geometries == {"subject": loaded.geometry}


@pytest.mark.parametrize("text, message", [
    ("s1,1\ns2,x\n", "Invalid row 2 .*'subject_id,value"),
    ("s1,1,2\ns2,3\n", "Row 2 .* has 1 value\\(s\\); the rows before it have 2"),
    ("s1,1\ns1,2\n", "'s1' is on two rows .*line 2"),
    ("s1,nan\n", "Invalid row 1"),
    ("# nothing\n", "lists no subject"),
])
def test_malformed_csv_data_files_name_the_file_and_line(tmp_path, text, message):
    csv = _scores(tmp_path, text)
    with pytest.raises(DataError, match=message):
        read_subject_values(csv, "info", "s1")


def test_a_subject_without_a_row_is_named(tmp_path):
    csv = _scores(tmp_path, "s1,1\n")
    with pytest.raises(DataError, match="Subject 's9' has no row in csv_data_file .*\\[info\\]"):
        read_subject_values(csv, "info", "s9")


def test_an_edited_csv_data_file_is_read_again(tmp_path):
    csv = _scores(tmp_path, "s1,1\n")
    assert read_subject_values(csv, "info", "s1").tolist() == [1.0]
    _scores(tmp_path, "s1,22\n")
    assert read_subject_values(csv, "info", "s1").tolist() == [22.0]


def test_values_and_images_cannot_be_swapped(tmp_path):
    csv = _scores(tmp_path, "s1,1\n")
    cfg = make_cfg(tmp_path, {"T1": {}, "info": {"csv_data_file": csv}})
    kinds = {"image": Kind.INTENSITY, "info": Kind.VALUE}
    with pytest.raises(ConfigError, match="\\[info\\] \\(role `image`, kind intensity\\) has a `csv_data_file`"):
        Preprocessor(cfg, {"image": ("info",)}, kinds=kinds)
    image = _image(tmp_path, "s1.nii.gz")  # an image as a value must hold one value (NiftyNet's one-voxel labels)
    with pytest.raises(DataError, match="s1.nii.gz' of \\[T1\\] holds 240 different values; a per-subject value image"):
        Preprocessor(cfg, {"image": ("T1",), "info": ("T1",)}, kinds=kinds).load(subject("s1", T1=image))
    with pytest.raises(ConfigError, match="at least one role must be an image"):
        Preprocessor(cfg, {"info": ("info",)}, kinds=kinds)


# ------------------------------------------------------------------ displacement fields
def test_field_vectors_follow_reorientation_and_return_to_world(tmp_path):
    las = np.diag([-2.0, 1.0, 1.0, 1.0])  # x runs right to left
    world = np.zeros((*SHAPE, 3), np.float32)
    world[..., 0], world[..., 1], world[..., 2] = 1.5, -0.5, 0.25  # mm towards R, P, S
    image, field = _image(tmp_path, "img.nii.gz", affine=las), save(tmp_path, "f.nii.gz", world, las)
    kinds = {"image": Kind.INTENSITY, "flow": Kind.FIELD}
    for axcodes, along_x in (((), -1.5), (("R", "A", "S"), 1.5)):
        cfg = make_cfg(tmp_path, {"I": {"axcodes": axcodes}, "F": {"axcodes": axcodes}})
        pre = Preprocessor(cfg, {"image": ("I",), "flow": ("F",)}, kinds=kinds)
        loaded = pre.load(subject("s", I=image, F=field))
        # components along the preprocessed grid's axes: x flips with the axis, y and z do not
        np.testing.assert_allclose(loaded.arrays["flow"][2, 2, 2], [along_x, -0.5, 0.25], atol=1e-6)
        back = pre.field_to_world(pre.invert(loaded.arrays["flow"], loaded.geometry, interp_order=1),
                                  loaded.geometry)
        np.testing.assert_allclose(back, world, atol=1e-5)


def test_a_field_needs_three_channels(tmp_path):
    image = _image(tmp_path, "img.nii.gz")
    field = save(tmp_path, "f.nii.gz", np.zeros((*SHAPE, 2), np.float32), np.eye(4))
    cfg = make_cfg(tmp_path, {"I": {}, "F": {}})
    pre = Preprocessor(cfg, {"image": ("I",), "flow": ("F",)}, kinds={"image": Kind.INTENSITY, "flow": Kind.FIELD})
    with pytest.raises(DataError, match="Displacement field .*f.nii.gz.* has 2 channel\\(s\\); expected 3"):
        pre.load(subject("s", I=image, F=field))


# ------------------------------------------------------------------ groups
KINDS = {"fixed": Kind.INTENSITY, "fixed_label": Kind.LABEL, "moving": Kind.INTENSITY}
GROUPS = {"fixed": "fixed", "fixed_label": "fixed", "moving": "moving"}


def test_groups_keep_their_own_grids(tmp_path):
    other = np.diag([2.0, 2.0, 2.0, 1.0])
    other[:3, 3] = [5.0, -3.0, 1.0]
    files = dict(F=_image(tmp_path, "f.nii.gz"), L=save(tmp_path, "l.nii.gz", np.ones(SHAPE, np.uint8), np.eye(4)),
                 M=_image(tmp_path, "m.nii.gz", shape=(4, 9, 3), affine=other))
    cfg = make_cfg(tmp_path, {"F": {}, "L": {}, "M": {}})
    roles = {"fixed": ("F",), "fixed_label": ("L",), "moving": ("M",)}
    loaded = Preprocessor(cfg, roles, kinds=KINDS, groups=GROUPS).load(subject("s", **files))
    assert loaded.arrays["fixed"].shape[:3] == loaded.arrays["fixed_label"].shape[:3] == SHAPE
    assert loaded.arrays["moving"].shape[:3] == (4, 9, 3)
    assert loaded.geometry is loaded.geometries["fixed"]
    np.testing.assert_array_equal(loaded.geometries["moving"].affine, other)
    # without groups the same files are refused: one subject, one grid
    with pytest.raises(DataError, match="do not share one voxel grid"):
        Preprocessor(cfg, roles, kinds=KINDS).load(subject("s", **files))


def test_roles_of_one_group_must_share_its_grid(tmp_path):
    files = dict(F=_image(tmp_path, "f.nii.gz"), L=save(tmp_path, "l.nii.gz", np.ones((8, 6, 4), np.uint8), np.eye(4)),
                 M=_image(tmp_path, "m.nii.gz"))
    cfg = make_cfg(tmp_path, {"F": {}, "L": {}, "M": {}})
    pre = Preprocessor(cfg, {"fixed": ("F",), "fixed_label": ("L",), "moving": ("M",)}, kinds=KINDS, groups=GROUPS)
    with pytest.raises(DataError, match="'.*f.nii.gz' \\(\\[F\\]\\) has shape \\(8, 6, 5\\) but '.*l.nii.gz'"):
        pre.load(subject("s", **files))

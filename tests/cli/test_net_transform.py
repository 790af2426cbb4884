"""`net_transform`: one transform on an image file, seeded, with its label map."""

import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from cli_data import make_subject

from voxflow.cli.transform import parse_kwargs, run


@pytest.fixture
def subject(tmp_path):
    make_subject(str(tmp_path), "s", shape=(20, 18, 12))
    return tmp_path / "s_T1.nii.gz", tmp_path / "s_seg.nii.gz"


def test_list_does_not_import_tensorflow():
    code = "import sys; from voxflow.cli.transform import run; run(['--list']); print('tensorflow' in sys.modules)"
    # utf-8, not the locale's encoding: reading a DICOM series (GDCM) sets this process's locale to C
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", env=env,
                         check=True).stdout
    assert "RandomMotion (random_motion)" in out and "num_transforms" in out
    assert out.strip().endswith("False")


def test_same_seed_same_output_and_geometry(tmp_path, subject):
    image, label = subject
    outputs = []
    for name in ("a", "b"):
        assert run([str(image), "RandomAffine", str(tmp_path / f"{name}.nii.gz"), "--seed", "42",
                    "--kwargs", "degrees=15 translation=2", "--label", str(label),
                    "--label-output", str(tmp_path / f"{name}_seg.nii.gz")]) == 0
        outputs.append(nib.load(tmp_path / f"{name}.nii.gz"))
    source = nib.load(image)
    assert np.array_equal(outputs[0].get_fdata(), outputs[1].get_fdata())
    assert np.allclose(outputs[0].affine, source.affine) and outputs[0].shape == source.shape
    assert not np.allclose(outputs[0].get_fdata(), source.get_fdata())
    seg = np.asarray(nib.load(tmp_path / "a_seg.nii.gz").dataobj)
    assert set(np.unique(seg)) <= {0, 1, 2}


def test_snake_case_name_and_errors(tmp_path, subject, capsys):
    image, _ = subject
    assert run([str(image), "random_motion", str(tmp_path / "m.nii.gz"), "--seed", "1"]) == 0
    assert run([str(image), "RandomMotoin", str(tmp_path / "m.nii.gz")]) == 2
    assert "Did you mean 'random_motion'?" in capsys.readouterr().err
    assert run([str(image), "RandomMotion", str(tmp_path / "m.nii.gz"), "--kwargs", "degres=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "did you mean 'degrees'?" in err and len(err.splitlines()) == 1


def test_kwargs_with_spaces_and_tuples():
    assert parse_kwargs("degrees=10 translation=(1, 2)") == {"degrees": 10, "translation": (1, 2)}


def test_gallery_writes_png(tmp_path, subject):
    image, _ = subject
    target = tmp_path / "g.png"
    assert run([str(image), "--gallery", str(target), "--seed", "3"]) == 0
    assert target.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name, kwargs, needle", [
    ("RandomSwap", "num_iterations=1e9", "RandomSwap: num_iterations must be an integer in [1, 10000], got 1e+09"),
    ("RandomMotion", "degrees=1e400", "'1e400' is not a finite number"),
    ("random_elastic_deformation", "locked_borders=inf", "'inf' is not a finite number"),
    ("RandomBiasField", f"order={'9' * 5000}", "is too large"),
    ("RandomSwap", "patch_size=(15, 15)", "patch_size must be 1 or 3 integers in [1, 65535]"),
])
def test_absurd_arguments_are_one_line_before_any_work(tmp_path, subject, capsys, name, kwargs, needle):
    """These ended as internal errors (OverflowError, IndexError) or ran for hours."""
    image, _ = subject
    assert run([str(image), name, str(tmp_path / "o.nii.gz"), "--kwargs", kwargs]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and len(err) < 400, err
    assert not (tmp_path / "o.nii.gz").exists()


def test_huge_transform_name_is_clipped(tmp_path, subject, capsys):
    image, _ = subject
    assert run([str(image), "R" * 1_000_000, str(tmp_path / "o.nii.gz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "Unknown transform 'RRR" in err and "(1000000 characters)" in err and len(err) < 300


def test_an_output_that_would_replace_an_input_is_refused(tmp_path, subject, capsys):
    image, label = subject
    before = (open(image, "rb").read(), open(label, "rb").read())
    assert run([str(image), "RandomFlip", str(image), "--seed", "1"]) == 2
    assert run([str(image), "RandomFlip", str(tmp_path / "out.nii.gz"), "--label", str(label),
                "--label-output", str(label)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("would replace the input" in line for line in err), err
    assert (open(image, "rb").read(), open(label, "rb").read()) == before
    assert not (tmp_path / "out.nii.gz").exists()

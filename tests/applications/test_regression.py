"""net_regress end to end on tiny data: it learns a known mapping, keeps geometry and units, writes
error maps, evaluates continuous outputs, and refuses segmentation losses."""

import csv
import os
import sys
import textwrap

import nibabel as nib
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from cli_data import make_subject, oblique_affine  # noqa: E402

from voxflow.cli.main import main  # noqa: E402


def _project(tmp_path, extra_app="", **training):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(5):
        image, label, affine = make_subject(str(data), f"sub{i:02d}", seed=i, affine=oblique_affine((1.5, 1.0, 2.0)))
        # the target: a known function of the image in other units (e.g. Hounsfield-like), plus the shell
        target = (3.0 * image - 500.0).astype(np.float32)
        nib.save(nib.Nifti1Image(target, affine), str(data / f"sub{i:02d}_CT.nii.gz"))
        nib.save(nib.Nifti1Image((label > 0).astype(np.uint8), affine), str(data / f"sub{i:02d}_mask.nii.gz"))
    keys = {"lr": 0.01, "max_iter": 60, **training}
    config = tmp_path / "regress.ini"
    config.write_text(textwrap.dedent("""\
        [T1]
        path_to_search = data
        filename_contains = T1
        spatial_window_size = 12,12,8
        [CT]
        path_to_search = data
        filename_contains = CT
        spatial_window_size = 12,12,8
        [brain]
        path_to_search = data
        filename_contains = mask
        [SYSTEM]
        model_dir = model
        seed = 1
        num_threads = 1
        [NETWORK]
        name = toynet
        batch_size = 4
        whitening = True
        [TRAINING]
        sample_per_volume = 4
        validation_every_n = -1
        save_every_n = 1000
        {training}
        [INFERENCE]
        border = 2,2,1
        dataset_to_infer = all
        [REGRESSION]
        image = T1
        output = CT
        mask = brain
        {extra_app}
        """).format(training="\n".join(f"{k} = {v}" for k, v in keys.items()), extra_app=extra_app),
        encoding="utf-8")
    return str(config)


def run(*argv):
    return main(list(argv), prog="net_regress", application="regression")


def test_it_learns_a_known_mapping_in_the_targets_units_on_each_input_grid(tmp_path):
    config = _project(tmp_path)
    assert run("train", "-c", config) == 0
    assert run("inference", "-c", config) == 0
    errors, baseline = [], []
    for i in range(5):
        target_image = nib.load(str(tmp_path / "data" / f"sub{i:02d}_CT.nii.gz"))
        output = nib.load(str(tmp_path / "model" / "output" / f"sub{i:02d}_regressed.nii.gz"))
        assert output.shape == target_image.shape and np.allclose(output.affine, target_image.affine)
        assert output.get_data_dtype() == np.float32
        target, predicted = target_image.get_fdata(), output.get_fdata()
        errors.append(np.abs(predicted - target).mean())
        baseline.append(np.abs(target - target.mean()).mean())
    # in Hounsfield-like units, far better than predicting each volume's own mean
    assert np.mean(errors) < 0.25 * np.mean(baseline), (errors, baseline)
    assert run("evaluation", "-c", config) == 0
    with open(tmp_path / "model" / "evaluation" / "evaluation.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["LABEL"] for row in rows} == {"image", "mask"} and len(rows) == 10
    first = next(row for row in rows if row["SUBJECT"] == "sub00" and row["LABEL"] == "image")
    assert float(first["mae"]) == pytest.approx(errors[0], rel=1e-4)  # continuous values, never rounded


def test_error_maps_hold_the_squared_error_on_the_input_grid(tmp_path):
    config = _project(tmp_path, extra_app="error_map = True", max_iter=2)
    assert run("train", "-c", config) == 0
    assert run("inference", "-c", config) == 0
    output = nib.load(str(tmp_path / "model" / "output" / "sub01_regressed.nii.gz")).get_fdata()
    target = nib.load(str(tmp_path / "data" / "sub01_CT.nii.gz")).get_fdata()
    error = nib.load(str(tmp_path / "model" / "error_maps" / "sub01.nii.gz"))
    np.testing.assert_allclose(error.get_fdata(), (output - target) ** 2, rtol=1e-4, atol=1e-2)


def test_a_segmentation_loss_is_refused_in_one_line(tmp_path, capsys):
    config = _project(tmp_path, loss_type="Dice", max_iter=1)
    assert run("train", "-c", config) == 2
    assert "Dice is not a regression loss. Expected one of: L1Loss, L2Loss, RMSE, MAE" in capsys.readouterr().err


def _restoration_project(tmp_path, residual):
    """A restoration task: the target is the image, the input that image blurred (in the same units)."""
    from scipy import ndimage

    config = _project(tmp_path, extra_app=f"residual = {residual}\noutput_normalisation = none", max_iter=30)
    for i in range(5):
        image = nib.load(str(tmp_path / "data" / f"sub{i:02d}_T1.nii.gz"))
        sharp = image.get_fdata().astype(np.float32)
        nib.save(nib.Nifti1Image(sharp, image.affine), str(tmp_path / "data" / f"sub{i:02d}_CT.nii.gz"))
        blurred = ndimage.gaussian_filter(sharp, 0.7).astype(np.float32)
        nib.save(nib.Nifti1Image(blurred, image.affine), str(tmp_path / "data" / f"sub{i:02d}_T1.nii.gz"))
    text = open(config, encoding="utf-8").read().replace("whitening = True", "whitening = False")
    open(config, "w", encoding="utf-8").write(text)
    return config


def _restoration_error(tmp_path):
    errors = []
    for i in range(5):
        target = nib.load(str(tmp_path / "data" / f"sub{i:02d}_CT.nii.gz")).get_fdata()
        output = nib.load(str(tmp_path / "model" / "output" / f"sub{i:02d}_regressed.nii.gz")).get_fdata()
        errors.append(np.abs(output - target).mean())
    return float(np.mean(errors))


def test_a_residual_network_starts_from_the_image_and_restores_better_in_the_same_budget(tmp_path):
    errors = {}
    for residual in (False, True):
        folder = tmp_path / str(residual)
        folder.mkdir()
        config = _restoration_project(folder, residual)
        assert run("train", "-c", config) == 0
        assert run("inference", "-c", config) == 0
        errors[residual] = _restoration_error(folder)
    blurred = []
    for i in range(5):
        target = nib.load(str(tmp_path / "True" / "data" / f"sub{i:02d}_CT.nii.gz")).get_fdata()
        image = nib.load(str(tmp_path / "True" / "data" / f"sub{i:02d}_T1.nii.gz")).get_fdata()
        blurred.append(np.abs(image - target).mean())
    # 30 steps: the residual network starts at the blurred input (a zero head) and improves on it;
    # the plain one, still learning the identity, is worse than its input
    assert errors[True] < np.mean(blurred) < errors[False], (errors, np.mean(blurred))


def test_residual_refuses_a_whitened_image(tmp_path, capsys):
    config = _project(tmp_path, extra_app="residual = True", max_iter=1)
    assert run("train", "-c", config) == 2
    err = capsys.readouterr().err
    assert "residual = True" in err and "whitening = False" in err and "Traceback" not in err


def test_image_normalisation_makes_the_model_free_of_intensity_units(tmp_path):
    """output_normalisation = image: the target takes its image's whitening and outputs go back by the
    same statistics, so a scanner's other intensity scale (×100 + 7) gives the same output ×100 + 7."""
    config = _restoration_project(tmp_path, residual=True)
    text = open(config, encoding="utf-8").read().replace("whitening = False", "whitening = True").replace(
        "output_normalisation = none", "output_normalisation = image").replace("max_iter = 30", "max_iter = 10")
    open(config, "w", encoding="utf-8").write(text)
    assert run("train", "-c", config) == 0
    assert run("inference", "-c", config) == 0
    first = nib.load(str(tmp_path / "model" / "output" / "sub01_regressed.nii.gz")).get_fdata()
    for i in range(5):
        path = tmp_path / "data" / f"sub{i:02d}_T1.nii.gz"
        image = nib.load(str(path))
        nib.save(nib.Nifti1Image((image.get_fdata() * 100.0 + 7.0).astype(np.float32), image.affine), str(path))
    assert run("inference", "-c", config, "--save_seg_dir", str(tmp_path / "rescaled")) == 0
    second = nib.load(str(tmp_path / "rescaled" / "sub01_regressed.nii.gz")).get_fdata()
    np.testing.assert_allclose(second, first * 100.0 + 7.0, rtol=1e-4, atol=1e-2)
    assert np.abs(first).max() > 1.0  # in the target's units, not whitened ones


def test_image_normalisation_needs_whitening(tmp_path, capsys):
    config = _project(tmp_path, extra_app="output_normalisation = image", max_iter=1)
    text = open(config, encoding="utf-8").read().replace("whitening = True", "whitening = False")
    open(config, "w", encoding="utf-8").write(text)
    assert run("train", "-c", config) == 2
    assert "output_normalisation = image" in capsys.readouterr().err


def test_a_packed_regression_model_carries_its_target_scaling(tmp_path):
    import tarfile

    from voxflow.zoo.pack import pack

    config = _project(tmp_path, max_iter=2)
    assert run("train", "-c", config) == 0
    result = pack(config, "toy_regression", tmp_path / "zoo", checkpoint="latest")
    with tarfile.open(result.folder / "weights.tar.gz") as archive:
        assert "regression_target.json" in archive.getnames()
    readme = (result.folder / "README.md").read_text(encoding="utf-8")
    assert "net_regress inference -c" in readme and "- Classes:" not in readme

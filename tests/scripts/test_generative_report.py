"""scripts/generative_report.py: the PCA baseline, the nearest-pose baseline and the code tables."""

import json

import nibabel as nib
import numpy as np
import pytest
from script_loader import load_script

report = load_script("generative_report")


def test_pca_baseline_reconstructs_what_its_components_span():
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, 50))
    train = rng.normal(size=(20, 3)) @ basis + 5.0
    inside = rng.normal(size=(4, 3)) @ basis + 5.0  # in the training set's span: exact
    assert np.allclose(report.pca_reconstruction(train, inside, 3), inside)
    outside = rng.normal(size=(4, 50))
    fewer = report.pca_reconstruction(train, outside, 1)
    assert np.linalg.norm(fewer - outside) > np.linalg.norm(report.pca_reconstruction(train, outside, 3) - outside)


def _save(path, array):
    nib.save(nib.Nifti1Image(np.asarray(array, np.float32)[..., None], np.eye(4)), str(path))


def test_simulator_baseline_is_the_training_pose_nearest_in_world_coordinates(tmp_path):
    rng = np.random.default_rng(1)
    data, model, outputs = tmp_path / "sim", tmp_path / "model", tmp_path / "out"
    for folder in (data / "train", data / "test", model, outputs):
        folder.mkdir(parents=True)
    (model / "intensity_range.json").write_text(json.dumps({"low": 0.0, "high": 1.0}))
    grid = np.stack(np.meshgrid(np.arange(16.0), np.arange(16.0), indexing="ij"), -1)
    images = {}
    for k, shift in enumerate((0.0, 10.0, 30.0)):  # three training poses: planes at z = shift
        images[k] = rng.uniform(size=(16, 16))
        _save(data / "train" / f"train-{k}_img.nii.gz", images[k])
        for axis, values in zip("XYZ", (grid[..., 0], grid[..., 1], np.full((16, 16), shift))):
            _save(data / "train" / f"train-{k}_coord{axis}.nii.gz", values)
    for axis, values in zip("XYZ", (grid[..., 0], grid[..., 1], np.full((16, 16), 12.0))):  # nearest: z = 10
        _save(data / "test" / f"test-0_coord{axis}.nii.gz", values)
    _save(data / "test" / "test-0_img.nii.gz", images[1])
    _save(outputs / "test-0_generated.nii.gz", images[0])
    args = report.argparse.Namespace(data=str(data), outputs=str(outputs), model=str(model))
    result = report.report_simulator(args)
    row = result["rows"][0]
    assert row["nearest training pose"]["mae"] == pytest.approx(0.0, abs=1e-7)  # it found train-1
    assert row["simulator"]["mae"] > 0.1


def test_gan_report_reads_code_tables_and_compares_sets(tmp_path):
    rng = np.random.default_rng(2)

    def table(name, codes):
        lines = ["subject_id," + ",".join(f"mean_{k}" for k in range(codes.shape[1])) + ",logvar_0"]
        lines += [f"s{i}," + ",".join(map(str, row)) + ",0.0" for i, row in enumerate(codes)]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
        return str(tmp_path / name)

    real = rng.normal(size=(200, 4))
    args = report.argparse.Namespace(generated=table("g.csv", rng.normal(3.0, 1.0, (200, 4))),
                                     real=table("r.csv", real), train=table("t.csv", rng.normal(size=(200, 4))),
                                     generated_images=None, real_images=None)
    result = report.report_gan(args)
    assert np.allclose(report.read_codes(args.real), real)
    far, near = result["generated vs held-out real"], result["training vs held-out real"]
    assert far["frechet"] > 10 * near["frechet"] and near["recall"] > far["recall"]

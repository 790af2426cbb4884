"""net_reg end to end on tiny volumes on two different grids: train, infer, evaluate, and refusals."""

import csv
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np

from voxflow.cli.main import main

#: The system sections of every test project: a tiny network, two iterations, outputs in out/.
SYSTEM = textwrap.dedent("""
    [SYSTEM]
    model_dir = model
    seed = 3
    num_threads = 1
    [NETWORK]
    network_args = encoder=(4, 8), decoder=(8, 8), full_resolution=(4)
    batch_size = 1
    [TRAINING]
    lr = 0.001
    max_iter = 2
    save_every_n = 2
    [INFERENCE]
    save_seg_dir = out
    dataset_to_infer = all
    """)


def _ball(shape, centre, radius):
    grid = np.indices(shape, dtype=np.float64)
    return np.sqrt(sum((grid[a] - centre[a]) ** 2 for a in range(3)))


def _project(folder: Path, extra: str = "") -> Path:
    """Three subjects: fixed images on a 2 mm grid, moving images on an oblique 1.5 mm grid."""
    rng = np.random.default_rng(0)
    points = ["subject_id,side,point,x,y,z"]
    for i in range(3):
        for side, spacing, shape in (("fixed", 2.0, (24, 24, 16)), ("moving", 1.5, (30, 30, 22))):
            affine = np.diag([spacing, spacing, spacing, 1.0])
            if side == "moving":
                angle = np.deg2rad(10)
                affine[:3, :3] = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                                           [0, 0, 1]]) @ affine[:3, :3]
            centre_world = np.array([24.0, 24.0, 16.0]) + rng.uniform(-2, 2, 3)
            centre = np.linalg.solve(affine[:3, :3], centre_world - affine[:3, 3])
            points.append(f"s{i},{side},centre," + ",".join(f"{c:.4f}" for c in centre_world))
            radius = _ball(shape, centre, 0) * spacing
            image = (np.clip(14 - radius, 0, 1) * 100 + np.clip(7 - radius, 0, 1) * 50).astype(np.float32)
            labels = ((radius < 14).astype(np.uint8) + (radius < 7)).astype(np.uint8)
            nib.save(nib.Nifti1Image(image, affine), str(folder / f"s{i}_{side}_img.nii.gz"))
            nib.save(nib.Nifti1Image(labels, affine), str(folder / f"s{i}_{side}_lab.nii.gz"))
    sections = "".join(f"[{name}]\npath_to_search = .\nfilename_contains = _{name}\n"
                       + ("spatial_window_size = 16, 16, 16\n" if name == "fixed_img" else "")
                       + ("interp_order = 0\n" if name.endswith("lab") else "")
                       for name in ("fixed_img", "moving_img", "fixed_lab", "moving_lab"))
    (folder / "points.csv").write_text("\n".join(points) + "\n", encoding="utf-8")
    config = folder / "reg.ini"
    config.write_text(sections + SYSTEM + textwrap.dedent("""
        [REGISTRATION]
        fixed_image = fixed_img
        moving_image = moving_img
        fixed_label = fixed_lab
        moving_label = moving_lab
        pairing = all
        method = svf
        label_loss = dice
        num_classes = 3
        landmarks_file = points.csv
        """) + extra, encoding="utf-8")
    return config


def _run(config, action, *extra):
    return main([action, "-c", str(config), *extra], prog="net_reg", application="net_reg")


def test_train_infer_evaluate_on_two_grids(tmp_path):
    config = _project(tmp_path)
    assert _run(config, "train") == 0
    assert _run(config, "inference", "--instance_iterations", "2") == 0
    with open(tmp_path / "out" / "inferred.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and {r["pair_id"] for r in rows} >= {"s0_to_s1", "s1_to_s0"}
    for row in rows:  # outputs lie on the fixed image's file grid
        fixed = nib.load(str(tmp_path / f"{row['fixed_id']}_fixed_img.nii.gz"))
        for key in ("warped_image", "warped_label", "field"):
            image = nib.load(row[key])
            assert image.shape[:3] == fixed.shape and np.allclose(image.affine, fixed.affine)
        assert nib.load(row["field"]).header.get_intent()[0] == "displacement vector"
        assert set(np.unique(np.asarray(nib.load(row["warped_label"]).dataobj))) <= {0, 1, 2}
    assert _run(config, "evaluation") == 0
    folder = tmp_path / "model" / "evaluation"
    with open(folder / "registration_labels.csv", newline="", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    assert len(labels) == 12 and {r["LABEL"] for r in labels} == {"1", "2"}
    assert all(0.0 <= float(r["dice_before"]) <= 1.0 and 0.0 <= float(r["dice_after"]) <= 1.0 for r in labels)
    # before registration the moving labels were only resampled onto the fixed grid by the affines:
    # the balls overlap well already (their centres differ by a few mm)
    assert np.mean([float(r["dice_before"]) for r in labels]) > 0.5
    assert (folder / "registration_jacobian.csv").is_file() and (folder / "registration_boxplots.png").is_file()
    with open(folder / "registration_jacobian.csv", newline="", encoding="utf-8") as handle:
        jacobian = list(csv.DictReader(handle))
    assert all(-1.0 <= float(r["ncc_before"]) <= 1.0 and -1.0 <= float(r["ncc_after"]) <= 1.0 for r in jacobian)
    with open(folder / "registration_landmarks.csv", newline="", encoding="utf-8") as handle:
        points = list(csv.DictReader(handle))
    assert len(points) == 6 and all(r["POINT"] == "centre" for r in points)
    # before: the distance between the two balls' centres, known from how they were drawn (< 2·√3·2 mm)
    assert all(0.0 < float(r["tre_before"]) < 7.0 for r in points)
    assert _run(config, "export", "--output", str(tmp_path / "exported")) == 0  # the network serving its field
    import tensorflow as tf

    served = tf.saved_model.load(str(tmp_path / "exported" / "saved_model")).signatures["serving_default"]
    field = served(tf.zeros((1, 16, 16, 16, 2)))["displacement"]
    assert field.shape == (1, 16, 16, 16, 3)
    assert abs(float(tf.reduce_sum(field[0, 8, 8, 8]))) < 0.5  # the field itself (a softmax would sum to 1)
    import keras

    reloaded = keras.saving.load_model(str(tmp_path / "exported" / "model.keras"))  # the .keras file serves it too
    pair = np.random.default_rng(0).random((1, 16, 16, 16, 2)).astype(np.float32)
    np.testing.assert_allclose(reloaded(pair), served(tf.constant(pair))["displacement"], atol=1e-5)


def test_refusals_are_one_line(tmp_path, capsys):
    config = _project(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("num_classes = 3\n", ""), encoding="utf-8")
    assert _run(config, "train") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "num_classes" in err[0]
    config.write_text(text.replace("pairing = all", "pairing = csv\npairs_file = missing.csv"), encoding="utf-8")
    assert _run(config, "train") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pairs_file" in err[0]
    config.write_text(text.replace("label_loss = dice", "label_loss = none\nimage_loss = none"), encoding="utf-8")
    assert _run(config, "train") == 2
    assert "no similarity" in capsys.readouterr().err


def test_two_dimensional_pairs(tmp_path):
    """Slices (one voxel thick) train a 2-D network; outputs keep the slices' grid, the field's third component 0."""
    rng = np.random.default_rng(1)
    for i in range(2):
        centre = np.array([12.0, 12.0]) + rng.uniform(-2, 2, 2)
        grid = np.indices((24, 24), dtype=np.float64)
        radius = np.sqrt(((grid - centre[:, None, None]) ** 2).sum(0))
        image = (np.clip(8 - radius, 0, 1) * 100).astype(np.float32)[..., None]
        nib.save(nib.Nifti1Image(image, np.diag([1.0, 1.0, 3.0, 1.0])), str(tmp_path / f"s{i}_img.nii.gz"))
    config = tmp_path / "reg.ini"
    config.write_text(textwrap.dedent("""
        [img]
        path_to_search = .
        filename_contains = _img
        spatial_window_size = 16, 16, 1
        """) + SYSTEM + textwrap.dedent("""
        [REGISTRATION]
        fixed_image = img
        moving_image = img
        pairing = all
        method = ddf
        """), encoding="utf-8")
    assert _run(config, "train") == 0
    assert _run(config, "inference") == 0
    field = nib.load(str(tmp_path / "out" / "s0_to_s1_field.nii.gz"))
    assert field.shape == (24, 24, 1, 1, 3) and np.allclose(field.affine, np.diag([1.0, 1.0, 3.0, 1.0]))
    assert np.all(np.asarray(field.dataobj)[..., 2] == 0)

"""net_evaluate end to end on tiny NIfTI files, bad inputs (exit 2, one line), and no TensorFlow."""

from __future__ import annotations

import csv
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from voxflow.cli.evaluate import run

AFFINE = np.diag([0.8, 0.8, 2.0, 1.0])


@pytest.fixture
def folders(tmp_path):
    ref_dir, seg_dir = tmp_path / "ref", tmp_path / "seg"
    ref_dir.mkdir()
    seg_dir.mkdir()
    for i in range(3):
        ref = np.zeros((14, 12, 6), dtype=np.int16)
        ref[2:8, 2:8, 1:4] = 1
        ref[9:12, 7:11, 2:5] = 2
        nib.save(nib.Nifti1Image(ref, AFFINE), str(ref_dir / f"sub{i}.nii.gz"))
        nib.save(nib.Nifti1Image(np.roll(ref, i, axis=0), AFFINE), str(seg_dir / f"sub{i}_seg.nii.gz"))
    return ref_dir, seg_dir


def _one_line(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("net_evaluate: error:"), err
    for word in words:
        assert word in err[0]


def test_folders_to_csv_statistics_and_plot(folders, tmp_path, capsys):
    ref_dir, seg_dir = folders
    out = tmp_path / "out" / "results.csv"
    assert run(["--ref", str(ref_dir), "--seg", str(seg_dir), "--suffix", "_seg", "--metrics",
                "dice,hausdorff95,surface_dice@1", "--labels", "1,2", "--csv", str(out),
                "--plot", str(tmp_path / "box.png")]) == 0
    with open(out, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and list(rows[0]) == ["SUBJECT", "LABEL", "dice", "hausdorff95", "surface_dice@1"]
    assert rows[0]["SUBJECT"] == "sub0" and float(rows[0]["dice"]) == 1.0
    assert float(rows[2]["hausdorff95"]) == pytest.approx(0.8, rel=1e-6)  # shifted one voxel of 0.8 mm
    assert (tmp_path / "out" / "results_statistics.csv").is_file() and (tmp_path / "box.png").is_file()
    assert "SUBJECT" in capsys.readouterr().out


def test_csv_lists(folders, tmp_path):
    ref_dir, seg_dir = folders
    listing = tmp_path / "seg.csv"
    # as Excel saves "CSV UTF-8": a byte-order mark and CRLF line ends
    listing.write_text("\ufeffsubject_id,path\r\n" + "".join(f"sub{i},seg/sub{i}_seg.nii.gz\r\n" for i in range(3)),
                       encoding="utf-8")
    assert run(["--ref", str(ref_dir), "--seg", str(listing), "--csv", str(tmp_path / "r.csv"), "--quiet"]) == 0


def test_missing_file(folders, tmp_path, capsys):
    ref_dir, seg_dir = folders
    (ref_dir / "sub1.nii.gz").unlink()
    assert run(["--ref", str(ref_dir), "--seg", str(seg_dir), "--suffix", "_seg", "--csv", str(tmp_path / "r.csv")]) == 2
    _one_line(capsys, "sub1")


def test_shape_mismatch(folders, tmp_path, capsys):
    ref_dir, seg_dir = folders
    nib.save(nib.Nifti1Image(np.zeros((14, 12, 5), np.int16), AFFINE), str(seg_dir / "sub2_seg.nii.gz"))
    assert run(["--ref", str(ref_dir), "--seg", str(seg_dir), "--suffix", "_seg", "--csv", str(tmp_path / "r.csv")]) == 2
    _one_line(capsys, "sub2_seg", "shape")


def test_affine_mismatch_names_the_voxel_sizes(folders, tmp_path, capsys):
    ref_dir, seg_dir = folders
    ref = np.asarray(nib.load(str(ref_dir / "sub2.nii.gz")).dataobj)
    nib.save(nib.Nifti1Image(ref, np.diag([0.8, 0.8, 2.5, 1.0])), str(seg_dir / "sub2_seg.nii.gz"))
    assert run(["--ref", str(ref_dir), "--seg", str(seg_dir), "--suffix", "_seg", "--csv", str(tmp_path / "r.csv")]) == 2
    _one_line(capsys, "sub2_seg", "different affines", "0.8×0.8×2.5 vs 0.8×0.8×2")


def test_non_finite_labels_are_an_error_not_a_label(folders, tmp_path, capsys):
    """A NaN cast to an integer became a label of its own, with its own row of metrics."""
    ref_dir, seg_dir = folders
    seg = np.asarray(nib.load(str(seg_dir / "sub1_seg.nii.gz")).dataobj).astype(np.float32)
    seg[0, 0, 0] = np.nan
    nib.save(nib.Nifti1Image(seg, AFFINE), str(seg_dir / "sub1_seg.nii.gz"))
    out = tmp_path / "r.csv"
    assert run(["--ref", str(ref_dir), "--seg", str(seg_dir), "--suffix", "_seg", "--csv", str(out)]) == 2
    _one_line(capsys, "sub1_seg", "NaN or infinite")
    assert not out.exists()


def test_unknown_metric(folders, tmp_path, capsys):
    ref_dir, seg_dir = folders
    assert run(["--ref", str(ref_dir), "--seg", str(seg_dir), "--metrics", "dice,hausdorf95",
                "--csv", str(tmp_path / "r.csv")]) == 2
    _one_line(capsys, "hausdorf95", "Did you mean 'hausdorff95'")


def test_help_and_run_do_not_import_tensorflow(folders, tmp_path):
    ref_dir, seg_dir = folders
    code = ("import sys\nfrom voxflow.cli.evaluate import main\nargs = sys.argv[1:]\n"
            "try:\n    main(args)\nexcept SystemExit as stop:\n    code = stop.code\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\nsys.exit(code)\n")
    helped = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--metrics" in helped.stdout, helped.stderr
    ran = subprocess.run([sys.executable, "-c", code, "--ref", str(ref_dir), "--seg", str(seg_dir), "--suffix", "_seg",
                          "--csv", str(tmp_path / "r.csv"), "--quiet"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr


def test_continuous_images_are_compared_unrounded(tmp_path, capsys):
    """MAE, RMSE and PSNR of intensity images: read_pair rounded them to integers before."""
    ref_dir, seg_dir = tmp_path / "ref", tmp_path / "seg"
    ref_dir.mkdir()
    seg_dir.mkdir()
    image = np.random.default_rng(0).uniform(10.0, 20.0, (10, 9, 8)).astype(np.float32)
    nib.save(nib.Nifti1Image(image, AFFINE), str(ref_dir / "s.nii.gz"))
    nib.save(nib.Nifti1Image(image + 0.3, AFFINE), str(seg_dir / "s.nii.gz"))
    out = tmp_path / "r.csv"
    assert run(["--ref", str(ref_dir), "--seg", str(seg_dir), "--metrics", "mae,rmse", "--csv", str(out),
                "--quiet", "--units", "foreground"]) == 0
    with open(out, encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    assert float(row["mae"]) == pytest.approx(0.3, abs=1e-5) and float(row["rmse"]) == pytest.approx(0.3, abs=1e-5)


def test_label_maps_are_read_without_a_widening_copy_in_c_order(tmp_path):
    """A uint8 NIfTI label map came back as a Fortran-ordered int64 copy (8× its memory; on a 256³
    brain pair the copies and the sorts of np.unique on them were a third of net_evaluate's time)."""
    from voxflow.evaluation.files import read_pair
    from voxflow.evaluation.metrics import evaluate_labels, present_values

    labels = np.zeros((9, 8, 7), np.uint8)
    labels[2:6, 2:6, 2:5] = 3
    labels[3:5, 3:5, 3:4] = 1
    for name in ("ref", "seg"):
        nib.save(nib.Nifti1Image(labels, np.eye(4)), tmp_path / f"{name}.nii.gz")
    ref, seg, spacing = read_pair(str(tmp_path / "ref.nii.gz"), str(tmp_path / "seg.nii.gz"))
    assert ref.dtype == np.uint8 and ref.flags["C_CONTIGUOUS"] and np.array_equal(ref, labels)
    assert [row["label"] for row in evaluate_labels(ref, seg, spacing=spacing, metrics=["dice"])] == [1, 3]
    for values in (labels, labels.astype(np.int16) - 2, labels.astype(bool), labels.astype(np.uint16) * 999,
                   labels.astype(np.int64)):
        assert np.array_equal(present_values(values), np.unique(values)), values.dtype

"""Each kind of bad input stops the run before any work with one line and exit status 2."""

import os
import subprocess
import sys

import nibabel as nib
import numpy as np
from cli_data import make_subject, oblique_affine, write_config

from voxflow.cli.main import main


def run(*argv):
    return main(list(argv), prog="net_segment", application="segmentation")


def assert_one_line_error(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "error:" in line]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert not any("Traceback" in line for line in err)


def test_subject_without_label(tmp_path, tiny_dataset, capsys):
    os.remove(tiny_dataset / "sub03_seg.nii.gz")
    assert run("train", "-c", write_config(tmp_path)) == 2
    assert_one_line_error(capsys, "sub03")
    assert not (tmp_path / "model" / "models").exists()


def test_nan_in_image(tmp_path, tiny_dataset, capsys):
    image = np.zeros((21, 18, 13), np.float32)
    image[3, 3, 3] = np.nan
    nib.save(nib.Nifti1Image(image, oblique_affine()), str(tiny_dataset / "sub01_T1.nii.gz"))
    assert run("train", "-c", write_config(tmp_path)) == 2
    assert_one_line_error(capsys, "sub01_T1.nii.gz")


def test_label_values_beyond_num_classes(tmp_path, tiny_dataset, capsys):
    _, label, affine = make_subject(str(tiny_dataset), "sub02", seed=2)
    label[label == 2] = 7
    nib.save(nib.Nifti1Image(label, affine), str(tiny_dataset / "sub02_seg.nii.gz"))
    assert run("train", "-c", write_config(tmp_path)) == 2
    assert_one_line_error(capsys, "sub02", "num_classes")


def test_truncated_image(tmp_path, tiny_dataset, capsys):
    path = tiny_dataset / "sub04_T1.nii.gz"
    path.write_bytes(path.read_bytes()[:200])
    assert run("train", "-c", write_config(tmp_path)) == 2
    assert_one_line_error(capsys, "sub04_T1.nii.gz")


def test_geometry_mismatch(tmp_path, tiny_dataset, capsys):
    label = np.zeros((20, 18, 13), np.uint8)
    nib.save(nib.Nifti1Image(label, oblique_affine()), str(tiny_dataset / "sub00_seg.nii.gz"))
    assert run("train", "-c", write_config(tmp_path)) == 2
    assert_one_line_error(capsys, "sub00_seg.nii.gz", "sub00_T1.nii.gz")


def test_window_that_cannot_fit_the_network(tmp_path, tiny_dataset, capsys):
    assert run("train", "-c", write_config(tmp_path, network="unet", window="12,12,12")) == 2
    assert_one_line_error(capsys, "spatial_window_size", "unet")


def test_model_dir_that_is_a_file(tmp_path, tiny_dataset, capsys):
    (tmp_path / "model").write_text("not a folder", encoding="utf-8")
    assert run("train", "-c", write_config(tmp_path)) == 2
    assert_one_line_error(capsys, "model_dir")


def test_inference_without_checkpoint(tmp_path, tiny_dataset, capsys):
    (tmp_path / "model").mkdir()
    assert run("inference", "-c", write_config(tmp_path)) == 2
    assert_one_line_error(capsys, "No checkpoint")


def test_evaluation_without_inferred_output(tmp_path, tiny_dataset, capsys):
    (tmp_path / "model").mkdir()
    assert run("evaluation", "-c", write_config(tmp_path)) == 2
    assert_one_line_error(capsys, "inferred")


def test_config_typo_suggests_the_key(tmp_path, tiny_dataset, capsys):
    config = write_config(tmp_path, extra="")
    text = open(config, encoding="utf-8").read().replace("batch_size = 2", "batch_sise = 2")
    open(config, "w", encoding="utf-8").write(text)
    assert run("train", "-c", config) == 2
    assert_one_line_error(capsys, "batch_sise", "[NETWORK]", "batch_size")


def test_unknown_network_name(tmp_path, tiny_dataset, capsys):
    assert run("train", "-c", write_config(tmp_path, network="unte")) == 2
    assert_one_line_error(capsys, "unte", "unet")


def test_dense_dice_is_refused_by_segmentation(tmp_path, tiny_dataset, capsys):
    # NiftyNet's Dice_Dense compares two dense maps (its registration's loss); on label indices it was garbage.
    assert run("train", "-c", write_config(tmp_path), "--loss_type", "Dice_Dense") == 2
    assert_one_line_error(capsys, "Dice_Dense compares two dense maps", "use Dice or Dice_NS")


def test_console_script_is_quiet_and_exits_2(tmp_path, tiny_dataset):
    config = write_config(tmp_path, network="unte")
    proc = subprocess.run([sys.executable, "-c", "from voxflow.cli.main import net_segment; net_segment()",
                           "train", "-c", config], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_help_does_not_import_tensorflow():
    code = ("import sys\nfrom voxflow.cli.main import main\n"
            "try:\n    main(['--help'], prog='net_segment', application='segmentation')\n"
            "except SystemExit:\n    pass\nassert 'tensorflow' not in sys.modules, 'tensorflow imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--max_iter" in proc.stdout


def test_unknown_metric_name(tmp_path, tiny_dataset, capsys):
    (tmp_path / "model").mkdir()
    assert run("evaluation", "-c", write_config(tmp_path), "--evaluations", "dice,hausdorf95") == 2
    assert_one_line_error(capsys, "[EVALUATION]", "hausdorf95", "hausdorff95")


def test_internal_error_is_one_line_with_debug_hint(tmp_path, tiny_dataset, capsys, monkeypatch):
    from voxflow.applications import segmentation

    def broken(self):
        raise RuntimeError("something internal broke\nsecond line")

    monkeypatch.setattr(segmentation.SegmentationApplication, "prepare", broken)
    assert run("train", "-c", write_config(tmp_path)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("(rerun with --debug for the traceback)") and "something internal broke" in err[-1]
    assert not any("Traceback" in line for line in err)


def test_successful_console_run_prints_no_tensorflow_noise(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    proc = subprocess.run([sys.executable, "-c", "from voxflow.cli.main import net_segment; net_segment()",
                           "train", "-c", config, "--max_iter", "1", "--validation_every_n", "-1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for noise in ("oneDNN", "cuInit", "cuda", "I0000", "E0000", "WARNING: All log messages"):
        assert noise not in proc.stderr, proc.stderr

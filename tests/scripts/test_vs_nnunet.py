"""scripts/benchmarks/vs_nnunet.py and nnunet_side.py without nnU-Net: the dataset conversion, the
Dice scoring, the JSON lines and the exit when nnU-Net is missing (nothing is trained here)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from script_loader import load_script

BENCHMARKS = Path(__file__).resolve().parents[2] / "scripts" / "benchmarks"
REQUIRED = ("case", "unit", "voxflow", "peer", "peer_value", "speedup", "device")


side = load_script("nnunet_side", BENCHMARKS)
vs = load_script("vs_nnunet", BENCHMARKS)

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def _save(path: Path, array: np.ndarray) -> None:
    nib.save(nib.Nifti1Image(array, AFFINE), str(path))


def _dataset(folder: Path, split: dict[str, str]) -> Path:
    """A voxflow-like dataset: ``<id>_T1.nii.gz`` and ``<id>_label.nii.gz`` per subject, and the split."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for subject in split:
        _save(folder / f"{subject}_T1.nii.gz", rng.random((6, 5, 4)).astype(np.float32))
        _save(folder / f"{subject}_label.nii.gz", rng.integers(0, 4, (6, 5, 4)).astype(np.uint8))
    rows = "".join(f"{subject},{phase}\n" for subject, phase in split.items())
    (folder / "dataset_split.csv").write_text("subject_id,phase\n" + rows, encoding="utf-8")
    return folder


SPLIT = {"sub-01": "training", "sub-02": "training", "sub-03": "validation", "sub-04": "inference"}


def test_conversion_writes_the_layout_nnunet_expects(tmp_path):
    data = _dataset(tmp_path / "data", SPLIT)
    converted = side.convert(data, tmp_path / "raw", dataset_id=42, name="Tiny")

    folder = tmp_path / "raw" / "Dataset042_Tiny"
    assert converted.folder == folder
    assert sorted(p.name for p in (folder / "imagesTr").iterdir()) == ["sub-01_0000.nii.gz", "sub-02_0000.nii.gz"]
    assert sorted(p.name for p in (folder / "labelsTr").iterdir()) == ["sub-01.nii.gz", "sub-02.nii.gz"]
    assert sorted(p.name for p in (folder / "imagesTs").iterdir()) == ["sub-03_0000.nii.gz", "sub-04_0000.nii.gz"]
    dataset = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    assert dataset["channel_names"] == {"0": "T1"}  # not "CT": nnU-Net z-scores the channel
    assert dataset["labels"] == {"background": 0, "CSF": 1, "GM": 2, "WM": 3}
    assert dataset["numTraining"] == 2 and dataset["file_ending"] == ".nii.gz"
    # the files are copied unchanged; the held-out subjects keep their voxflow labels as references
    assert (folder / "labelsTr" / "sub-02.nii.gz").read_bytes() == (data / "sub-02_label.nii.gz").read_bytes()
    assert (folder / "imagesTs" / "sub-04_0000.nii.gz").read_bytes() == (data / "sub-04_T1.nii.gz").read_bytes()
    assert converted.training == ["sub-01", "sub-02"] and converted.heldout == ["sub-03", "sub-04"]
    assert converted.references == {"sub-03": data / "sub-03_label.nii.gz", "sub-04": data / "sub-04_label.nii.gz"}

    (folder / "imagesTr" / "stale_0000.nii.gz").write_bytes(b"")
    side.convert(data, tmp_path / "raw", dataset_id=42, name="Tiny")  # a second conversion starts afresh
    assert not (folder / "imagesTr" / "stale_0000.nii.gz").exists()


def test_conversion_needs_a_label_for_every_subject_it_scores(tmp_path):
    data = _dataset(tmp_path / "data", SPLIT)
    (data / "sub-03_label.nii.gz").unlink()
    with pytest.raises(ValueError, match="sub-03"):
        side.convert(data, tmp_path / "raw")


def test_held_out_predictions_are_scored_with_voxflow_dice(tmp_path):
    ref = np.zeros((6, 6, 6), np.uint8)
    ref[:2, :2, :2] = 1  # 8 voxels of CSF
    ref[3:, 3:, 3:] = 2  # 27 voxels of GM, predicted exactly
    seg = ref.copy()
    seg[1, :, :] = np.where(seg[1] == 1, 0, seg[1])  # half of the CSF is missed: Dice 2·4 / (8 + 4)
    _save(tmp_path / "ref.nii.gz", ref)
    _save(tmp_path / "seg.nii.gz", seg)
    dice, rows = side.score({"s": tmp_path / "seg.nii.gz"}, {"s": tmp_path / "ref.nii.gz"}, [1, 2])
    assert dice[1] == pytest.approx(8 / 12) and dice[2] == pytest.approx(1.0)
    assert [row["LABEL"] for row in rows] == [1, 2]
    with pytest.raises(ValueError, match="No prediction"):
        side.score({}, {"s": tmp_path / "ref.nii.gz"}, [1])


def test_the_json_lines_have_the_benchmark_fields(capsys):
    peer = {"dice": {1: 0.5, 2: 0.8, 3: 0.6}, "plan_preprocess_s": 30.0, "train_s": 480.0, "predict_s": 20.0,
            "iterations": 12, "subjects": ["a", "b", "c"], "notes": ""}
    ours = {"dice": {"1": 0.6, "2": 0.8, "3": 0.9}, "plan_preprocess_s": 10.0, "train_s": 480.0, "predict_s": 5.0,
            "iterations": 600, "subjects": ["a", "b", "c"], "notes": ""}
    rows = vs.rows(peer, ours, 8, "nnunetv2 2.8.1", device="cpu (2 cores)")
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == rows
    assert [row["case"] for row in rows] == ["dice_CSF@8min", "dice_GM@8min", "dice_WM@8min", "plan_preprocess_s",
                                             "train_s", "predict_s", "train_iterations@8min"]
    for row in rows:
        assert all(key in row for key in REQUIRED) and row["device"] == "cpu (2 cores)"
        assert row["peer"] == "nnunetv2 2.8.1"
    by_case = {row["case"]: row for row in rows}
    assert by_case["dice_CSF@8min"]["unit"] == "dice" and by_case["dice_CSF@8min"]["speedup"] == 1.2  # voxflow/peer
    assert by_case["dice_WM@8min"]["subjects"] == 3
    assert by_case["predict_s"]["unit"] == "s" and by_case["predict_s"]["speedup"] == 4.0  # peer/voxflow time

    rows = vs.rows(peer, None, 8, "nnunetv2 2.8.1", device="cpu (2 cores)")  # no voxflow side yet
    assert all(row["voxflow"] is None and row["speedup"] is None for row in rows)
    assert rows[0]["peer_value"] == 0.5


@pytest.mark.slow
def test_the_voxflow_side_plans_trains_within_the_budget_and_scores_the_held_out_subjects(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for index in range(4):
        label = np.zeros((32, 32, 24), np.uint8)
        label[8:24, 8:24, 6:18] = 2
        label[12:20, 12:20, 9:15] = 3
        label[6:8, 6:26, 6:18] = 1
        _save(data / f"subject_{index:03d}_T1.nii.gz", (label * 50 + rng.normal(0, 5, label.shape)).astype(np.float32))
        _save(data / f"subject_{index:03d}_label.nii.gz", label)
    (data / "dataset_split.csv").write_text("subject_id,phase\n" + "".join(
        f"subject_{i:03d},{'validation' if i == 3 else 'training'}\n" for i in range(4)))
    result = vs.run_voxflow(data, tmp_path / "work", 150.0, ["subject_003"])
    assert set(side.RESULT_KEYS) <= set(result)
    assert set(result["dice"]) == {1, 2, 3} and all(0.0 <= v <= 1.0 for v in result["dice"].values())
    assert result["iterations"] >= 1 and result["train_s"] < 150.0 * 1.5
    split = (tmp_path / "work" / "split.csv").read_text()
    assert "subject_003,inference" in split and "validation" not in split  # nothing chosen on held-out data


def test_without_nnunet_the_script_exits_2_with_one_line(tmp_path):
    fake = tmp_path / "python-without-nnunet"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    for python in (tmp_path / "no-such-python", fake):
        result = subprocess.run([sys.executable, str(BENCHMARKS / "vs_nnunet.py"), "--nnunet-python", str(python),
                                 "--data", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        assert result.returncode == 2 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "not installed" in lines[0] and "pip install -e .[bench]" in lines[0]


def test_nnunet_tools_and_the_budget_trainer_are_valid_python(tmp_path):
    cmd = side.command("/x/python", "nnUNetv2_train", "987", "3d_fullres", "all")
    assert cmd[:2] == ["/x/python", "-c"] and cmd[3:] == ["987", "3d_fullres", "all"]
    assert "run_training_entry" in cmd[2]
    ast.parse(cmd[2])
    tree = ast.parse(side.BUDGET_TRAINER)
    assert [node.name for node in tree.body if isinstance(node, ast.ClassDef)] == [side.TRAINER]
    path = side.write_budget_trainer(tmp_path)
    assert path == tmp_path / "trainers" / f"{side.TRAINER}.py"  # the folder nnUNet_extTrainer names
    assert side.nnunet_env(tmp_path)["nnUNet_extTrainer"] == str(path.parent)


def test_a_run_past_its_time_is_stopped(tmp_path):
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    seconds, timed_out = side.run_logged(cmd, dict(os.environ), tmp_path / "sleep.log", timeout=1)
    assert timed_out and seconds < 30
    # A child that ignores SIGINT (background jobs of a shell inherit that) is still stopped, by SIGTERM.
    ignoring = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"]
    seconds, timed_out = side.run_logged(ignoring, dict(os.environ), tmp_path / "ignoring.log", timeout=1)
    assert timed_out and seconds < 20
    with pytest.raises(RuntimeError, match="exit 3"):
        side.run_logged([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), tmp_path / "fail.log")

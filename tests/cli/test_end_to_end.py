"""net_segment train → inference → evaluation on tiny images, in-process, in seconds."""

import csv
import os

import nibabel as nib
import numpy as np
import tensorflow as tf
from cli_data import write_config

from voxflow.cli.main import main


def run(*argv):
    return main(list(argv), prog="net_segment", application="segmentation")


def test_train_infer_evaluate_keeps_input_geometry(tmp_path, tiny_dataset):
    config = write_config(tmp_path, pixdim="1.3,1.3,1.3", axcodes="R,A,S")
    assert run("train", "-c", config) == 0
    model_dir = tmp_path / "model"
    assert {"ckpt-2", "ckpt-4"} <= set(os.listdir(model_dir / "models"))
    assert (model_dir / "settings_train.ini").is_file()
    assert (model_dir / "dataset_split.csv").is_file()
    assert run("inference", "-c", config) == 0
    out_dir = model_dir / "output"
    with open(out_dir / "inferred.csv", encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    assert len(listed) == 5
    for row in listed:
        source = nib.load(str(tiny_dataset / f"{row['subject_id']}_T1.nii.gz"))
        output = nib.load(row["path"])
        assert output.shape == source.shape
        np.testing.assert_allclose(output.affine, source.affine, atol=1e-5)
        assert set(np.unique(np.asarray(output.dataobj))) <= {0, 1, 2}
    assert run("evaluation", "-c", config) == 0
    with open(model_dir / "evaluation" / "evaluation.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 * 2
    assert {r["LABEL"] for r in rows} == {"1", "2"}
    assert all(0.0 <= float(r["dice"]) <= 1.0 for r in rows)


def test_2d_windows_train_and_infer(tmp_path, tiny_dataset):
    config = write_config(tmp_path, window="16,16,1")
    assert run("train", "-c", config, "--max_iter", "2", "--validation_every_n", "-1") == 0
    assert run("inference", "-c", config, "--border", "2,2,0") == 0
    output = nib.load(str(tmp_path / "model" / "output" / "sub00_out.nii.gz"))
    assert output.shape == nib.load(str(tiny_dataset / "sub00_T1.nii.gz")).shape


def _optimizer_iterations(checkpoint_folder):
    reader = tf.train.load_checkpoint(os.path.join(checkpoint_folder, "ckpt"))
    return int(reader.get_tensor("optimizer/v00000/.ATTRIBUTES/VARIABLE_VALUE"))


def test_resumed_run_continues_from_its_iteration(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    assert run("train", "-c", config, "--max_iter", "2") == 0
    models = tmp_path / "model" / "models"
    assert _optimizer_iterations(models / "ckpt-2") == 2
    # A fresh start would silently overwrite: refused.
    assert run("train", "-c", config, "--max_iter", "4") == 2
    assert run("train", "-c", config, "--starting_iter", "-1", "--max_iter", "4") == 0
    # 2 steps before + 2 after resuming: the optimiser's step counter went on from 2.
    assert _optimizer_iterations(models / "ckpt-4") == 4
    assert run("inference", "-c", config, "--inference_iter", "2") == 0


def test_seeded_cpu_runs_are_repeatable(tmp_path, tiny_dataset):
    results = []
    for name in ("a", "b"):
        config = write_config(tmp_path, extra="")
        assert run("train", "-c", config, "--max_iter", "2", "--model_dir", str(tmp_path / name)) == 0
        reader = tf.train.load_checkpoint(str(tmp_path / name / "models" / "ckpt-2" / "ckpt"))
        results.append(reader.get_tensor("model/v00000/.ATTRIBUTES/VARIABLE_VALUE"))
    np.testing.assert_array_equal(results[0], results[1])


def test_override_path_to_search_segments_a_new_folder(tmp_path, tiny_dataset):
    from cli_data import make_subject

    config = write_config(tmp_path)
    assert run("train", "-c", config, "--max_iter", "2") == 0
    new = tmp_path / "new_images"
    new.mkdir()
    make_subject(str(new), "patientA", shape=(19, 22, 11), seed=9)
    out = tmp_path / "new_out"
    assert run("inference", "-c", config, "--path_to_search", str(new), "--save_seg_dir", str(out),
               "--dataset_to_infer", "all") == 0
    assert nib.load(str(out / "patientA_out.nii.gz")).shape == (19, 22, 11)

"""Evaluation-only configs: `[SEGMENTATION] inferred` names the segmentations, nothing else is needed.

Such a config holds the label and inferred sections, num_classes and [EVALUATION]: no `image`, no
window size, no trained model_dir (settings_train.ini, checkpoints, histogram file) and no
inference run. Evaluation used to refuse it (`image` required, then a window size, then "model_dir
does not exist: train first").
"""

import csv
import os
import textwrap

import nibabel as nib
import numpy as np
import pytest

from voxflow.cli.main import main

AFFINE = np.diag([1.5, 1.0, 2.0, 1.0])
SHAPE = (12, 10, 8)


def _dice(ref, seg):
    return 2.0 * np.sum(ref & seg) / (np.sum(ref) + np.sum(seg))


def write_project(folder, values=(1, 2), label_normalisation=False, num_classes=3, extra=""):
    """Three references and segmentations in refs/ and segs/ and an evaluation-only config; returns
    the config and the expected Dice per (subject, label value)."""
    (folder / "refs").mkdir(parents=True)
    (folder / "segs").mkdir()
    expected = {}
    for i in range(3):
        ref = np.zeros(SHAPE, np.int16)
        ref[2:8, 2:7, 2:6] = values[0]
        ref[4:6, 3:5, 3:5] = values[1]
        seg = ref.copy()
        seg[2 : 3 + i, 2:7, 2:6] = 0  # a different Dice per subject
        seg[8:10, 2:4, 2:4] = values[1]  # a false positive
        nib.save(nib.Nifti1Image(ref, AFFINE), str(folder / "refs" / f"s{i}_seg.nii.gz"))
        nib.save(nib.Nifti1Image(seg, AFFINE), str(folder / "segs" / f"s{i}_out.nii.gz"))
        expected.update({(f"s{i}", str(v)): _dice(ref == v, seg == v) for v in values})
    config = folder / "config.ini"
    config.write_text(textwrap.dedent(f"""\
        [label]
        path_to_search = refs
        filename_contains = _seg

        [pred]
        path_to_search = segs
        filename_contains = _out

        [EVALUATION]
        evaluations = dice

        [SEGMENTATION]
        label = label
        inferred = pred
        num_classes = {num_classes}
        label_normalisation = {label_normalisation}
        """) + extra, encoding="utf-8")
    return str(config), expected


def evaluate(config, capsys):
    capsys.readouterr()
    status = main(["evaluation", "-c", config], prog="net_segment", application="segmentation")
    return status, capsys.readouterr().err


def rows(folder):
    with open(folder / "model" / "evaluation" / "evaluation.csv", encoding="utf-8") as handle:
        return {(row["SUBJECT"], row["LABEL"]): float(row["dice"]) for row in csv.DictReader(handle)}


def test_an_evaluation_only_config_in_a_fresh_folder_gives_the_dice(tmp_path, capsys):
    config, expected = write_project(tmp_path)
    status, err = evaluate(config, capsys)
    assert status == 0, err
    assert rows(tmp_path) == pytest.approx(expected)
    assert len(set(expected.values())) > 2  # the values differ: each row is its own subject's
    # nothing but the evaluation was written into the (new) model_dir
    assert sorted(os.listdir(tmp_path / "model")) == ["evaluation"]


def test_label_normalisation_without_a_trained_model_evaluates_the_values_found(tmp_path, capsys, caplog):
    config, expected = write_project(tmp_path, values=(10, 64), label_normalisation=True)
    status, err = evaluate(config, capsys)
    assert status == 0, err
    assert "no label map" in caplog.text  # a warning says which labels are evaluated
    assert rows(tmp_path) == pytest.approx(expected)


def test_a_niftynet_label_mapping_chooses_the_labels_and_is_checked_against_num_classes(tmp_path, capsys):
    mapping = "label_label-from 0.0 10.0 64.0 71.0\nlabel_label-to 0 1 2 3\n"
    extra = "\n[NETWORK]\nhistogram_ref_file = standardisation_models.txt\n"
    config, expected = write_project(tmp_path, values=(10, 64), label_normalisation=True, num_classes=4, extra=extra)
    (tmp_path / "standardisation_models.txt").write_text(mapping, encoding="utf-8")
    status, err = evaluate(config, capsys)
    assert status == 0, err
    found = rows(tmp_path)
    assert {label for _, label in found} == {"10", "64", "71"}  # 71: in neither image, Dice 1
    assert found[("s0", "71")] == 1.0 and found[("s1", "64")] == pytest.approx(expected[("s1", "64")])
    text = open(config, encoding="utf-8").read().replace("num_classes = 4", "num_classes = 3")
    open(config, "w", encoding="utf-8").write(text)
    status, err = evaluate(config, capsys)
    assert status == 2 and "standardisation_models.txt" in err and "num_classes = 3" in err


def test_a_trained_model_dir_without_a_network_in_the_config_is_fine(tmp_path, capsys):
    config, expected = write_project(tmp_path)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "settings_train.ini").write_text(textwrap.dedent("""\
        [label]
        path_to_search = refs
        [NETWORK]
        name = toynet
        [SEGMENTATION]
        label = label
        num_classes = 3
        """), encoding="utf-8")
    status, err = evaluate(config, capsys)
    assert status == 0, err  # was an internal error: the missing network name compared with the trained one
    assert rows(tmp_path) == pytest.approx(expected)


def test_a_merging_niftynet_mapping_evaluates_its_classes_against_the_merged_reference(tmp_path, capsys):
    """NiftyNet's whole-tumour mapping sends labels 1, 2, 4 to class 1; the segmentations hold the
    classes, so each reference is merged the same way before the Dice (class 1 = whole tumour)."""
    extra = "\n[NETWORK]\nhistogram_ref_file = label_mapping_whole_tumor.txt\n"
    config, _ = write_project(tmp_path, values=(2, 4), label_normalisation=True, num_classes=2, extra=extra)
    (tmp_path / "label_mapping_whole_tumor.txt").write_text("labellabelfrom 0 1 2 4\nlabellabelto 0 1 1 1\n",
                                                            encoding="utf-8")
    for i in range(3):  # the segmentations hold classes 0/1
        path = tmp_path / "segs" / f"s{i}_out.nii.gz"
        seg = np.asarray(nib.load(str(path)).dataobj)
        nib.save(nib.Nifti1Image((seg > 0).astype(np.int16), AFFINE), str(path))
    status, err = evaluate(config, capsys)
    assert status == 0, err
    found = rows(tmp_path)
    assert {label for _, label in found} == {"1"}
    for i in range(3):
        ref = np.asarray(nib.load(str(tmp_path / "refs" / f"s{i}_seg.nii.gz")).dataobj) > 0
        seg = np.asarray(nib.load(str(tmp_path / "segs" / f"s{i}_out.nii.gz")).dataobj) > 0
        assert found[(f"s{i}", "1")] == pytest.approx(_dice(ref, seg))

"""The nnU-Net-class recipe end to end on tiny data: full-volume validation, ensembles, test-time
mirroring, post-processing, folds and planning (docs/recipe.md)."""

import csv
import json
import os
import shutil

import nibabel as nib
import numpy as np
import pytest
from cli_data import make_subject, write_config
from scipy import ndimage

from voxflow.cli.main import main


def run(*argv):
    return main(list(argv), prog="net_segment", application="segmentation")


def _edited(path, replacements, to=None):
    """The config at ``path`` with text replaced, written to ``to`` (default: in place)."""
    text = open(path, encoding="utf-8").read()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    out = to or path
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(text)
    return str(out)


def _evaluation_means(path):
    """Mean Dice per label over subjects from an evaluation.csv (finite values)."""
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    means = {}
    for label in sorted({r["LABEL"] for r in rows}):
        values = [float(r["dice"]) for r in rows if r["LABEL"] == label]
        finite = [v for v in values if np.isfinite(v)]
        means[label] = float(np.mean(finite)) if finite else float("nan")
    return means


def test_full_volume_validation_equals_evaluation_of_the_best_checkpoint(tmp_path, tiny_dataset):
    config = _edited(write_config(tmp_path), {
        "validation_every_n = 2": "validation_every_n = 2\nvalidation_mode = volumes",
        "evaluations = dice,jaccard,hausdorff95,average_distance": "evaluations = dice",
        "dataset_to_infer = all": "dataset_to_infer = validation\ninference_iter = best"})
    assert run("train", "-c", config) == 0
    model_dir = tmp_path / "model"
    best = json.loads((model_dir / "models" / "best.json").read_text())
    assert best["metric"] == "validation_mean_dice"
    final = json.loads((model_dir / "final_validation.json").read_text())
    assert final["iteration"] == best["iteration"]
    assert final["final_mean_dice"] == pytest.approx(best["value"], abs=1e-9)
    assert run("inference", "-c", config) == 0
    assert run("evaluation", "-c", config) == 0
    evaluated = _evaluation_means(model_dir / "evaluation" / "evaluation.csv")
    for label, value in evaluated.items():
        assert final[f"final_dice_{label}"] == pytest.approx(value, abs=1e-9, nan_ok=True)


def _probabilities(tmp_path, config, *extra, folder="output"):
    assert run("inference", "-c", config, "--output_prob", "yes", "--save_seg_dir", str(tmp_path / folder),
               *extra) == 0
    out = tmp_path / folder
    return {name: np.asarray(nib.load(str(out / name)).dataobj) for name in sorted(os.listdir(out))
            if name.endswith(".nii.gz")}


def test_an_ensemble_of_one_model_equals_the_model_and_members_must_share_the_recipe(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    assert run("train", "-c", config) == 0
    shutil.copytree(tmp_path / "model", tmp_path / "copy")
    single = _probabilities(tmp_path, config, folder="single")
    doubled = _probabilities(tmp_path, config, "--ensemble_model_dirs", str(tmp_path / "copy"), folder="doubled")
    assert single.keys() == doubled.keys() and single
    for name in single:
        np.testing.assert_array_equal(single[name], doubled[name])
    # another recipe: whitening is a trained key, so the member is refused before any work
    other = _edited(config, {"model_dir = model": "model_dir = other", "whitening = True": "whitening = False"}, tmp_path / "other.ini")
    assert run("train", "-c", other) == 0
    assert run("inference", "-c", config, "--ensemble_model_dirs", str(tmp_path / "other"),
               "--save_seg_dir", str(tmp_path / "refused")) == 2
    assert not (tmp_path / "refused" / "inferred.csv").exists()


@pytest.mark.slow  # (the mirroring and the loss are unit-tested; this trains)
def test_test_time_mirroring_changes_and_averages_the_probabilities(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    assert run("train", "-c", config) == 0
    plain = _probabilities(tmp_path, config, folder="plain")
    mirrored = _probabilities(tmp_path, config, "--tta_mirror_axes", "0,1,2", folder="mirrored")
    for name in plain:
        probabilities = mirrored[name]
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-4)  # still a distribution
    assert any(not np.allclose(plain[n], mirrored[n]) for n in plain)  # a real network is not symmetric


def test_postprocessing_keeps_one_component_per_class(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    assert run("train", "-c", config) == 0
    assert run("inference", "-c", config, "--postprocessing", "largest_component_per_class") == 0
    for name in os.listdir(tmp_path / "model" / "output"):
        if name.endswith(".nii.gz"):
            labels = np.asarray(nib.load(str(tmp_path / "model" / "output" / name)).dataobj)
            for value in (1, 2):
                assert ndimage.label(labels == value)[1] <= 1
    assert run("inference", "-c", config, "--postprocessing", "largest_island") == 2
    # background_outside_input: an input whose outer half is 0 (a skull-stripped image) gets background there,
    # but a zero-valued hole inside its non-zero region keeps its labels.
    stripped = tmp_path / "stripped"
    stripped.mkdir()
    image = nib.load(str(tiny_dataset / "sub00_T1.nii.gz"))
    data = np.asarray(image.dataobj).astype(np.float32)
    data[:8] = 0.0
    data[12:15, 8:11, 5:8] = 0.0  # enclosed: stays inside
    nib.save(nib.Nifti1Image(data, image.affine), str(stripped / "sub00_T1.nii.gz"))
    for steps, folder in (("", "plain"), ("background_outside_input", "masked"),
                          ("background_outside_input --refine_iterations 3", "refined"),
                          ("background_outside_input --refine_iterations 3 --refine_bias_field True "
                           "--refine_variances tied --refine_prior_weight 0.5", "refined_n4")):
        extra = ("--postprocessing", *steps.split()) if steps else ()
        assert run("inference", "-c", config, "--path_to_search", str(stripped), "--dataset_to_infer", "all",
                   "--dataset_split_file", "", "--save_seg_dir", str(tmp_path / folder), *extra) == 0
    plain, masked = (np.asarray(nib.load(str(tmp_path / f / "sub00_out.nii.gz")).dataobj) for f in ("plain", "masked"))
    assert not masked[:8].any() and masked[12:15, 8:11, 5:8].any()
    assert np.array_equal(masked[8:], plain[8:])
    # refine_iterations: inside the image's region every voxel is a tissue class, fitted to its intensities
    region = ndimage.binary_fill_holes(data != 0)
    for folder in ("refined", "refined_n4"):  # the second after N4 bias correction, with tied variances
        refined = np.asarray(nib.load(str(tmp_path / folder / "sub00_out.nii.gz")).dataobj)
        assert not refined[~region].any() and refined[region].min() >= 1


def test_postprocessing_auto_is_chosen_by_training_and_used_by_inference(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    assert run("train", "-c", config, "--validation_mode", "volumes", "--postprocessing", "auto") == 0
    choice = json.loads((tmp_path / "model" / "postprocessing.json").read_text())
    assert set(choice["steps"]) <= {"largest_component_foreground", "largest_component_per_class"}
    assert len(os.listdir(tmp_path / "model" / "validation_cases")) == 1


def test_folds_train_every_fold_summarise_and_ensemble(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    assert run("train", "-c", config, "--num_folds", "2", "--validation_mode", "volumes") == 0
    model_dir = tmp_path / "model"
    with open(model_dir / "folds.csv", encoding="utf-8") as handle:
        folds = {row["subject_id"]: int(row["fold"]) for row in csv.DictReader(handle)}
    assert sorted(folds) == [f"sub{i:02d}" for i in range(5)] and set(folds.values()) == {0, 1}
    for k in (0, 1):
        with open(model_dir / f"fold_{k}" / "dataset_split.csv", encoding="utf-8") as handle:
            phases = dict(csv.reader(handle))
        assert {s for s, p in phases.items() if p == "validation"} == {s for s, f in folds.items() if f == k}
        assert (model_dir / f"fold_{k}" / "final_validation.json").is_file()
    summary = json.loads((model_dir / "cross_validation.json").read_text())["summary"]
    assert "cv_final_mean_dice" in summary
    assert run("train", "-c", config, "--num_folds", "2", "--starting_iter", "-1") == 0  # both done: skipped
    assert run("inference", "-c", config, "--num_folds", "2") == 0  # the ensemble of both folds
    assert len([n for n in os.listdir(model_dir / "output") if n.endswith(".nii.gz")]) == 5
    assert run("inference", "-c", config, "--num_folds", "2", "--fold", "1") == 0
    assert (model_dir / "fold_1" / "output" / "inferred.csv").is_file()
    assert run("inference", "-c", config, "--num_folds", "2", "--fold", "2") == 2


def test_plan_from_a_folder_writes_a_config_that_trains(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        make_subject(str(data), f"sub{i:02d}", shape=(24, 20, 16), seed=i)
    planned = tmp_path / "planned.ini"
    assert run("plan", "-c", str(data), "--output", str(planned)) == 0
    shown = capsys.readouterr().out
    assert "window (voxels)" in shown and "target spacing" in shown
    assert (tmp_path / "data_model" / "fingerprint.json").is_file()
    assert run("plan", "-c", str(data), "--output", str(planned)) == 2  # never replaced
    assert run("train", "-c", str(planned), "--max_iter", "2", "--validation_every_n", "2", "--save_every_n", "2",
               "--tta_mirror_axes", "0") == 0


@pytest.mark.slow  # (the mirroring and the loss are unit-tested; this trains)
def test_deep_supervision_trains_a_unet_with_losses_at_every_decoder_scale(tmp_path, tiny_dataset):
    config = write_config(tmp_path, network="unet")
    assert run("train", "-c", config, "--network_args", "base_features=4, depth=2, deep_supervision=True",
               "--max_iter", "2", "--validation_every_n", "-1") == 0
    assert run("inference", "-c", config) == 0  # the saved network predicts its full-resolution logits


def test_deep_supervision_loss_is_nnunets_weighted_sum_over_scales():
    import tensorflow as tf

    from voxflow.applications.segmentation import SegmentationApplication

    app = SegmentationApplication.__new__(SegmentationApplication)
    app._deep_scales = [(1, 1, 1), (2, 2, 2), (4, 4, 4)]
    app._loss_fn = lambda label, logits, weight: tf.reduce_mean(logits) + tf.reduce_mean(label)

    class Layout:
        def to_network(self, x):
            return x

        def crop_to_output(self, x):
            return x

    app.layout = Layout()
    label = tf.ones((1, 8, 8, 8, 1))
    outputs = [tf.fill((1, 8, 8, 8, 2), 1.0), tf.fill((1, 4, 4, 4, 2), 2.0), tf.fill((1, 2, 2, 2, 2), 3.0)]
    loss = float(app.losses({"label": label}, outputs)["loss"])
    assert loss == pytest.approx((1 * 2 + 0.5 * 3 + 0.25 * 4) / 1.75)
    assert float(app.losses({"label": label}, outputs[0])["loss"]) == pytest.approx(2.0)


def test_plan_from_a_config_reads_only_training_subjects_and_writes_beside_it(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    os.makedirs(tmp_path / "model")
    phases = {f"sub{i:02d}": ("validation" if i in (1, 3) else "training") for i in range(5)}
    (tmp_path / "model" / "dataset_split.csv").write_text("".join(f"{s},{p}\n" for s, p in phases.items()))
    assert run("plan", "-c", config) == 0
    fingerprint = json.loads((tmp_path / "model" / "fingerprint.json").read_text())
    assert fingerprint["subject_ids"] == ["sub00", "sub02", "sub04"]
    planned = (tmp_path / "config_planned.ini").read_text()
    assert "# voxflow plan:" in planned and "validation_mode = volumes" in planned
    assert "path_to_search = data" in planned  # the user's keys kept
    os.makedirs(tmp_path / "elsewhere")
    assert run("plan", "-c", config, "--output", str(tmp_path / "elsewhere" / "x.ini")) == 2


def test_windows_with_an_augmentation_margin_still_reach_every_position(tmp_path, tiny_dataset):
    """The margin a rotation needs is cut around the window from padded volumes: the windows the
    network sees start anywhere a window alone could (without the padding they were confined to the
    centre of each volume, and a model trained so failed on the rest)."""
    from voxflow.applications.segmentation import SegmentationApplication
    from voxflow.config import load_config

    SegmentationApplication.register()
    config = write_config(tmp_path, window="8,8,4")
    cfg = load_config(config, overrides=["--AUGMENTATION.random_affine", "degrees=15, scales=(0.9, 1.1)",
                                         "--sample_per_volume", "1"], app_section="SEGMENTATION", action="train")
    app = SegmentationApplication(cfg, "train")
    app.prepare()
    assert any(app.layout.margin)
    shapes = [v.arrays["image"].shape[:3] for v in app.data.train_volumes]
    starts = np.array([w["location"].numpy() for w in app.training_dataset(0).take(300)])
    for axis in range(3):
        reach = min(s[axis] for s in shapes) - app.layout.window[axis]
        assert starts[:, 1 + axis].min() == 0 and starts[:, 1 + axis].max() >= reach

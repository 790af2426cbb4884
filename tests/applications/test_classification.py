"""net_classify end to end on tiny data, and the classification metrics against their definitions."""

import csv
import itertools
import math
import textwrap

import nibabel as nib
import numpy as np
import pytest

from voxflow.applications.classification_evaluation import binary_auc, classification_metrics
from voxflow.cli.main import main


def _project(tmp_path, count=16, output_prob=True):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    rows = ["subject_id,diagnosis"]
    for i in range(count):
        kind = ("bright", "dark")[i % 2]
        image = rng.normal(0.0, 1.0, (14, 12, 10)) + (3.0 if kind == "bright" else -3.0)
        nib.save(nib.Nifti1Image(image.astype(np.float32), np.diag([1.2, 1.0, 2.0, 1.0])),
                 str(data / f"case{i:02d}_T1.nii.gz"))
        rows.append(f"case{i:02d},{kind}")
    (data / "diagnosis.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    split = "\n".join(f"case{i:02d},{'inference' if i >= 10 else 'training'}" for i in range(count))
    (tmp_path / "split.csv").write_text(split + "\n", encoding="utf-8")
    config = tmp_path / "classify.ini"
    config.write_text(textwrap.dedent(f"""\
        [T1]
        path_to_search = data
        filename_contains = T1
        spatial_window_size = 8,8,8
        [diagnosis]
        csv_data_file = data/diagnosis.csv
        [SYSTEM]
        model_dir = model
        seed = 2
        num_threads = 1
        dataset_split_file = split.csv
        [NETWORK]
        name = toynet
        batch_size = 4
        [TRAINING]
        lr = 0.01
        max_iter = 40
        validation_every_n = -1
        [INFERENCE]
        dataset_to_infer = inference
        [CLASSIFICATION]
        image = T1
        label = diagnosis
        num_classes = 2
        output_prob = {output_prob}
        """), encoding="utf-8")
    return str(config)


def run(*argv):
    return main(list(argv), prog="net_classify", application="classification")


def test_separable_classes_are_learnt_named_and_evaluated(tmp_path):
    config = _project(tmp_path)
    assert run("train", "-c", config) == 0
    assert run("inference", "-c", config) == 0
    with open(tmp_path / "model" / "output" / "classes_class.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["subject_id"] for row in rows] == [f"case{i:02d}" for i in range(10, 16)]
    assert [row["class"] for row in rows] == ["bright", "dark"] * 3  # names survive the round trip
    for row in rows:
        assert float(row["p_bright"]) + float(row["p_dark"]) == pytest.approx(1.0, abs=1e-5)
    assert (tmp_path / "model" / "output" / "case10_class.csv").is_file()  # one file per subject, too
    assert run("evaluation", "-c", config) == 0
    with open(tmp_path / "model" / "evaluation" / "evaluation.csv", encoding="utf-8") as handle:
        results = {(row["metric"], row["class"]): float(row["value"]) for row in csv.DictReader(handle)}
    assert results[("accuracy", "")] >= 0.95 and results[("balanced_accuracy", "")] >= 0.95
    assert results[("roc_auc", "")] == pytest.approx(1.0)
    assert results[("recall", "dark")] == pytest.approx(1.0)


def test_classes_beyond_num_classes_are_refused_in_one_line(tmp_path, capsys):
    config = _project(tmp_path)
    text = open(tmp_path / "data" / "diagnosis.csv", encoding="utf-8").read().replace("case03,dark", "case03,grey")
    (tmp_path / "data" / "diagnosis.csv").write_text(text, encoding="utf-8")
    assert run("train", "-c", config) == 2
    assert "has 3 classes ['bright', 'dark', 'grey'] but [CLASSIFICATION] num_classes = 2" in capsys.readouterr().err


def _auc_by_pairs(scores, positive):
    pairs = [(p, n) for p, n in itertools.product(scores[positive], scores[~positive])]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


def test_metrics_equal_their_definitions():
    rng = np.random.default_rng(5)
    true = rng.integers(0, 3, 60)
    predicted = np.where(rng.uniform(size=60) < 0.7, true, rng.integers(0, 3, 60))
    probabilities = rng.dirichlet(np.ones(3), 60)
    probabilities[np.arange(60), true] += 0.3
    probabilities = np.round(probabilities, 1)  # ties
    result = classification_metrics(true, predicted, 3, probabilities)
    assert result["accuracy"] == pytest.approx(np.mean(true == predicted))
    recalls = [np.mean(predicted[true == k] == k) for k in range(3)]
    assert result["balanced_accuracy"] == pytest.approx(np.mean(recalls))
    f1 = []
    for k in range(3):
        tp = np.sum((true == k) & (predicted == k))
        precision, recall = tp / np.sum(predicted == k), tp / np.sum(true == k)
        f1.append(2 * precision * recall / (precision + recall))
    assert result["macro_f1"] == pytest.approx(np.mean(f1))
    expected_auc = np.mean([_auc_by_pairs(probabilities[:, k], true == k) for k in range(3)])
    assert result["roc_auc"] == pytest.approx(expected_auc)
    assert result["confusion"].sum() == 60 and result["confusion"][1, 1] == np.sum((true == 1) & (predicted == 1))
    assert math.isnan(binary_auc(np.array([0.2, 0.4]), np.array([True, True])))


def test_niftynet_one_voxel_label_images_give_the_class(tmp_path):
    config = _project(tmp_path, count=8, output_prob=False)
    labels = tmp_path / "labels"
    labels.mkdir()
    for i in range(8):
        nib.save(nib.Nifti1Image(np.full((1, 1, 1), i % 2, np.uint8), np.eye(4)), str(labels / f"case{i:02d}_lab.nii.gz"))
    text = open(config, encoding="utf-8").read().replace(
        "[diagnosis]\ncsv_data_file = data/diagnosis.csv", "[diagnosis]\npath_to_search = labels\nfilename_contains = lab")
    open(config, "w", encoding="utf-8").write(text.replace("max_iter = 40", "max_iter = 2"))
    assert run("train", "-c", config) == 0
    assert (tmp_path / "model" / "class_names.json").read_text(encoding="utf-8").count('"0"') == 1
    nib.save(nib.Nifti1Image(np.array([[[0, 1]]], np.uint8), np.eye(4)), str(labels / "case00_lab.nii.gz"))
    assert run("train", "-c", config) == 2  # two values in one label image: one line naming it


def test_validation_logs_the_confusion_matrix_to_tensorboard(tmp_path):
    """The issue asked for the confusion matrix in TensorBoard; rows are true classes, columns
    predicted, each row divided by its count."""
    import tensorflow as tf

    config = _project(tmp_path)
    split = "\n".join(f"case{i:02d},{'validation' if i >= 12 else 'training'}" for i in range(16))
    (tmp_path / "split.csv").write_text(split + "\n", encoding="utf-8")
    assert run("train", "-c", config, "--max_iter", "40", "--validation_every_n", "20") == 0
    events = list((tmp_path / "model" / "logs" / "validation").glob("events.*"))
    images = [value for event in events for record in tf.compat.v1.train.summary_iterator(str(event))
              for value in record.summary.value if value.tag == "confusion_matrix"]
    assert len(images) == 2  # one per validation round
    png = tf.io.decode_png(tf.make_ndarray(images[-1].tensor)[2]).numpy()[..., 0]
    assert png.shape == (32, 32)  # 2 classes, 16 pixels per cell
    cells = png[::16, ::16].astype(float) / 255.0
    np.testing.assert_allclose(cells.sum(axis=1), 1.0, atol=0.01)  # each true-class row sums to one
    assert cells[0, 0] > 0.9 and cells[1, 1] > 0.9  # separable classes: the diagonal


def test_confusion_counts_accumulate_over_a_round_and_reset():
    from voxflow.applications.classification import ClassificationApplication

    app = ClassificationApplication.__new__(ClassificationApplication)
    app.num_classes = 3
    logits = np.eye(3)[[0, 1, 1, 2]]
    app.validation_metrics({"label": np.array([0, 1, 2, 2])}, logits)
    app.validation_metrics({"label": np.array([0])}, np.eye(3)[[2]])
    image = np.rot90(app.validation_images()["confusion_matrix"])  # as TensorBoard shows it
    np.testing.assert_allclose(image[::16, ::16], [[0.5, 0, 0.5], [0, 1, 0], [0, 0.5, 0.5]])
    assert app.validation_images() == {}  # reset for the next round


def test_a_packed_classifier_carries_its_class_names_and_its_own_command(tmp_path):
    """net_zoo pack carried only the label map: an installed classifier lost its class names, and its
    README said `net_segment inference`."""
    import tarfile

    from voxflow.zoo.pack import pack

    config = _project(tmp_path)
    assert run("train", "-c", config, "--max_iter", "2") == 0
    result = pack(config, "toy_classifier", tmp_path / "zoo", checkpoint="latest")
    with tarfile.open(result.folder / "weights.tar.gz") as archive:
        assert "class_names.json" in archive.getnames()
    readme = (result.folder / "README.md").read_text(encoding="utf-8")
    assert "net_classify inference -c" in readme and "net_segment" not in readme
    from voxflow.cli.zoo import _command_for

    assert _command_for(result.folder / "config.ini") == "net_classify"  # what net_download tells to run

"""Features of the segmentation workflow through the CLI: samplers, outputs, plugins, resume,
Ctrl-C, TensorBoard, YAML configs, multi-modal input and label normalisation."""

import csv
import os
import sys
import textwrap

import nibabel as nib
import numpy as np
import pytest
from cli_data import write_config

from voxflow.cli.main import main


def run(*argv, prog="net_segment", application="segmentation"):
    return main(list(argv), prog=prog, application=application)


def quick(config, *extra):
    return run("train", "-c", config, "--max_iter", "2", "--validation_every_n", "-1", *extra)


@pytest.mark.parametrize("sampling", ["balanced", "weighted", "resize"])
def test_every_training_sampler_through_the_cli(tmp_path, tiny_dataset, sampling):
    extra = ""
    if sampling == "weighted":
        for path in tiny_dataset.glob("*_seg.nii.gz"):
            label = nib.load(str(path))
            weight = (np.asarray(label.dataobj) > 0).astype(np.float32) + 0.1
            nib.save(nib.Nifti1Image(weight, label.affine), str(path).replace("_seg", "_map"))
        extra = "\n[map]\npath_to_search = data\nfilename_contains = map\nspatial_window_size = 16,16,8\n"
    config = write_config(tmp_path, extra=extra)
    if sampling == "weighted":
        text = open(config, encoding="utf-8").read().replace("label = label\n", "label = label\nsampler = map\n")
        open(config, "w", encoding="utf-8").write(text)
    assert quick(config, "--window_sampling", sampling) == 0
    assert run("inference", "-c", config) == 0
    source = nib.load(str(tiny_dataset / "sub01_T1.nii.gz"))
    output = nib.load(str(tmp_path / "model" / "output" / "sub01_out.nii.gz"))
    assert output.shape == source.shape


def test_output_prob_writes_probabilities(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    assert quick(config) == 0
    assert run("inference", "-c", config, "--output_prob", "true") == 0
    output = nib.load(str(tmp_path / "model" / "output" / "sub02_out.nii.gz"))
    data = np.asarray(output.dataobj)
    assert data.shape == (21, 18, 13, 3)
    np.testing.assert_allclose(data.sum(axis=-1), 1.0, atol=1e-4)


def test_label_normalisation_restores_original_values(tmp_path, tiny_dataset):
    for path in tiny_dataset.glob("*_seg.nii.gz"):
        label = nib.load(str(path))
        values = np.asarray(label.dataobj).astype(np.int16)
        nib.save(nib.Nifti1Image(np.select([values == 1, values == 2], [10, 64], 0).astype(np.int16), label.affine),
                 str(path))
    config = write_config(tmp_path)
    assert quick(config, "--label_normalisation", "yes") == 0
    assert (tmp_path / "model" / "label_map.json").is_file()
    assert run("inference", "-c", config, "--max_iter", "2") == 0
    output = np.asarray(nib.load(str(tmp_path / "model" / "output" / "sub00_out.nii.gz")).dataobj)
    assert set(np.unique(output)) <= {0, 10, 64}
    assert run("evaluation", "-c", config) == 0
    with open(tmp_path / "model" / "evaluation" / "evaluation.csv", encoding="utf-8") as handle:
        assert {row["LABEL"] for row in csv.DictReader(handle)} == {"10", "64"}


def test_two_modalities_become_channels(tmp_path, tiny_dataset):
    for path in tiny_dataset.glob("*_T1.nii.gz"):
        image = nib.load(str(path))
        nib.save(nib.Nifti1Image(-np.asarray(image.dataobj), image.affine), str(path).replace("_T1", "_T2"))
    extra = "\n[T2]\npath_to_search = data\nfilename_contains = T2\nspatial_window_size = 16,16,8\n"
    config = write_config(tmp_path, extra=extra)
    text = open(config, encoding="utf-8").read().replace("image = T1\n", "image = T1,T2\n")
    open(config, "w", encoding="utf-8").write(text)
    assert quick(config) == 0
    assert run("inference", "-c", config) == 0


def test_net_run_with_alias_and_import_path(tmp_path, tiny_dataset):
    config = write_config(tmp_path)
    assert run("train", "-c", config, "-a", "segmentation", "--max_iter", "2", prog="net_run", application=None) == 0
    path = "voxflow.applications.segmentation.SegmentationApplication"
    assert run("inference", "-c", config, "-a", path, prog="net_run", application=None) == 0


PLUGIN = textwrap.dedent('''\
    import keras
    import tensorflow as tf


    class TinyNet(keras.Model):
        window_divisor = 1

        def __init__(self, num_classes, spatial_dims=3, width=4, **unused):
            super().__init__()
            conv = keras.layers.Conv3D if spatial_dims == 3 else keras.layers.Conv2D
            self.hidden = conv(width, 3, padding="same", activation="relu")
            self.out = conv(num_classes, 1)

        def call(self, x, training=None):
            return self.out(self.hidden(x))


    def my_loss(labels, logits, weight=None):
        labels = tf.cast(tf.reshape(labels, tf.shape(logits)[:-1]), tf.int32)
        loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
        if loss > 100.0:  # Python control flow on a tensor: the compiled step keeps AutoGraph for plugins
            loss = loss / 100.0
        return loss
    ''')


def test_plugin_network_and_loss_next_to_the_config(tmp_path, tiny_dataset, monkeypatch):
    monkeypatch.delitem(sys.modules, "my_plugins", raising=False)  # another test's my_plugins
    (tmp_path / "my_plugins.py").write_text(PLUGIN, encoding="utf-8")
    config = write_config(tmp_path, network="my_plugins.TinyNet")
    assert quick(config, "--loss_type", "my_plugins.my_loss", "--network_args", "width=3") == 0
    assert run("inference", "-c", config) == 0


def test_missing_plugin_is_one_line(tmp_path, tiny_dataset, capsys):
    config = write_config(tmp_path, network="my_plugins.Missing")
    (tmp_path / "my_plugins.py").write_text(PLUGIN, encoding="utf-8")
    assert quick(config) == 2
    err = capsys.readouterr().err
    assert "Missing" in err and "my_plugins" in err and "Traceback" not in err


def test_ctrl_c_saves_the_current_iteration(tmp_path, tiny_dataset, monkeypatch):
    from voxflow.engine import summaries

    def interrupt(self, phase, step, values):
        if step == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(summaries.SummaryLogger, "scalars", interrupt)
    config = write_config(tmp_path)
    assert run("train", "-c", config, "--max_iter", "10", "--save_every_n", "0") == 130
    assert os.listdir(tmp_path / "model" / "models") == ["ckpt-2"]


def test_tensorboard_and_best_checkpoint(tmp_path, tiny_dataset):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = write_config(tmp_path)
    assert run("train", "-c", config) == 0
    train = EventAccumulator(str(tmp_path / "model" / "logs" / "train"))
    train.Reload()
    assert [event.step for event in train.Tensors("loss")] == [2, 4]
    assert "image" in train.Tags()["tensors"] or train.Tags()["images"]
    validation = EventAccumulator(str(tmp_path / "model" / "logs" / "validation"))
    validation.Reload()
    assert {"loss", "dice_class_1", "dice_class_2"} <= set(validation.Tags()["tensors"])
    assert (tmp_path / "model" / "models" / "best.json").is_file()
    assert run("inference", "-c", config, "--inference_iter", "best") == 0


def test_saved_settings_and_yaml_config_work(tmp_path, tiny_dataset):
    import yaml

    config = write_config(tmp_path)
    assert quick(config) == 0
    settings = tmp_path / "model" / "settings_train.ini"
    assert run("inference", "-c", str(settings)) == 0
    from voxflow.config import load_config

    resolved = load_config(str(settings), action="inference").to_dict()
    yaml_path = tmp_path / "config.yaml"
    yaml_path.write_text(yaml.safe_dump({k: {kk: (list(vv) if isinstance(vv, tuple) else vv)
                                             for kk, vv in v.items()} for k, v in resolved.items()}),
                         encoding="utf-8")
    assert run("inference", "-c", str(yaml_path), "--save_seg_dir", str(tmp_path / "yaml_out")) == 0
    assert (tmp_path / "yaml_out" / "sub00_out.nii.gz").is_file()


def test_vars_to_freeze_changes_only_what_it_names(tmp_path, tiny_dataset):
    import tensorflow as tf

    config = write_config(tmp_path)
    assert quick(config) == 0
    models = tmp_path / "model" / "models"
    before = tf.train.load_checkpoint(str(models / "ckpt-2" / "ckpt"))
    # toynet: a hidden conv block, then the classifier head; freeze the hidden conv only.
    assert run("train", "-c", config, "--starting_iter", "-1", "--max_iter", "4", "--validation_every_n", "-1",
               "--vars_to_freeze", "^toynet/conv/") == 0
    after = tf.train.load_checkpoint(str(models / "ckpt-4" / "ckpt"))
    import json

    paths = [p for p, _ in json.loads((models / "ckpt-4" / "meta.json").read_text(encoding="utf-8"))["model_variables"]]
    import re

    pattern = re.compile("^toynet/conv/")
    changed = {p: not np.array_equal(before.get_tensor(f"model/v{i:05d}/.ATTRIBUTES/VARIABLE_VALUE"),
                                     after.get_tensor(f"model/v{i:05d}/.ATTRIBUTES/VARIABLE_VALUE"))
               for i, p in enumerate(paths)}
    frozen = [p for p in paths if pattern.search(p)]
    assert frozen and not any(changed[p] for p in frozen)
    assert any(changed[p] for p in paths if p not in frozen)


def test_inference_config_may_reorient_inputs_that_training_never_needed_to(tmp_path):
    """Trained on RAS data without `axcodes`; an LPS input inferred with `axcodes = R,A,S` gives the
    flipped RAS result (the saved training settings must not erase the inference-time axcodes)."""
    from cli_data import make_subject

    data = tmp_path / "data"
    data.mkdir()
    ras = np.diag([1.5, 1.5, 2.0, 1.0])
    for i in range(4):
        make_subject(str(data), f"sub{i:02d}", seed=i, affine=ras)
    config = write_config(tmp_path)
    assert quick(config) == 0
    flipped = tmp_path / "flipped"
    flipped.mkdir()
    source = nib.load(str(data / "sub00_T1.nii.gz"))
    image = np.asarray(source.dataobj)
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[0, 3], flip[1, 3] = image.shape[0] - 1, image.shape[1] - 1
    nib.save(nib.Nifti1Image(image[::-1, ::-1].copy(), source.affine @ flip), str(flipped / "sub00_T1.nii.gz"))
    assert run("inference", "-c", config, "--save_seg_dir", str(tmp_path / "a"), "--dataset_to_infer", "all") == 0
    assert run("inference", "-c", config, "--path_to_search", str(flipped), "--save_seg_dir", str(tmp_path / "b"),
               "--dataset_to_infer", "all", "--axcodes", "R,A,S") == 0
    a = np.asarray(nib.load(str(tmp_path / "a" / "sub00_out.nii.gz")).dataobj)
    b = np.asarray(nib.load(str(tmp_path / "b" / "sub00_out.nii.gz")).dataobj)
    np.testing.assert_array_equal(b, a[::-1, ::-1])


def test_volumes_over_cache_size_mb_are_streamed_and_training_validates(tmp_path, tiny_dataset, monkeypatch):
    from voxflow.data.samplers import streaming

    loaded = []
    original = streaming.VolumeCache._fetch

    def counting_fetch(self, key):
        loaded.append(key)
        return original(self, key)

    monkeypatch.setattr(streaming.VolumeCache, "_fetch", counting_fetch)
    config = write_config(tmp_path)  # 5 subjects of ~40 KiB each after preprocessing, 1 for validation
    assert run("train", "-c", config, "--cache_size_mb", "0.05") == 0
    assert len(set(loaded)) == 5  # every training and validation volume went through the cache
    assert len(loaded) > 5  # the budget (~2 volumes) forced reloading
    assert (tmp_path / "model" / "models" / "best.json").is_file()  # validation ran on streamed volumes
    assert run("inference", "-c", config) == 0


def test_volumes_within_cache_size_mb_stay_in_memory_each_loaded_once(tmp_path, tiny_dataset, monkeypatch):
    from voxflow.data.preprocessing import Preprocessor

    loaded = []
    original = Preprocessor.load

    def counting_load(self, subject):
        loaded.append(subject.id)
        return original(self, subject)

    monkeypatch.setattr(Preprocessor, "load", counting_load)
    config = write_config(tmp_path)
    assert run("train", "-c", config, "--cache_size_mb", "100", "--max_iter", "2", "--validation_every_n", "-1") == 0
    assert sorted(loaded) == sorted(set(loaded)) and len(loaded) == 5  # the estimate's volume is reused


def test_evaluation_reads_the_inferred_sections_when_given(tmp_path, tiny_dataset):
    """[SEGMENTATION] inferred names the segmentations to evaluate (it was accepted and ignored)."""
    extra = "\n[pred]\npath_to_search = data\nfilename_contains = seg\nspatial_window_size = 16,16,8\n"
    config = write_config(tmp_path, extra=extra)
    text = open(config, encoding="utf-8").read().replace("label = label\n", "label = label\ninferred = pred\n")
    open(config, "w", encoding="utf-8").write(text)
    assert quick(config) == 0
    assert run("evaluation", "-c", config, "--evaluations", "dice") == 0  # no inference ran
    with open(tmp_path / "model" / "evaluation" / "evaluation.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10 and all(float(row["dice"]) == 1.0 for row in rows)  # the labels against themselves

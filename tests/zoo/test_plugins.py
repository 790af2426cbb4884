"""Plugins by dotted path from the config's own folder: network, loss, application; the shipped example."""

import json
import shutil
import sys
import textwrap
from pathlib import Path

from zoo_data import make_tiny_data, write_config

from voxflow.cli.main import main
from voxflow.zoo import install
from voxflow.zoo.pack import pack

REPO = Path(__file__).resolve().parents[2]

PLUGIN_MODULE = textwrap.dedent('''\
    """A throw-away plugin module written by the test."""
    import tensorflow as tf
    from voxflow.applications.segmentation import SegmentationApplication
    from voxflow.layers import ConvBlock
    from voxflow.networks.base import SegmentationNet

    CALLS = {"loss": 0}


    class TinyPluginNet(SegmentationNet):
        window_divisor = 1

        def __init__(self, num_classes, spatial_dims=3, *, width=4, **kwargs):
            super().__init__(num_classes, spatial_dims, **kwargs)
            self.width = int(width)
            self.body = ConvBlock(self.width, kernel_size=3, norm="none", name="plugin_body",
                                  **self.block_kwargs())
            self.head = self.classifier()

        def forward(self, inputs, training=None):
            return self.head(self.body(inputs, training=training), training=training)


    def counting_loss(labels, logits, weight=None):
        CALLS["loss"] += 1
        labels = tf.cast(tf.reshape(labels, tf.shape(logits)[:-1]), tf.int32)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))


    class MarkedApplication(SegmentationApplication):
        SECTION = "SEGMENTATION"

        @classmethod
        def report(cls, action, result):
            return "MARKED " + super().report(action, result)
    ''')


def test_plugin_network_loss_and_application_from_config_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.delitem(sys.modules, "zoo_test_plugin", raising=False)
    make_tiny_data(tmp_path / "data", count=3)
    (tmp_path / "zoo_test_plugin.py").write_text(PLUGIN_MODULE, encoding="utf-8")
    config = write_config(tmp_path, network="zoo_test_plugin.TinyPluginNet")
    text = Path(config).read_text(encoding="utf-8").replace("loss_type = DicePlusXEnt", "loss_type = zoo_test_plugin.counting_loss")
    text = text.replace("whitening = True", "whitening = True\nnetwork_args = width=5")
    Path(config).write_text(text, encoding="utf-8")
    sys_path_before = list(sys.path)
    status = main(["train", "-c", config, "--max_iter", "2", "-a", "zoo_test_plugin.MarkedApplication"],
                  prog="net_run", application=None)
    assert status == 0
    assert "MARKED" in capsys.readouterr().out
    assert sys.path == sys_path_before  # the config folder was not left on sys.path
    assert sys.modules["zoo_test_plugin"].CALLS["loss"] >= 1
    meta = json.loads((tmp_path / "model" / "models" / "ckpt-2" / "meta.json").read_text(encoding="utf-8"))
    kernels = [shape for path, shape in meta["model_variables"] if "plugin_body" in path and "kernel" in path]
    assert kernels and kernels[0][-1] == 5  # the custom network, built with its network_args

    # Packed, the entry ships the module; installed, it is imported from the entry's folder only
    # when the entry's config is run, and the models folder is never put on sys.path.
    result = pack(config, "plugin_entry", tmp_path / "zoo", checkpoint="latest")
    assert "zoo_test_plugin.py" in result.entry.files and result.entry.code == ["zoo_test_plugin.py"]
    models = tmp_path / "home" / "models"
    installed = install("plugin_entry", str(tmp_path / "zoo"), models=models, progress=False)
    (tmp_path / "zoo_test_plugin.py").unlink()
    del sys.modules["zoo_test_plugin"]
    assert "zoo_test_plugin" not in sys.modules
    argv = ["inference", "-c", str(installed.config), "--path_to_search", str(tmp_path / "data"),
            "--save_seg_dir", str(tmp_path / "seg")]
    assert main(argv, prog="net_segment", application="segmentation") == 2  # downloaded code: no consent given
    assert "--trust-downloaded-code" in capsys.readouterr().err
    assert "zoo_test_plugin" not in sys.modules
    status = main([*argv, "--trust-downloaded-code"], prog="net_segment", application="segmentation")
    assert status == 0 and (tmp_path / "seg" / "sub00_out.nii.gz").is_file()
    assert Path(sys.modules["zoo_test_plugin"].__file__).parent == installed.path
    assert sys.path == sys_path_before


def test_shipped_plugin_example_trains_two_iterations(tmp_path, capsys, monkeypatch):
    """configs/plugin_example (network, loss, optimiser and application plugins) on tiny data."""
    monkeypatch.delitem(sys.modules, "my_plugins", raising=False)  # another test's my_plugins
    example = tmp_path / "plugin_example"
    shutil.copytree(REPO / "configs" / "plugin_example", example, ignore=shutil.ignore_patterns("__pycache__"))
    data = make_tiny_data(tmp_path / "data", count=3)
    argv = ["train", "-c", str(example / "config.ini"), "-a", "my_plugins.ReportingSegmentation",
            "--max_iter", "2", "--path_to_search", str(data), "--label.filename_contains", "seg",
            "--spatial_window_size", "16,16,8", "--num_classes", "3", "--model_dir", str(tmp_path / "model"),
            "--dataset_split_file", str(tmp_path / "split.csv"), "--exclude_fraction_for_validation", "0.34"]
    assert main(argv, prog="net_run", application=None) == 0
    assert "[ReportingSegmentation] train finished" in capsys.readouterr().out
    meta = json.loads((tmp_path / "model" / "models" / "ckpt-2" / "meta.json").read_text(encoding="utf-8"))
    assert any("context" in path for path, _ in meta["model_variables"])
    settings = (tmp_path / "model" / "settings_train.ini").read_text(encoding="utf-8")
    assert "my_plugins.focal_dice_loss" in settings and "my_plugins.adamw" in settings


def test_example_sampler_resolves_and_cuts_centred_windows(monkeypatch):
    monkeypatch.delitem(sys.modules, "my_plugins", raising=False)
    import numpy as np

    from voxflow import registry

    sampler_class = registry.resolve("sampler", "my_plugins.CentredSampler",
                                     search_dirs=(str(REPO / "configs" / "plugin_example"),))
    volume = {"image": np.random.default_rng(0).normal(size=(30, 30, 30, 1)).astype(np.float32)}
    sampler = sampler_class([volume], window_shape=(10, 10, 10), windows_per_volume=3, seed=0)
    for element in sampler.dataset().take(6):
        start = element["location"].numpy()[1:]
        assert element["image"].shape == (10, 10, 10, 1)
        assert np.all(np.abs(start - 10) <= sampler_class.JITTER)


def test_a_plugin_sampler_is_named_in_the_config(tmp_path, monkeypatch):
    """`window_sampling = my_plugins.CentredSampler` in a config trains (the schema refused the path)."""
    monkeypatch.delitem(sys.modules, "my_plugins", raising=False)
    example = tmp_path / "plugin_example"
    shutil.copytree(REPO / "configs" / "plugin_example", example, ignore=shutil.ignore_patterns("__pycache__"))
    data = make_tiny_data(tmp_path / "data", count=3)
    argv = ["train", "-c", str(example / "config.ini"), "--max_iter", "1", "--path_to_search", str(data),
            "--label.filename_contains", "seg", "--spatial_window_size", "16,16,8", "--num_classes", "3",
            "--model_dir", str(tmp_path / "model"), "--dataset_split_file", str(tmp_path / "split.csv"),
            "--window_sampling", "my_plugins.CentredSampler", "--validation_every_n", "-1"]
    assert main(argv, prog="net_segment", application="segmentation") == 0
    settings = (tmp_path / "model" / "settings_train.ini").read_text(encoding="utf-8")
    assert "window_sampling = my_plugins.CentredSampler" in settings

"""Seeds, tf.function, tf.distribute and the config/registry plumbing."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from augment_data import sphere_batch

from voxflow import registry
from voxflow.augment import catalogue
from voxflow.augment.pipeline import Augmentation
from voxflow.config import config_from_dict
from voxflow.errors import ConfigError

EVERYTHING = [(name, {}) for name in catalogue.names()]


def test_same_seeds_give_bit_identical_output(batch):
    first = Augmentation(EVERYTHING)(batch)
    second = Augmentation(EVERYTHING)(batch)
    for key in ("image", "label"):
        assert np.array_equal(np.asarray(first[key]), np.asarray(second[key]))
    other = Augmentation(EVERYTHING)(dict(batch, seed=batch["seed"] + 1))
    assert not np.array_equal(np.asarray(first["image"]), np.asarray(other["image"]))


def test_layer_seed_without_batch_seeds(batch):
    plain = {k: v for k, v in batch.items() if k != "seed"}
    a = Augmentation(EVERYTHING, seed=5)(plain)
    b = Augmentation(EVERYTHING, seed=5)(plain)
    assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))


def test_pipeline_runs_in_tf_function_like_eager():
    batch = sphere_batch(size=16)
    aug = Augmentation(EVERYTHING)
    compiled = tf.function(lambda b: aug(b))
    eager = aug(batch)
    graph = compiled({k: tf.constant(v) for k, v in batch.items()})
    difference = np.abs(np.asarray(eager["image"]) - np.asarray(graph["image"])).max()
    assert difference <= 1e-5 * np.abs(np.asarray(eager["image"])).max()  # float re-association only
    assert np.array_equal(np.asarray(eager["label"]), np.asarray(graph["label"]))


def test_pipeline_keeps_static_shapes_across_window_shapes():
    """The compiled helpers relax their shapes when they meet a second window shape or channel
    count; every layer must still hand the next one static sizes (the bias field, motion, spike
    and swap need them), with 2-channel images next to 1-channel labels and an unknown batch size."""
    aug = Augmentation(EVERYTHING)
    compiled = tf.function(lambda b: aug(b))
    for size, channels in (((12, 12, 12), 1), ((14, 13, 12), 2), ((10, 11, 1), 1)):  # the last a 2-D window
        image = np.random.default_rng(sum(size)).random((2, *size, channels)).astype(np.float32)
        batch = {"image": image, "label": (image[..., :1] > 0.5).astype(np.float32),
                 "seed": np.array([[7, 0], [7, 1]], np.int64)}
        out = compiled({k: tf.constant(v) for k, v in batch.items()})
        assert out["image"].shape == (2, *size, channels) and out["label"].shape == (2, *size, 1)
        assert np.all(np.isfinite(np.asarray(out["image"])))
        assert set(np.unique(np.asarray(out["label"]))) <= {0.0, 1.0}
    unknown_batch = tf.function(lambda b: aug(b), input_signature=[{
        "image": tf.TensorSpec((None, 12, 11, 10, 2)), "label": tf.TensorSpec((None, 12, 11, 10, 1)),
        "seed": tf.TensorSpec((None, 2), tf.int64)}])
    image = np.random.default_rng(1).random((3, 12, 11, 10, 2)).astype(np.float32)
    out = unknown_batch({"image": image, "label": (image[..., :1] > 0.5).astype(np.float32),
                         "seed": np.array([[7, 0], [7, 1], [7, 2]], np.int64)})
    assert out["image"].shape == (3, 12, 11, 10, 2)


def test_registry_resolves_both_spellings():
    assert registry.resolve("augmentation", "RandomMotion") is registry.resolve("augmentation", "random_motion")


def test_config_validates_augmentation_section(tmp_path):
    base = {"SEGMENTATION": {"image": "T1", "label": "T1", "num_classes": "2"}, "T1": {"path_to_search": "."},
            "NETWORK": {"name": "toynet"}}
    config_from_dict({**base, "AUGMENTATION": {"RandomMotion": "degrees=10, p=0.25", "random_flip": ""}}, tmp_path)
    with pytest.raises(ConfigError, match="Did you mean `random_motion`"):
        config_from_dict({**base, "AUGMENTATION": {"random_motoin": "p=1"}}, tmp_path)
    with pytest.raises(ConfigError, match="has no argument 'degres'"):
        config_from_dict({**base, "AUGMENTATION": {"random_motion": "degres=1"}}, tmp_path)
    cfg = config_from_dict({**base, "TRAINING": {"rotation_angle": "-10, 10", "random_flipping_axes": "0,1"}},
                           tmp_path)
    assert cfg.training.rotation_angle == (-10.0, 10.0)


def test_mirrored_strategy_on_two_cpus(tmp_path):
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from voxflow.augment import catalogue
        from voxflow.augment.pipeline import Augmentation
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        aug = Augmentation([(name, {}) for name in catalogue.names()])
        rng = np.random.default_rng(0)
        data = {"image": rng.random((4, 12, 12, 12, 1), np.float32),
                "label": rng.integers(0, 3, (4, 12, 12, 12, 1)).astype(np.float32),
                "seed": np.stack([np.zeros(4), np.arange(4)], 1).astype(np.int64)}
        dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(data).unbatch().batch(4))
        step = tf.function(lambda b: strategy.run(lambda x: tf.reduce_sum(aug(x)["image"]), args=(b,)))
        result = step(next(iter(dataset)))
        parts = strategy.experimental_local_results(result)
        single = aug(data)["image"].numpy()
        assert len(parts) == 2
        assert np.isclose(sum(float(p) for p in parts), single.sum(), rtol=1e-4), (parts, single.sum())
        print("ok")
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]

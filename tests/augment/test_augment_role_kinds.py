"""Augmentation acts on each map's kind, never its name: maps called anything are moved right."""

import numpy as np
import pytest
import tensorflow as tf

from voxflow.augment.pipeline import Augmentation, build_layer
from voxflow.roles import Kind

MAPS = {"moving": Kind.INTENSITY, "target": Kind.LABEL, "prior": Kind.WEIGHT}
SEEDS = np.array([[3, 0], [3, 1]], np.int64)


def _batch():
    grid = np.stack(np.meshgrid(*[np.arange(16)] * 3, indexing="ij"), -1).astype(np.float32)
    radius = np.linalg.norm(grid - 7.5, axis=-1)
    label = (radius < 5).astype(np.float32) + (radius < 3)
    image = 10.0 + 5.0 * label + grid[..., 0] * 0.1
    stack = lambda a: tf.constant(np.stack([a, a])[..., None])  # noqa: E731
    return {"moving": stack(image), "target": stack(label), "prior": stack(label * 0.5 + 0.1), "seed": SEEDS}


def test_spatial_layers_move_every_map_by_its_kind():
    batch = _batch()
    out = build_layer("RandomAffine", {"degrees": 20, "scales": 0.0, "p": 1.0}, maps=MAPS)(batch)
    for key in MAPS:
        assert not np.array_equal(out[key].numpy(), batch[key].numpy()), key  # every map moved
    assert set(np.unique(out["target"].numpy())) <= {0.0, 1.0, 2.0}  # labels: nearest neighbour
    prior = np.unique(out["prior"].numpy())
    assert len(set(np.round(prior, 4)) - {0.1, 0.6, 1.1}) > 0  # weights: linear, in-between values


def test_intensity_layers_change_only_the_intensity_keys():
    batch = _batch()
    gamma = {"log_gamma": (0.4, 0.5), "p": 1.0}
    out = build_layer("RandomGamma", gamma, maps=MAPS)(batch)
    assert not np.array_equal(out["moving"].numpy(), batch["moving"].numpy())
    for key in ("target", "prior"):
        np.testing.assert_array_equal(out[key].numpy(), batch[key].numpy())
    kept = build_layer("RandomGamma", gamma, maps=MAPS, intensity_keys=())(batch)  # e.g. a regression target
    np.testing.assert_array_equal(kept["moving"].numpy(), batch["moving"].numpy())


def test_the_pipeline_crops_every_declared_map():
    batch = _batch()
    pipeline = Augmentation([("RandomFlip", {"axes": (0,)})], seed=1, maps=MAPS)
    out = pipeline(batch, margin=(2, 2, 2))
    assert all(out[key].shape == (2, 12, 12, 12, 1) for key in MAPS)


def test_a_map_of_no_known_kind_is_refused():
    from voxflow.errors import ConfigError

    with pytest.raises(ConfigError, match="RandomFlip.*not a valid Kind"):
        build_layer("RandomFlip", {}, maps={"moving": Kind.INTENSITY, "other": "vector"})


def test_a_displacement_field_is_refused_by_spatial_layers_and_untouched_by_intensity_ones():
    maps = {"moving": Kind.INTENSITY, "flow": Kind.FIELD, "age": Kind.VALUE}
    with pytest.raises(ValueError, match="spatial augmentation \\(RandomFlip\\) cannot transform the displacement "
                                         "field\\(s\\) \\['flow'\\]"):
        Augmentation([("RandomFlip", {}), ("RandomGamma", {})], seed=1, maps=maps)
    augmentation = Augmentation([("RandomGamma", {"p": 1.0})], seed=1, maps=maps)
    assert set(augmentation.maps) == {"moving", "flow"}  # a per-subject value is not a map
    batch = _batch()
    batch = {"moving": batch["moving"], "flow": tf.concat([batch["moving"]] * 3, -1), "seed": SEEDS,
             "age": tf.constant([[60.0], [70.0]])}
    out = augmentation(batch)
    assert not np.array_equal(out["moving"].numpy(), batch["moving"].numpy())
    np.testing.assert_array_equal(out["flow"].numpy(), batch["flow"].numpy())
    np.testing.assert_array_equal(out["age"].numpy(), batch["age"].numpy())

"""Checkpoints: every variable round-trips (including ones kept in Python lists), saves are atomic,
pruning keeps the newest and the best, and selectors resolve or fail with one clear line."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from voxflow.engine.checkpoints import CheckpointStore
from voxflow.errors import CheckpointError


class ListNet(keras.Model):
    """Keeps its blocks in a Python list: the layout that tf.train.Checkpoint(model=...) loses."""

    def __init__(self):
        super().__init__()
        self.blocks = [keras.layers.Conv3D(4, 3, padding="same") for _ in range(2)]
        self.norms = [keras.layers.BatchNormalization() for _ in range(2)]
        self.head = keras.layers.Conv3D(2, 1)

    def call(self, x, training=None):
        for conv, norm in zip(self.blocks, self.norms):
            x = tf.nn.relu(norm(conv(x), training=training))
        return self.head(x)


def _trained_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = ListNet()
    x = np.random.default_rng(seed).normal(size=(2, 8, 8, 8, 1)).astype(np.float32)
    model(x)
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return model, optimizer, x


def test_every_variable_round_trips(tmp_path):
    model, optimizer, x = _trained_model(0)
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(3, model, optimizer)
    fresh, fresh_opt, _ = _trained_model(1)  # different values everywhere
    assert not np.allclose(fresh.variables[0].numpy(), model.variables[0].numpy())
    assert store.restore("latest", fresh, fresh_opt) == 3
    for saved, restored in zip(model.variables, fresh.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    for saved, restored in zip(optimizer.variables, fresh_opt.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    # BatchNorm moving statistics moved away from their initial values and came back.
    moving = [v for v in fresh.variables if "moving_mean" in v.path]
    assert moving and all(np.abs(v.numpy()).sum() > 0 for v in moving)
    np.testing.assert_array_equal(model(x, training=False).numpy(), fresh(x, training=False).numpy())


def test_prune_keeps_newest_and_best(tmp_path):
    model, optimizer, _ = _trained_model()
    store = CheckpointStore(str(tmp_path / "models"), max_to_keep=2)
    store.save(1, model, optimizer)
    store.mark_best(1, "validation_loss", 0.1)
    for iteration in (2, 3, 4):
        store.save(iteration, model, optimizer)
    assert store.iterations() == [1, 3, 4]
    assert store.best() == 1
    assert store.select("best") == 1 and store.select(-1) == 4


def test_interrupted_save_leaves_nothing(tmp_path, monkeypatch):
    model, optimizer, _ = _trained_model()
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(1, model, optimizer)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tf.train.Checkpoint, "write", boom)
    with pytest.raises(KeyboardInterrupt):
        store.save(2, model, optimizer)
    assert store.iterations() == [1]
    assert sorted(os.listdir(store.folder)) == ["ckpt-1"]


def test_selectors_fail_clearly(tmp_path):
    store = CheckpointStore(str(tmp_path / "models"))
    with pytest.raises(CheckpointError, match="No checkpoint found"):
        store.select(-1)
    model, optimizer, _ = _trained_model()
    store.save(5, model, optimizer)
    with pytest.raises(CheckpointError, match="iteration 7.*Available: 5"):
        store.select(7)
    with pytest.raises(CheckpointError, match="best-validation"):
        store.select("best")


def test_mismatched_network_is_refused(tmp_path):
    model, optimizer, _ = _trained_model()
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(1, model, optimizer)
    other = keras.Sequential([keras.layers.Conv3D(3, 3)])
    other(np.zeros((1, 8, 8, 8, 1), np.float32))
    with pytest.raises(CheckpointError, match="do not match the network"):
        store.restore(1, other)


class NamedNet(keras.Model):
    """Fixed layer names, as voxflow's networks have, so variable paths match across instances."""

    def __init__(self, classes=2, head_name="head"):
        super().__init__(name="named_net")
        self.body = keras.layers.Conv3D(4, 3, padding="same", name="body")
        self.norm = keras.layers.BatchNormalization(name="norm")
        self.head = keras.layers.Conv3D(classes, 1, name=head_name)

    def call(self, x, training=None):
        return self.head(tf.nn.relu(self.norm(self.body(x), training=training)))


def _named(seed, **kwargs):
    keras.utils.set_random_seed(seed)
    model = NamedNet(**kwargs)
    model(np.zeros((1, 8, 8, 8, 1), np.float32))
    return model


def test_vars_to_restore_restores_only_matching_by_name(tmp_path):
    model = _named(0)
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(1, model)
    fresh = _named(1, classes=5)  # a new head: fine-tuning for another number of classes
    before = {v.path: v.numpy().copy() for v in fresh.variables}
    store.restore(1, fresh, include="body|norm")
    saved = {v.path: v.numpy() for v in model.variables}
    for variable in fresh.variables:
        expected = saved[variable.path] if ("body" in variable.path or "norm" in variable.path) else before[variable.path]
        np.testing.assert_array_equal(variable.numpy(), expected)


def test_restore_with_renamed_layers(tmp_path):
    model = _named(0, head_name="classifier")
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(1, model)
    fresh = _named(1, head_name="head")
    store.restore(1, fresh, rename={"named_net/classifier/": "named_net/head/"})
    for saved, restored in zip(model.variables, fresh.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())


def test_partial_restore_refuses_a_shape_mismatch(tmp_path):
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(1, _named(0))
    with pytest.raises(CheckpointError, match="named_net/head/kernel.*exclude it"):
        store.restore(1, _named(1, classes=5), include="head")


def test_non_finite_weights_are_never_written_or_restored(tmp_path):
    model, optimizer, _ = _trained_model(0)
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(1, model, optimizer)
    model.variables[2].assign(np.full(model.variables[2].shape, np.nan, np.float32))
    with pytest.raises(CheckpointError, match="iteration 2.*1 of .* NaN or Inf"):
        store.save(2, model, optimizer)
    assert store.iterations() == [1]
    store._write(store.path(3), 3, {"network": model}, {"network": optimizer}, None)  # as an older voxflow could
    fresh, _, _ = _trained_model(1)
    with pytest.raises(CheckpointError, match="ckpt-3 cannot be used"):
        store.restore(3, fresh)


def test_divergence_is_warned_about_once(caplog):
    from voxflow.engine.trainer import DivergenceWatch

    watch = DivergenceWatch()
    with caplog.at_level("WARNING", logger="voxflow"):
        assert [watch.check(i, loss) for i, loss in enumerate([1.2, 0.9, 50.0, 1.3e13, 4e13], 1)] == [
            False, False, False, True, True]
    warnings = [r.getMessage() for r in caplog.records if "diverging" in r.getMessage()]
    assert len(warnings) == 1 and "iteration 4" in warnings[0]


def test_named_models_and_their_optimisers_round_trip(tmp_path):
    """A checkpoint of several named models (a GAN's generator and discriminator) with an optimiser each."""
    first, first_opt, x = _trained_model(0)
    second, second_opt, _ = _trained_model(2)
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(5, {"generator": first, "discriminator": second},
               {"generator": first_opt, "discriminator": second_opt})
    meta = store.meta(5)
    assert sorted(meta["model_variables"]) == ["discriminator", "generator"]
    fresh = {name: _trained_model(seed)[:2] for name, seed in (("generator", 3), ("discriminator", 4))}
    store.restore(5, {k: v[0] for k, v in fresh.items()}, {k: v[1] for k, v in fresh.items()})
    for original, (restored, _) in ((first, fresh["generator"]), (second, fresh["discriminator"])):
        for saved, loaded in zip(original.variables, restored.variables):
            np.testing.assert_array_equal(saved.numpy(), loaded.numpy())
    with pytest.raises(CheckpointError, match="holds the models"):
        store.restore(5, {"network": _trained_model(5)[0]})


def test_a_single_model_keeps_the_layout_older_checkpoints_have(tmp_path):
    """Checkpoints written before named models (and the shipped zoo entry) keep loading."""
    model, optimizer, _ = _trained_model(0)
    store = CheckpointStore(str(tmp_path / "models"))
    store.save(1, {"network": model}, {"network": optimizer})
    keys = tf.train.load_checkpoint(os.path.join(store.path(1), "ckpt")).get_variable_to_shape_map()
    assert any(k.startswith("model/v00000/") for k in keys) and any(k.startswith("optimizer/") for k in keys)
    assert isinstance(store.meta(1)["model_variables"], list)

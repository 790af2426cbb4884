"""Learning-rate schedules (``[TRAINING] lr_schedule``): the rates they give, and that the optimiser
follows them through its own update counter (so a resumed run continues the schedule)."""

import math
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from voxflow.engine.schedules import LearningRate, learning_rate


def _rate(schedule, i, **kw):
    return float(LearningRate(0.01, schedule, max_iter=100, **kw)(i))


def test_poly_is_nnunets_decay():
    for i in (0, 10, 50, 99):
        assert _rate("poly", i) == pytest.approx(0.01 * (1 - i / 100) ** 0.9, rel=1e-5)
    assert _rate("poly", 50, poly_exponent=2.0) == pytest.approx(0.01 * 0.25, rel=1e-5)


def test_cosine_and_step():
    assert _rate("cosine", 0) == pytest.approx(0.01)
    assert _rate("cosine", 50) == pytest.approx(0.005, rel=1e-5)
    assert _rate("cosine", 100) == pytest.approx(0.0, abs=1e-9)
    assert [_rate("step", i, step_every_n=30, step_factor=0.1) for i in (0, 29, 30, 60)] == pytest.approx(
        [0.01, 0.01, 0.001, 0.0001], rel=1e-5)


def test_warmup_ramps_then_runs_the_schedule_over_the_rest():
    rates = [_rate("poly", i, warmup_iter=10) for i in range(12)]
    assert rates[:10] == pytest.approx([0.01 * (i + 1) / 10 for i in range(10)], rel=1e-5)
    assert rates[10] == pytest.approx(0.01)
    assert _rate("poly", 55, warmup_iter=10) == pytest.approx(0.01 * 0.5 ** 0.9, rel=1e-5)


def test_constant_without_warmup_stays_a_float_for_plugin_optimisers():
    training = SimpleNamespace(lr=0.003, lr_schedule="constant", lr_warmup_iter=0, max_iter=10,
                               lr_poly_exponent=0.9, lr_step_every_n=5, lr_step_factor=0.5)
    assert learning_rate(training) == 0.003
    training.lr_schedule = "cosine"
    assert isinstance(learning_rate(training), LearningRate)


def test_the_optimiser_follows_its_update_counter():
    variable = keras.Variable(np.ones(3, "float32"))
    optimizer = keras.optimizers.SGD(learning_rate=LearningRate(0.1, "poly", max_iter=4))
    optimizer.build([variable])
    seen = []
    for _ in range(4):
        seen.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
        optimizer.apply_gradients([(keras.ops.ones(3), variable)])
    assert seen == pytest.approx([0.1 * (1 - i / 4) ** 0.9 for i in range(4)], rel=1e-5)
    # the variable moved by the sum of the rates used (plain SGD)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), 1 - math.fsum(seen), rtol=1e-5)


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown schedule"):
        LearningRate(0.1, "exponential", max_iter=10)

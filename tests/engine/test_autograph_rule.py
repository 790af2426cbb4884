"""The compiled training step skips AutoGraph only when every component of the run is voxflow's own.
(A plugin loss with Python control flow on tensors trains: tests/cli/test_workflows.py.)"""

import types

import pytest

from voxflow.engine.steps import uses_autograph


def _app(network="unet", loss="Dice", augmentation=(), module="voxflow.applications.segmentation"):
    cfg = types.SimpleNamespace(network=types.SimpleNamespace(name=network),
                                training=types.SimpleNamespace(loss_type=loss),
                                augmentation=types.SimpleNamespace(keys=lambda: list(augmentation)))
    app_class = type("App", (), {"__module__": module})
    app = app_class()
    app.cfg = cfg
    return app


@pytest.mark.parametrize("kwargs, expected", [
    ({}, False),
    ({"network": "niftynet.network.highres3dnet.HighRes3DNet", "augmentation": ("random_flip",)}, False),
    ({"network": "my_nets.Net"}, True),
    ({"loss": "my_losses.focal"}, True),
    ({"augmentation": ("my_aug.Blur",)}, True),
    ({"module": "my_apps.denoise"}, True),
])
def test_autograph_only_where_plugin_code_runs(kwargs, expected):
    assert uses_autograph(_app(**kwargs)) is expected

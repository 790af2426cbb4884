"""`get_loss`: registry look-up of built-in and plugin losses, and the signature check."""

from __future__ import annotations

import pytest

from voxflow import registry
from voxflow.errors import PluginError
from voxflow.losses import check_loss_signature, get_loss, regression, segmentation


@pytest.mark.parametrize("name", registry.names("loss"))
def test_every_registered_loss_resolves(name):
    loss = get_loss(name)
    assert callable(loss)
    assert loss.__module__ in (segmentation.__name__, regression.__name__, "voxflow.losses.registration",
                               "voxflow.losses.generative")


def test_names_are_case_insensitive():
    assert get_loss("dice_ns") is segmentation.dice_ns_loss


def test_plugin_by_import_path(tmp_path):
    (tmp_path / "my_losses_ok.py").write_text(
        "def focal(labels, logits, weight=None):\n    return 0.0\n", encoding="utf-8"
    )
    (tmp_path / "my_losses_bad.py").write_text("def focal(prediction):\n    return 0.0\n", encoding="utf-8")
    assert get_loss("my_losses_ok.focal", search_dirs=(str(tmp_path),)).__name__ == "focal"
    expected = r"must be callable as loss\(labels, logits, weight=None\)"
    with pytest.raises(PluginError, match=expected) as err:
        get_loss("my_losses_bad.focal", search_dirs=(str(tmp_path),))
    assert "\n" not in str(err.value)


def test_signature_check():
    check_loss_signature(lambda labels, logits, weight=None, **kw: 0)
    check_loss_signature(lambda *args: 0)
    with pytest.raises(PluginError, match="weight=None"):
        check_loss_signature(lambda labels, logits, weight: 0, "needs_weight")  # weight required
    with pytest.raises(PluginError, match="callable"):
        check_loss_signature(3, "three")


def test_unknown_name_suggests():
    with pytest.raises(PluginError, match="Did you mean 'Dice'"):
        get_loss("Dcie")

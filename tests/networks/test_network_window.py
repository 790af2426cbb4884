"""check_window and each network's window_divisor."""

from __future__ import annotations

import pytest

from voxflow.networks import DenseVNet, HighRes3DNet, ToyNet, UNet, VNet, check_window


def test_window_divisors():
    assert ToyNet.window_divisor == 1 and HighRes3DNet.window_divisor == 1
    assert UNet.window_divisor == 8 and VNet.window_divisor == 16 and DenseVNet.window_divisor == 8
    assert UNet(2, depth=4).window_divisor == 16
    assert UNet(2, depth=2).window_divisor == 4


def test_check_window_message():
    with pytest.raises(ValueError) as info:
        check_window(UNet, (50, 50, 50))
    message = str(info.value)
    assert message.startswith("window 50×50×50 cannot fit unet: every axis must be a multiple of 8")
    assert "48×48×48 or 56×56×56" in message


@pytest.mark.parametrize(
    "network, shape",
    [(UNet, (64, 64, 64)), (UNet, (96, 32, 1)), (VNet, (32, 16, 48)), (ToyNet, (7, 9, 11)), (HighRes3DNet, (5, 5, 1))],
)
def test_check_window_accepts(network, shape):
    check_window(network, shape)


@pytest.mark.parametrize(
    "network, shape",
    [(UNet(2, depth=4), (64, 40, 64)), (VNet, (32, 8, 1)), (DenseVNet, (12, 12, 12)), (ToyNet, (0, 4, 4))],
)
def test_check_window_rejects(network, shape):
    with pytest.raises(ValueError, match="window"):
        check_window(network, shape)


def test_network_call_checks_static_window(window):
    with pytest.raises(ValueError, match="cannot fit unet: every axis must be a multiple of 4"):
        UNet(2, spatial_dims=2, base_features=2, depth=2)(window(2, 6))

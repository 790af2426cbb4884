"""SE-ResNet: NiftyNet's ResNet whose bottleneck units gate their channels (Hu et al. 2018).

Every bottleneck unit of :class:`~voxflow.networks.resnet.ResNet` gains a squeeze-and-excitation
step on its residual branch, before the shortcut is added: the branch's channels are averaged
over space ("squeeze"), passed through two fully connected layers (ReLU, then sigmoid:
"excitation") and the branch is multiplied by the resulting gates in (0, 1), one per channel.
NiftyNet's defaults are smaller than ResNet's: features 16/64/128 and one unit per resolution.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from voxflow.layers import serialize_initializer, serialize_regularizer
from voxflow.networks.resnet import BottleneckUnit, ResNet


@keras.saving.register_keras_serializable(package="voxflow")
class SqueezeExcitation(keras.layers.Layer):
    """Channel squeeze-and-excitation: ``x · σ(W₂ relu(W₁ mean(x)))`` (NiftyNet's ``ChannelSELayer``).

    ``W₁`` maps the ``C`` channel means to ``max(1, C // reduction_ratio)`` features and ``W₂``
    back to ``C``; neither has a bias, as in NiftyNet. ≠NiftyNet: a channel count that is not a
    multiple of ``reduction_ratio`` rounds down (NiftyNet raised), so tiny networks work.

    Hu, Shen, Sun: "Squeeze-and-excitation networks", CVPR 2018.

    Args:
        reduction_ratio: the channel reduction of the first fully connected layer (≥ 1).
        kernel_initializer: a Keras initialiser.
        kernel_regularizer: ``None``, an L2 factor or a Keras regulariser.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, reduction_ratio: int = 16, kernel_initializer: Any = "he_normal",
                 kernel_regularizer: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reduction_ratio = ResNet.positive_int("reduction_ratio", reduction_ratio)
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.kernel_regularizer = serialize_regularizer(kernel_regularizer)
        self.squeeze = None
        self.excite = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = int(input_shape[-1])
        dense = {"use_bias": False, "kernel_regularizer": keras.regularizers.get(_copy(self.kernel_regularizer))}
        self.squeeze = keras.layers.Dense(max(1, channels // self.reduction_ratio), activation="relu", name="fc_1",
                                          kernel_initializer=keras.initializers.get(_copy(self.kernel_initializer)),
                                          **dense)
        self.excite = keras.layers.Dense(channels, activation="sigmoid", name="fc_2",
                                         kernel_initializer=keras.initializers.get(_copy(self.kernel_initializer)),
                                         **dense)
        self.squeeze.build((input_shape[0], channels))
        self.excite.build((input_shape[0], self.squeeze.units))

    def gates(self, inputs: Any) -> Any:
        """The per-sample channel gates ``(B, C)``, each in (0, 1)."""
        means = ops.mean(inputs, axis=tuple(range(1, len(inputs.shape) - 1)))
        return self.excite(self.squeeze(means))

    def call(self, inputs: Any) -> Any:
        gates = self.gates(inputs)
        gates = ops.reshape(gates, (-1, *[1] * (len(inputs.shape) - 2), gates.shape[-1]))
        return inputs * ops.cast(gates, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(reduction_ratio=self.reduction_ratio, kernel_initializer=self.kernel_initializer,
                      kernel_regularizer=self.kernel_regularizer)
        return config


def _copy(serialized: Any) -> Any:
    """A copy of a serialised initialiser or regulariser (Keras may mutate config dicts)."""
    return dict(serialized) if isinstance(serialized, dict) else serialized


@keras.saving.register_keras_serializable(package="voxflow")
class SEBottleneckUnit(BottleneckUnit):
    """A :class:`BottleneckUnit` whose residual branch is gated by :class:`SqueezeExcitation`.

    Args:
        filters, spatial_dims, strides, norm, acti_func, kernel_initializer, kernel_regularizer:
            see :class:`BottleneckUnit`.
        reduction_ratio: the squeeze-and-excitation reduction (default 16).
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, filters: int, reduction_ratio: int = 16, **kwargs: Any) -> None:
        super().__init__(filters, **kwargs)
        self.excitation = SqueezeExcitation(reduction_ratio, kernel_initializer=self.kernel_initializer,
                                            kernel_regularizer=self.kernel_regularizer, name="excitation")

    @property
    def reduction_ratio(self) -> int:
        return self.excitation.reduction_ratio

    def recalibrate(self, x: Any) -> Any:
        return self.excitation(x)

    def build_recalibration(self, shape: tuple[int | None, ...]) -> None:
        self.excitation.build(shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(reduction_ratio=self.reduction_ratio)
        return config


@keras.saving.register_keras_serializable(package="voxflow")
class SEResNet(ResNet):
    """SE-ResNet (NiftyNet's ``se_resnet``): ResNet with squeeze-and-excitation in every unit.

    The layout of :class:`~voxflow.networks.resnet.ResNet` (3×3(×3) conv, DownRes blocks of
    pre-activation bottleneck units, first stride 1 then 2, norm → act → global mean → FC) with
    NiftyNet's smaller defaults, each unit's residual branch gated by :class:`SqueezeExcitation`
    before the shortcut is added. Windows must be multiples of ``2 ** (len(n_features) - 2)``
    (2 by default). The ≠NiftyNet notes of ``ResNet`` and ``SqueezeExcitation`` apply.

    Hu, Shen, Sun: "Squeeze-and-excitation networks", CVPR 2018.

    Args:
        num_classes, spatial_dims, acti_func, keep_prob, w_initializer, w_regularizer: see
            ``SegmentationNet``.
        n_features: features of the first conv, then of each resolution (network_arg, default
            ``(16, 64, 128)``).
        n_blocks_per_resolution: bottleneck units per resolution (network_arg, default 1).
        reduction_ratio: squeeze-and-excitation reduction (network_arg, default 16).
        norm: ``batch``, ``instance``, ``group`` or ``none`` (network_arg, default ``batch``).
    """

    network_name = "se_resnet"
    window_divisor = 2  # for the default n_features; instances use 2 ** (len(n_features) - 2)
    unit_class = SEBottleneckUnit

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        *,
        n_features: tuple[int, ...] = (16, 64, 128),
        n_blocks_per_resolution: int = 1,
        reduction_ratio: int = 16,
        norm: str = "batch",
        **kwargs: Any,
    ) -> None:
        self.reduction_ratio = self.positive_int("reduction_ratio", reduction_ratio)
        super().__init__(num_classes, spatial_dims, n_features=n_features,
                         n_blocks_per_resolution=n_blocks_per_resolution, norm=norm, **kwargs)

    def unit_kwargs(self) -> dict[str, Any]:
        return {**super().unit_kwargs(), "reduction_ratio": self.reduction_ratio}

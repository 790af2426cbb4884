"""voxflow's block library: named, serialisable Keras 3 layers for 2-D and 3-D networks.

Every block takes ``spatial_dims`` (2 or 3) and builds its Keras layers through small factories,
so there are no 2-D/3-D twin classes. Sub-layers get fixed names, so variable paths
(``unet/enc_0_conv_0/conv/kernel``) are the same in every process: the engine checkpoints by them.
"""

from voxflow.layers.activations import ACTIVATIONS, get_activation
from voxflow.layers.conv_block import ConvBlock
from voxflow.layers.dense_feature_stack import DenseFeatureStack
from voxflow.layers.dilated_conv_block import DilatedConvBlock
from voxflow.layers.downsample import DOWNSAMPLE_MODES, DownSample
from voxflow.layers.dropout import Dropout
from voxflow.layers.factories import conv_layer, pooling_layer, serialize_initializer, serialize_regularizer
from voxflow.layers.linear_resize import LinearResize, linear_resize
from voxflow.layers.normalization import NORMALIZATIONS, GroupNorm, get_normalization
from voxflow.layers.residual_unit import SHORTCUTS, ResidualUnit
from voxflow.layers.upsample import UPSAMPLE_MODES, UpSample

__all__ = [
    "ACTIVATIONS",
    "DOWNSAMPLE_MODES",
    "NORMALIZATIONS",
    "SHORTCUTS",
    "UPSAMPLE_MODES",
    "ConvBlock",
    "DenseFeatureStack",
    "DilatedConvBlock",
    "DownSample",
    "Dropout",
    "GroupNorm",
    "LinearResize",
    "ResidualUnit",
    "UpSample",
    "conv_layer",
    "get_activation",
    "get_normalization",
    "linear_resize",
    "pooling_layer",
    "serialize_initializer",
    "serialize_regularizer",
]

"""voxflow's networks: Keras 3 models for 2-D and 3-D dense prediction.

Every network follows ``SegmentationNet``'s contract: ``Net(num_classes, spatial_dims=3,
acti_func="relu", keep_prob=1.0, w_initializer="he_normal", w_regularizer=None,
**network_args)``, ``call(x, training=None)`` → float32 logits of ``x``'s spatial size, and a
``window_divisor`` checked by ``check_window``.
"""

from voxflow.networks.base import SegmentationNet
from voxflow.networks.dense_vnet import DenseVNet
from voxflow.networks.highres3dnet import HighRes3DNet
from voxflow.networks.toynet import ToyNet
from voxflow.networks.unet import UNet
from voxflow.networks.vnet import VNet
from voxflow.networks.window import check_window

__all__ = ["DenseVNet", "HighRes3DNet", "SegmentationNet", "ToyNet", "UNet", "VNet", "check_window"]

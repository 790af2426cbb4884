"""voxflow's networks: Keras 3 models for 2-D and 3-D dense prediction and classification.

Every network follows ``SegmentationNet``'s contract: ``Net(num_classes, spatial_dims=3,
acti_func="relu", keep_prob=1.0, w_initializer="he_normal", w_regularizer=None,
**network_args)``, ``call(x, training=None)`` → float32 logits, and ``check_window`` for the
windows it takes. Most return logits of ``x``'s spatial size and need every axis to be a multiple
of their ``window_divisor``; the VALID-convolution networks (``deepmedic``, ``unet_2d``) return a
smaller, centred window given by ``output_window`` and take the sizes of their ``window_rule``.
The classifiers (``resnet``, ``se_resnet``, ``densenet``) subclass ``ClassificationNet``: they
declare ``dense_output = False`` and return logits ``(B, num_classes)`` for a window.
"""

from voxflow.networks.base import ClassificationNet, SegmentationNet
from voxflow.networks.deepmedic import DeepMedic
from voxflow.networks.dense_vnet import DenseVNet
from voxflow.networks.densenet import DenseNet
from voxflow.networks.highres3dnet import HighRes3DNet, HighRes3DNetLarge, HighRes3DNetSmall
from voxflow.networks.holisticnet import HolisticNet
from voxflow.networks.no_new_net import NoNewNet
from voxflow.networks.resnet import ResNet
from voxflow.networks.scalenet import ScaleNet
from voxflow.networks.se_resnet import SEResNet
from voxflow.networks.toynet import ToyNet
from voxflow.networks.unet import UNet
from voxflow.networks.unet_2d import UNet2D
from voxflow.networks.vnet import VNet
from voxflow.networks.window import WindowRule, check_window, output_window, smallest_valid_window

__all__ = [
    "ClassificationNet",
    "DeepMedic",
    "DenseNet",
    "DenseVNet",
    "HighRes3DNet",
    "HighRes3DNetLarge",
    "HighRes3DNetSmall",
    "HolisticNet",
    "NoNewNet",
    "ResNet",
    "SEResNet",
    "ScaleNet",
    "SegmentationNet",
    "ToyNet",
    "UNet",
    "UNet2D",
    "VNet",
    "WindowRule",
    "check_window",
    "output_window",
    "smallest_valid_window",
]

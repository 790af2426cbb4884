"""NiftyNet's label-driven registration configs (``label_driven_registration.RegApp``) read by ``net_reg``.

NiftyNet's registration application trained one thing: the Dice of the warped moving label against
the fixed label (``[TRAINING] loss_type``, e.g. ``Dice_Dense``), plus ``[NETWORK] decay`` × the
bending energy (``decay`` doubled as the bending weight), with one of four networks. A NiftyNet
config says so with those keys, so ``net_reg`` reads them that way, and says what it read in one
notice line:

=======================================================  =================================================
NiftyNet                                                 voxflow ``[REGISTRATION]``
=======================================================  =================================================
``name = ...interventional_dense_net.INetDense``         ``registration_net``, ``method = ddf``
``name = ...interventional_affine_net.INetAffine``       ``registration_net``, ``method = affine``
``name = ...interventional_hybrid_net.INetHybrid*``      ``registration_net``, ``method = affine_ddf``
``[TRAINING] loss_type = Dice_Dense`` (``Dice``)          ``label_loss = dice_squared``, ``image_loss = none``,
                                                         ``dice_scales = 0`` (one scale), ``num_classes = 2``
``[TRAINING] loss_type = Dice_Dense_NS`` (``Dice_NS``)    the same with ``label_loss = dice``
``[NETWORK] decay``                                      ``regulariser = bending``, ``regulariser_weight``
=======================================================  =================================================

A key the config also sets in ``[REGISTRATION]`` wins over what is read from NiftyNet's; a
contradiction (NiftyNet's network with another ``method``) is refused in one line. The networks are
voxflow's (NiftyNet's code is never run): ``INetDense``'s residual blocks and summed multi-scale heads
become ``registration_net``'s U-Net with one zero-initialised head, and ``INetHybridTwoStream``'s two
parallel fields (whose sum counts the identity twice in NiftyNet) become the affine map composed with
the field.
"""

from __future__ import annotations

import logging
from typing import Any

from voxflow.errors import ConfigError

log = logging.getLogger(__name__)

_NET = "niftynet.network."
#: NiftyNet's registration networks → the ``method`` of ``registration_net`` doing what each did.
NIFTYNET_METHODS = {
    _NET + "interventional_dense_net.INetDense": "ddf",
    _NET + "interventional_affine_net.INetAffine": "affine",
    _NET + "interventional_hybrid_net.INetHybridPreWarp": "affine_ddf",
    _NET + "interventional_hybrid_net.INetHybridTwoStream": "affine_ddf",
}
#: NiftyNet's loss names its RegApp used as the label loss (its segmentation Dice losses).
LABEL_LOSS_NAMES = ("dice", "dice_ns", "dice_dense", "dice_dense_ns")


def niftynet_method(name: str) -> str | None:
    """The method of NiftyNet's registration network ``name`` (import or module path), or None."""
    lowered = str(name).lower()
    for path, method in NIFTYNET_METHODS.items():
        if lowered in (path.lower(), path.rsplit(".", 1)[0].lower()):
            return method
    return None


def read_niftynet_keys(cfg: Any) -> None:
    """Apply NiftyNet's meanings (the module docstring's table) to ``cfg`` in place; log what was read.

    Raises:
        ConfigError: a loss NiftyNet's registration did not train with, ``loss_type`` next to
            ``label_loss``, or a ``method`` that contradicts NiftyNet's network.
    """
    app, read = cfg.app, []
    written = cfg.network.written("name") or ""
    method = niftynet_method(written)
    if method is not None:
        if app.was_given("method") and app.method != method:
            raise ConfigError(f"[NETWORK] name = {written} in {cfg.path} is NiftyNet's network of method "
                              f"{method}, but [REGISTRATION] method = {app.method}: set name = registration_net to "
                              f"use method = {app.method}.")
        app.method = method
        read.append(f"name = {written.rsplit('.', 1)[-1]} → registration_net with method = {method}")
    if cfg.training.was_given("loss_type"):
        read += _label_driven(cfg)
    if read:
        log.warning("notice: %s is read as NiftyNet's label-driven registration: %s.", cfg.path, "; ".join(read))


def _label_driven(cfg: Any) -> list[str]:
    """``[TRAINING] loss_type`` as the label loss and ``[NETWORK] decay`` as the bending weight."""
    app, loss = cfg.app, str(cfg.training.loss_type)
    if loss.lower() not in LABEL_LOSS_NAMES:
        raise ConfigError(f"Invalid value for `loss_type` in [TRAINING] of {cfg.path}: {loss} is not a loss of "
                          "NiftyNet's label-driven registration. Expected Dice, Dice_NS, Dice_Dense or Dice_Dense_NS, "
                          "or leave it out and set [REGISTRATION] image_loss / label_loss.")
    if app.was_given("label_loss"):
        raise ConfigError(f"[TRAINING] loss_type = {loss} (NiftyNet's label loss) and [REGISTRATION] label_loss "
                          f"= {app.label_loss} are both set in {cfg.path}: keep one.")
    read = [f"loss_type = {loss}"]
    label_loss = "dice" if loss.lower().endswith("_ns") else "dice_squared"
    defaults = {"label_loss": label_loss, "image_loss": "none", "dice_scales": (0.0,), "num_classes": 2}
    if cfg.network.was_given("decay"):
        read.append(f"decay = {cfg.network.decay:g} as the bending weight (not weight decay)")
        defaults.update(regulariser="bending", regulariser_weight=float(cfg.network.decay))
    for key, value in defaults.items():
        if not app.was_given(key):
            setattr(app, key, value)
            shown = ", ".join(f"{v:g}" for v in value) if isinstance(value, tuple) else value
            read.append(f"{key} = {shown}")
    return read

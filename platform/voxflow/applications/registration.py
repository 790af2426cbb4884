"""Registration: a network that maps a moving image onto a fixed image (``net_reg``).

==========  ==============================================  ======================================
action      reads                                           writes
==========  ==============================================  ======================================
train       fixed_image, moving_image (+ fixed_label,       checkpoints
            moving_label for the label loss)
inference   fixed_image, moving_image (+ moving_label)      per pair, on the fixed file's grid: the
                                                            warped moving image and labels, the
                                                            field (world mm), ``inferred.csv``
evaluation  fixed_label, moving_label, inferred outputs     Dice, HD95, centroid TRE, Jacobian
                                                            statistics before/after, CSV + plots
==========  ==============================================  ======================================

Pairs are formed by ``pairing`` and brought onto the fixed image's preprocessed grid by their
affines (:mod:`voxflow.data.pairs`); the network (``[NETWORK] name``, by default
``registration_net``: :mod:`voxflow.networks.registration`) predicts the displacement of
``method``; the loss is ``image_weight`` × the image similarity + ``label_weight`` × the
multi-scale Dice of the warped labels + ``regulariser_weight`` × the regulariser
(:mod:`voxflow.losses.registration`). Training cuts one window (``spatial_window_size`` of the
fixed image's section) at the same place of both images; inference registers whole volumes.
The warp convention is :mod:`voxflow.layers.warp`'s; written fields follow
:mod:`voxflow.io.displacement`'s.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from voxflow.applications.base import Application, BestRule
from voxflow.applications.registration_niftynet import read_niftynet_keys
from voxflow.config import Key
from voxflow.config.arrays import FloatArrayType
from voxflow.config.paths import PathType
from voxflow.config.values import BoolType, ChoiceType, FloatType, IntType
from voxflow.data.pairs import PAIRINGS
from voxflow.errors import ConfigError
from voxflow.roles import Kind, Role

log = logging.getLogger(__name__)

#: The networks' methods (voxflow.networks.registration.METHODS, spelt here so that the config schema
#: does not import TensorFlow; a test keeps the two equal).
METHODS = ("ddf", "svf", "affine", "affine_ddf", "affine_svf")
IMAGE_LOSSES = ("lncc", "ssd", "gmi", "none")
LABEL_LOSSES = ("dice", "dice_squared", "none")
REGULARISERS = ("bending", "gradient", "gradient_l1", "none")
FIXED, MOVING = "fixed", "moving"


class RegistrationApplication(Application):
    """Learned pairwise registration (see the module docstring)."""

    SECTION = "REGISTRATION"
    ALIASES = ("registration", "net_reg")
    CONSOLE_SCRIPT = "net_reg"
    ROLES = (
        Role("fixed_image", Kind.INTENSITY, "Input sections of the fixed images (the grid outputs are written on).",
             group=FIXED, required=("train", "inference"), read_by=("train", "inference")),
        Role("moving_image", Kind.INTENSITY, "Input sections of the moving images (warped onto the fixed ones).",
             group=MOVING, required=("train", "inference"), read_by=("train", "inference")),
        Role("fixed_label", Kind.LABEL, "Input sections of the fixed images' label maps (label loss, evaluation).",
             group=FIXED, read_by=("train", "evaluation")),
        Role("moving_label", Kind.LABEL, "Input sections of the moving images' label maps (label loss; warped by "
             "inference; evaluation).", group=MOVING),
    )
    KEYS = (
        Key("pairing", ChoiceType(PAIRINGS), "subject", "Which fixed image each moving image is registered to: "
            "`subject` (its own subject's), `all` (every ordered pair of two subjects), `random` (a random pair each "
            "training step), `csv` (the pairs of `pairs_file`), `atlas` (the one subject of the fixed sections)."),
        Key("pairs_file", PathType(), "", "With `pairing = csv`: a CSV with columns fixed,moving (subject ids)."),
        Key("method", ChoiceType(METHODS), "ddf", "What the network predicts: `ddf` (a dense displacement field), "
            "`svf` (a stationary velocity field integrated by scaling and squaring: diffeomorphic), `affine`, "
            "`affine_ddf`, `affine_svf` (an affine map, then a field)."),
        Key("integration_steps", IntType(0), 7, "Scaling-and-squaring steps of the `svf` methods."),
        Key("image_loss", ChoiceType(IMAGE_LOSSES), "lncc", "Image similarity: `lncc` (local normalised cross-"
            "correlation), `ssd` (mean squared difference), `gmi` (global mutual information, for two modalities), "
            "`none`."),
        Key("image_weight", FloatType(0.0), 1.0, "Weight of the image loss."),
        Key("lncc_window", IntType(1), 9, "Window of `lncc`, voxels per axis (VoxelMorph and DeepReg: 9)."),
        Key("label_loss", ChoiceType(LABEL_LOSSES), "none", "Label similarity: `dice` (soft multi-scale Dice "
            "2Σfw/(Σf+Σw) of the warped moving labels and the fixed labels, per foreground class; needs both label "
            "roles and `num_classes`), `dice_squared` (the same with squared denominators, NiftyNet's `Dice_Dense`), "
            "or `none`."),
        Key("label_weight", FloatType(0.0), 1.0, "Weight of the label loss."),
        Key("dice_scales", FloatArrayType(), (0.0, 1.0, 2.0, 4.0, 8.0, 16.0), "Gaussian σ (voxels) at which the "
            "labels are compared (0 = unsmoothed); the Dice is averaged over them (label-reg's defaults)."),
        Key("num_classes", IntType(0), 0, "Label values 0..num_classes-1 of the label maps (the label loss's "
            "one-hot channels; 0 = unset)."),
        Key("label_normalisation", BoolType(), False, "Map the label values to 0..num_classes-1 for the label loss "
            "by a map learnt from the training labels (as segmentation does); outputs and evaluation keep the "
            "files' own values."),
        Key("landmarks_file", PathType(), "", "Evaluation: a CSV of corresponding points, columns subject_id,point,x,y,z "
            "(world mm, RAS+) and optionally side (fixed/moving, when one subject holds both images): the target "
            "registration error of each point of a pair's fixed image mapped by the field, against the same point "
            "of its moving image, before and after."),
        Key("instance_iterations", IntType(0), 0, "Inference refines the network's field on each pair with this "
            "many Adam steps of the image loss and regulariser, on a grid half the images' resolution "
            "(test-time instance optimisation; 0 = the network's field as it is)."),
        Key("instance_lr", FloatType(0.0, open_min=True), 0.01, "Learning rate of `instance_iterations`."),
        Key("regulariser", ChoiceType(REGULARISERS), "bending", "Regulariser of the predicted field (the velocity "
            "for `svf`): `bending` energy, `gradient` (L2) or `gradient_l1` norm, or `none`."),
        Key("regulariser_weight", FloatType(0.0), 0.5, "Weight of the regulariser (DeepReg/MONAI normalisation, so "
            "their published weights carry over; label-reg's default 0.5)."),
    )
    SHARED_DEFAULTS = {
        ("NETWORK", "name"): "registration_net",
        ("NETWORK", "whitening"): True,
        ("NETWORK", "activation_function"): None,  # registration_net's own: VoxelMorph's leaky ReLU (slope 0.2)
        ("INFERENCE", "output_postfix"): "",
        ("EVALUATION", "evaluations"): ("dice", "hausdorff95_distance"),
    }
    TRAINED_KEYS = (
        *(("network", key) for key in ("name", "network_args", "whitening", "normalisation", "histogram_ref_file",
                                       "volume_padding_size", "volume_padding_mode", "activation_function")),
        ("inputs", "pixdim"), ("inputs", "axcodes"), ("inputs", "interp_order"),
        ("app", "method"), ("app", "integration_steps"),
    )
    BEST = BestRule("loss", "min")

    def __init__(self, cfg: Any, action: str) -> None:
        super().__init__(cfg, action)
        self.data: Any = None
        self.window: tuple[int, ...] = ()
        self.spatial_dims = 3
        self.channels = 1
        self.divisor = 1
        if action != "evaluation":
            read_niftynet_keys(cfg)

    # ------------------------------------------------------------------ declarations
    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """The roles each action reads (unset ones omitted)."""
        app = self.cfg.app
        names = {"train": ("fixed_image", "moving_image", "fixed_label", "moving_label"),
                 "inference": ("fixed_image", "moving_image"),  # moving labels are read from their files
                 "export": ("fixed_image", "moving_image"),
                 "evaluation": ("fixed_label", "moving_label")}[action]
        return {name: tuple(getattr(app, name)) for name in names if getattr(app, name)}

    def check_losses(self) -> None:
        """Every loss has what it compares, and at least one loss drives training."""
        app = self.cfg.app
        if app.label_loss != "none":
            missing = [r for r in ("fixed_label", "moving_label") if not getattr(app, r)]
            if missing:
                raise ConfigError(f"[REGISTRATION] label_loss = {app.label_loss} in {self.cfg.path} needs "
                                  f"`{missing[0]}` (input sections of label maps).")
            if app.num_classes < 2:
                raise ConfigError(f"[REGISTRATION] label_loss = {app.label_loss} in {self.cfg.path} needs "
                                  "`num_classes` >= 2 (background and at least one label).")
        active = [w for loss, w in ((app.image_loss, app.image_weight), (app.label_loss, app.label_weight))
                  if loss != "none" and w > 0]
        if not active:
            raise ConfigError(f"[REGISTRATION] in {self.cfg.path} sets no similarity to train with: set `image_loss` "
                              "or `label_loss` (with a weight above 0).")

    # ------------------------------------------------------------------ preparing
    def prepare(self) -> None:
        """Check the losses, form the action's pairs and load what they need."""
        from voxflow.data.pair_data import PairData  # noqa: PLC0415

        if self.action == "train":
            self.check_losses()
        if self.action == "evaluation":
            return
        self.data = PairData(self.cfg, self.action, self.roles_for(self.action), self.kinds(), self.groups())
        self.data.prepare()
        self.window = self.data.window
        self.spatial_dims = self.data.spatial_dims

    def training_dataset(self, worker: int) -> Any:
        """Random windows of the training pairs, both images cut at the same place."""
        return self.data.training_dataset(worker)

    # ------------------------------------------------------------------ models and losses
    def build_network(self) -> Any:
        """``[NETWORK] name`` (``registration_net``) with ``method``, checked on one window."""
        from voxflow import registry  # noqa: PLC0415

        cfg = self.cfg
        net_class = registry.resolve("network", cfg.network.name, search_dirs=(cfg.config_dir,))
        args = dict(cfg.network.network_args or {})
        kwargs = {"spatial_dims": self.spatial_dims, "method": cfg.app.method,
                  "integration_steps": cfg.app.integration_steps, **args}
        if cfg.network.activation_function is not None:  # unset: the network's own (VoxelMorph's leaky ReLU)
            kwargs.setdefault("activation", cfg.network.activation_function)
        try:
            model = net_class(**kwargs)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Invalid [NETWORK] network_args for {cfg.network.name} in {cfg.path}: {err}") from err
        divisor = int(getattr(model, "window_divisor", 1))
        window = list(self.window[: self.spatial_dims])
        if self.action == "train" and any(n % divisor for n in window):
            raise ConfigError(f"Invalid spatial_window_size {self.window} for {cfg.network.name} in {cfg.path}: every "
                              f"axis must be a multiple of {divisor} (its pooling levels).")
        if self.data is not None:
            self.data.divisor = divisor
        self.divisor = divisor
        model(self.example_input())
        return model

    def example_input(self) -> np.ndarray:
        """A zero pair ``(1, *window, 2C)``, each axis rounded up to the network's divisor."""
        channels = self.data.channels if self.data is not None else self.channels
        window = [-(-n // self.divisor) * self.divisor for n in self.window[: self.spatial_dims]]
        return np.zeros((1, *window, 2 * channels), np.float32)

    def serving_outputs(self, model: Any, inputs: Any) -> dict[str, Any]:
        """``{"displacement": (batch, *spatial, D)}``: voxels along the input's axes, on the fixed grid."""
        import tensorflow as tf  # noqa: PLC0415

        return {"displacement": tf.cast(model(inputs, training=False), tf.float32)}

    def serving_model(self, models: dict[str, Any]) -> Any:
        """The network returning only the displacement (voxels along the input's axes, the fixed grid)."""
        from voxflow.networks.registration import DisplacementOnly  # noqa: PLC0415

        model = DisplacementOnly(models["network"])
        model(self.example_input())  # built, as export needs
        return model

    def network_input(self, batch: dict) -> Any:
        """``[moving, fixed]`` as channels, in the network's rank (2-D windows lose their unit axis)."""
        import tensorflow as tf  # noqa: PLC0415

        pair = tf.concat([batch["moving_image"], batch["fixed_image"]], axis=-1)
        return pair[:, :, :, 0] if self.spatial_dims == 2 else pair

    def _spatial(self, x: Any) -> Any:
        return x[:, :, :, 0] if self.spatial_dims == 2 else x

    def forward(self, models: dict[str, Any], batch: dict, training: bool) -> dict[str, Any]:
        """The field, what is regularised, and the moving image (and one-hot labels) warped by it."""
        import tensorflow as tf  # noqa: PLC0415

        from voxflow.layers.warp import warp  # noqa: PLC0415

        outputs = dict(models["network"](self.network_input(batch), training=training))
        field = outputs["displacement"]
        outputs["warped_image"] = warp(self._spatial(batch["moving_image"]), field, 1)
        if self.cfg.app.label_loss != "none" and "moving_label" in batch:
            onehot = tf.one_hot(tf.cast(tf.round(self._spatial(batch["moving_label"])[..., 0]), tf.int32),
                                self.cfg.app.num_classes)
            outputs["warped_label"] = warp(onehot[..., 1:], field, 1)
        return outputs

    def losses(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """The weighted image, label and regularisation terms, each named by its loss."""
        import tensorflow as tf  # noqa: PLC0415

        from voxflow.losses import registration as reg  # noqa: PLC0415

        app = self.cfg.app
        terms = {}
        fixed = self._spatial(batch["fixed_image"])
        if app.image_loss != "none" and app.image_weight > 0:
            fn = {"lncc": lambda f, w: reg.lncc_loss(f, w, app.lncc_window), "ssd": reg.ssd_loss,
                  "gmi": reg.gmi_loss}[app.image_loss]
            terms[f"image_{app.image_loss}"] = app.image_weight * fn(fixed, outputs["warped_image"])
        if "warped_label" in outputs and app.label_weight > 0:
            target = tf.one_hot(tf.cast(tf.round(self._spatial(batch["fixed_label"])[..., 0]), tf.int32),
                                app.num_classes)[..., 1:]
            terms[f"label_{app.label_loss}"] = app.label_weight * reg.multiscale_dice_loss(
                target, outputs["warped_label"], app.dice_scales, squared=app.label_loss == "dice_squared")
        if app.regulariser != "none" and app.regulariser_weight > 0:
            fn = reg.REGISTRATION_LOSSES[app.regulariser][0]
            terms[f"regulariser_{app.regulariser}"] = app.regulariser_weight * fn(outputs["regularised"])
        return terms

    def summary_images(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """Fixed, moving and warped moving images of the first pair of the batch."""
        def first(x: Any) -> np.ndarray:
            array = np.asarray(x)[0, ..., 0]
            return array[..., None] if array.ndim == 2 else array

        return {"fixed": first(batch["fixed_image"]), "moving": first(batch["moving_image"]),
                "warped": first(outputs["warped_image"])}

    def checkpoint_info(self) -> dict[str, Any]:
        """The window, dimensionality and channels the network was built for (for ``export``)."""
        return {"window": list(self.window), "spatial_dims": self.spatial_dims,
                "channels": int(self.data.channels) if self.data else 1}

    def configure_from_checkpoint(self, info: dict[str, Any]) -> None:
        """Take the trained network's dimensionality and channels."""
        self.spatial_dims = int(info.get("spatial_dims", 3))
        self.channels = int(info.get("channels", 1))
        if self.data is None and info.get("window"):
            self.window = tuple(int(n) for n in info["window"])

    # ------------------------------------------------------------------ inference and evaluation
    def output_writer(self) -> Any:
        """One set of files per pair (:class:`~voxflow.data.writers.PairWriter`)."""
        return self.data.writer()

    def inference_items(self) -> list[Any]:
        """The pairs to register."""
        return list(self.data.pairs)

    def predictor(self, models: dict[str, Any]) -> Any:
        """Whole pair ``(1, *spatial, 2C)`` → displacement, compiled once per volume shape, then refined on
        the pair with ``instance_iterations`` (:mod:`voxflow.applications.registration_instance`)."""
        import tensorflow as tf  # noqa: PLC0415

        from voxflow.applications.registration_instance import refiner  # noqa: PLC0415

        network = models["network"]
        refine = refiner(self)
        channels = self.data.channels

        @tf.function(reduce_retracing=True)
        def compiled(pair: tf.Tensor) -> dict[str, tf.Tensor]:
            return network(pair, training=False)

        def predict(pair: Any) -> Any:
            outputs = compiled(pair)
            if refine is None:
                return outputs["displacement"]
            return refine(pair[..., channels:], pair[..., :channels], outputs)

        return predict

    def predict_item(self, predict: Any, pair: Any, strategy: Any) -> Any:
        """The pair's field on the fixed preprocessed grid, and its loaded sides."""
        return self.data.predict_pair(predict, pair, self.spatial_dims)

    def write_item(self, writer: Any, pair: Any, prediction: Any) -> None:
        """The warped moving image (and labels) and the field, on the fixed file's grid."""
        self.data.write_pair(writer, pair, prediction)

    def evaluate(self) -> dict:
        """Per pair and label: Dice, HD95 and centroid TRE before and after; Jacobian statistics."""
        from voxflow.applications.registration_evaluation import evaluate  # noqa: PLC0415

        return evaluate(self.cfg)

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines printed by the console script."""
        if action == "inference":
            return f"registered {result.get('pairs', 0)} pair(s); outputs listed in {result.get('listing', '')}"
        if action == "evaluation":
            shown = ", ".join(f"{name} = {value:.4f}" for name, value in result["summary"].items())
            return f"evaluation of {result['pairs']} pair(s) written to {result['csv']}: {shown}"
        return super().report(action, result)

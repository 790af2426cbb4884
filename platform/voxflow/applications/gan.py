"""GAN: images generated from noise, optionally conditioned per pixel — NiftyNet's ``net_gan``.

==========  ==========================================  ===========================================
action      reads                                       does
==========  ==========================================  ===========================================
train       image (and conditioning)                    each image resized to the window
                                                        (``resize``), into [−1, 1]; the engine's
                                                        adversarial step: ``discriminator_steps``
                                                        discriminator updates, then a generator
                                                        update, each model with its own optimiser
inference   nothing (unconditional)                     ``num_samples`` images ``sample_<k>`` and
                                                        ``n_interpolations`` images
                                                        ``interpolation_<k>`` along the line
                                                        between two noise draws
            conditioning                                ``num_samples`` images per conditioning
                                                        input: ``<subject>``, ``<subject>_1`` ...
evaluation  image, the generated images                 MAE, PSNR, SSIM of each conditional output
                                                        against the real image of its subject
==========  ==========================================  ===========================================

NiftyNet's ``[GAN]`` keys (``image``, ``conditioning``, ``noise_size``, ``n_interpolations``) with
what NiftyNet lacked: ``discriminator_steps`` (MONAI's ``d_train_steps``), ``loss``
(``cross_entropy`` as NiftyNet, ``least_squares``, ``wasserstein`` with a gradient penalty) and
``real_label`` (one-sided label smoothing; NiftyNet's 0.9). The noise is N(0, I), drawn afresh for
every training element by the data pipeline (two draws: one for the discriminator's updates, one for
the generator's, as MONAI's ``g_update_latents``), from ``[SYSTEM] seed``: a seeded run repeats.

The generator ends in ``tanh``: training learns the range of the training images and maps them to
[−1, 1] (:mod:`~.generative`); generated images are mapped back to the input's units. Conditioning
maps (e.g. each pixel's world coordinates in mm) are divided by the largest magnitude found in
training, saved with the checkpoint. Every image written has the geometry of its conditioning
input's extent at the window's size, or that of the first training image.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from voxflow.applications import generative
from voxflow.applications.base import BestRule
from voxflow.applications.dense import DenseApplication
from voxflow.applications.gan_inference import GANInference
from voxflow.config import Key
from voxflow.config.arrays import FloatArrayType
from voxflow.config.values import ChoiceType, FloatType, IntType
from voxflow.errors import ConfigError
from voxflow.roles import Kind, Role

log = logging.getLogger(__name__)

GAN_LOSS_CHOICES = ("cross_entropy", "least_squares", "wasserstein")


class GANApplication(GANInference, DenseApplication):
    """A generator and a discriminator trained against each other (see the module docstring)."""

    SECTION = "GAN"
    ALIASES = ("gan", "net_gan")
    CONSOLE_SCRIPT = "net_gan"
    OUTPUT_NAME = "generated image"
    STATE_FILES = (generative.RANGE_FILE,)
    STEP = "adversarial"
    ROLES = (
        Role("image", Kind.INTENSITY, "Input sections of the real images (channels).", required=("train",),
             read_by=("train", "evaluation")),
        Role("conditioning", Kind.INTENSITY, "Input sections of per-pixel conditioning maps, on the images' grid "
             "(e.g. the world coordinates of each pixel of an imaged plane: NiftyNet's ultrasound simulator).",
             intensity_transforms=False, normalised=False),
    )
    KEYS = (
        Key("noise_size", IntType(1), 100, "Length of the generator's noise vector (NiftyNet's default -1 had to be "
            "set; its demo used 100)."),
        Key("n_interpolations", IntType(0), 10, "Unconditional inference also writes this many images along the line "
            "between two noise draws (0: none)."),
        Key("num_samples", IntType(1), 10, "Images inference writes: in all (unconditional), or per conditioning "
            "input (new in voxflow)."),
        Key("discriminator_steps", IntType(1), 1, "Discriminator updates per generator update (MONAI's "
            "d_train_steps; new in voxflow)."),
        Key("loss", ChoiceType(GAN_LOSS_CHOICES), "cross_entropy", "Adversarial loss: `cross_entropy` (NiftyNet's, "
            "non-saturating), `least_squares` (LSGAN) or `wasserstein` (WGAN-GP; new in voxflow)."),
        Key("real_label", FloatType(0.0, 1.0), 0.9, "Target of real images for the discriminator: below 1 is one-sided "
            "label smoothing (NiftyNet: 0.9; ignored by `wasserstein`)."),
        Key("reconstruction_weight", FloatType(0.0), 0.0, "Conditional GANs: weight of the mean absolute error "
            "between the generated and the real image of the same conditioning added to the generator's loss "
            "(pix2pix's L1 term, e.g. 100; 0: the adversarial loss alone, NiftyNet's; new in voxflow)."),
        Key("gradient_penalty", FloatType(0.0), 10.0, "Weight of WGAN-GP's gradient penalty (`loss = wasserstein`)."),
        Key("intensity_range", FloatArrayType((2,), 0.0, 100.0, increasing=True, example="0.5, 99.5"), (0.0, 100.0),
            "Percentiles of the training images' voxels that map to -1 and 1 (new in voxflow)."),
    )
    SHARED_DEFAULTS = {
        ("NETWORK", "name"): "simple_gan",
        ("NETWORK", "window_sampling"): "resize",
        ("TRAINING", "loss_type"): "CrossEntropy",
        ("INFERENCE", "output_postfix"): "_generated",
        ("EVALUATION", "evaluations"): ("mae", "psnr", "ssim"),
    }
    TRAINED_KEYS = (
        ("network", "name"), ("network", "network_args"), ("network", "normalisation"), ("network", "whitening"),
        ("network", "histogram_ref_file"), ("network", "norm_type"), ("network", "cutoff"),
        ("network", "window_sampling"), ("inputs", "pixdim"), ("inputs", "axcodes"), ("inputs", "interp_order"),
        ("app", "noise_size"), ("app", "intensity_range"))

    def __init__(self, cfg: Any, action: str) -> None:
        if action != "evaluation" and str(cfg.training.loss_type).lower() != "crossentropy":
            raise ConfigError(f"Invalid value for `loss_type` in [TRAINING] of {cfg.path}: {cfg.training.loss_type} is "
                              "not a GAN loss; net_gan reads `loss` in [GAN] (cross_entropy, least_squares, wasserstein).")
        super().__init__(cfg, action)
        self.conditional = bool(cfg.app.conditioning)
        self.value_range = (0.0, 1.0)
        self.conditioning_scale = 1.0
        self.output_affine: Any = None
        self.noise_size = int(cfg.app.noise_size)
        self.image_channels = max(1, len(cfg.app.image or ()))
        self.conditioning_channels = len(cfg.app.conditioning or ())
        self._models: dict[str, Any] = {}
        self._seed = 0

    # ------------------------------------------------------------------ declarations
    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """Images (and conditioning) to train; the conditioning to infer; images to evaluate."""
        app = self.cfg.app
        conditioning = {"conditioning": tuple(app.conditioning)} if app.conditioning else {}
        if action == "train":
            return {"image": tuple(app.image), **conditioning}
        if action == "inference":
            return conditioning
        return {"image": tuple(app.image)}

    def output_channels(self) -> int:
        """The image's channels."""
        return self.image_channels

    def discriminator_steps(self) -> int:
        """``[GAN] discriminator_steps``."""
        return int(self.cfg.app.discriminator_steps)

    def best_rule(self) -> BestRule:
        """Conditional: the validation images' mean absolute error (lower is better). Unconditional: no
        scalar measures a GAN's samples; the default rule's ``loss`` is not one the adversarial step
        reports, so no checkpoint is marked best and inference takes the last."""
        return BestRule("mean_absolute_error", "min") if self.conditional else self.BEST

    def checkpoint_info(self) -> dict[str, Any]:
        """The shapes, the conditioning's scale and the affine of generated images."""
        return {"window": list(self.layout.window), "image_channels": self.image_channels,
                "conditioning_channels": self.conditioning_channels, "conditioning_scale": self.conditioning_scale,
                "output_affine": self.output_affine}

    def configure_from_checkpoint(self, info: dict[str, Any]) -> None:
        """What :meth:`checkpoint_info` saved."""
        self.image_channels = int(info.get("image_channels", self.image_channels))
        self.conditioning_channels = int(info.get("conditioning_channels", self.conditioning_channels))
        self.conditioning_scale = float(info.get("conditioning_scale", 1.0))
        self.output_affine = info.get("output_affine")

    # ------------------------------------------------------------------ preparing
    def prepare(self) -> None:
        """Training: the data, the intensity range, the conditioning's scale and the noise seed.
        Inference: the saved range, then the conditioning inputs (if any)."""
        if self.action == "evaluation":
            from voxflow.applications.regression_evaluation import continuous_metrics  # noqa: PLC0415

            continuous_metrics(self.cfg, "a generated image")
            return
        if self.action == "inference":
            self.value_range = generative.load_range(self.cfg.system.model_dir)
            if not self.conditional:
                self.output_writer()
                return
        super().prepare()
        if self.action != "train":
            return
        self.image_channels = self.data.channels("image") or self.image_channels
        self.value_range = generative.learn_range(generative.training_arrays(self.data, "image"),
                                                  tuple(float(v) for v in self.cfg.app.intensity_range),
                                                  self.cfg.system.model_dir, "[GAN] image")
        self.output_affine = generative.first_window_affine(self.data, self.layout.window)
        if self.conditional:
            maps = generative.training_arrays(self.data, "conditioning")
            self.conditioning_channels = int(maps[0].shape[-1])
            largest = max(float(np.abs(m).max()) for m in maps)
            self.conditioning_scale = largest if largest > 0 else 1.0
        seed = self.cfg.system.seed
        self._seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % (2 ** 31))

    def _prepare_augmentation(self) -> None:
        """GANs here train without augmentation (the discriminator would learn the augmented images)."""
        if self.cfg.augmentation.keys():
            log.warning("notice: net_gan does not augment: [AUGMENTATION] ignored")

    def _check_network_fits(self) -> None:
        """The pair checks its window when built."""

    # ------------------------------------------------------------------ data
    def training_dataset(self, worker: int) -> Any:
        """Real windows with two fresh noise draws each (``noise_d``, ``noise_g``), seeded per element."""
        import tensorflow as tf  # noqa: PLC0415

        windows = self.data.training_dataset(worker, seeded=False)
        size, seed = self.noise_size, self._seed

        def with_noise(element: dict, index: tf.Tensor) -> dict:
            base = tf.stack([tf.constant(seed, tf.int64) * 1009 + worker, 2 * index])
            return {**element, "noise_d": tf.random.stateless_normal([size], seed=base),
                    "noise_g": tf.random.stateless_normal([size], seed=base + tf.constant([0, 1], tf.int64))}

        return tf.data.Dataset.zip((windows, tf.data.Dataset.counter())).map(with_noise)

    def validation_dataset(self) -> Any:
        """Validation windows with noise fixed per element."""
        import tensorflow as tf  # noqa: PLC0415

        windows = self.data.validation_dataset()
        if windows is None:
            return None
        size = self.noise_size

        def with_noise(element: dict, index: tf.Tensor) -> dict:
            noise = tf.random.stateless_normal([size], seed=tf.stack([tf.constant(7, tf.int64), index]))
            return {**element, "noise_d": noise, "noise_g": noise}

        return tf.data.Dataset.zip((windows, tf.data.Dataset.counter())).map(with_noise)

    # ------------------------------------------------------------------ models
    def build_models(self) -> dict[str, Any]:
        """The generator and the discriminator of the pair named in ``[NETWORK]``, built."""
        import keras  # noqa: PLC0415

        from voxflow import registry  # noqa: PLC0415
        from voxflow.networks.gan import GANPair  # noqa: PLC0415

        cfg = self.cfg.network
        pair_class = self._network_class()
        if not (isinstance(pair_class, type) and issubclass(pair_class, GANPair)):
            raise ConfigError(f"[NETWORK] name = {cfg.name} is not a GAN pair: net_gan needs simple_gan, simulator_gan or "
                              "a subclass of voxflow.networks.gan.GANPair.")
        if pair_class.CONDITIONAL and not self.conditioning_channels:
            raise ConfigError(f"[NETWORK] name = {cfg.name} is conditional: set `conditioning` in [GAN] to the input "
                              "sections of its conditioning maps.")
        regulariser = keras.regularizers.L2(cfg.decay) if cfg.decay > 0 else None
        try:
            pair = pair_class(self.layout.network_window, self.image_channels, self.noise_size,
                              conditioning_channels=self.conditioning_channels, spatial_dims=self.layout.spatial_dims,
                              w_regularizer=regulariser, **dict(cfg.network_args or {}))
            generator, discriminator = pair.build()
            conditioning = self._example_conditioning()
            noise = np.zeros((1, self.noise_size), np.float32)
            image = self.layout.example(self.image_channels)
            # conditional models are first called with one input, the pair (as Keras saves them)
            generator(noise if conditioning is None else [noise, conditioning], training=False)
            discriminator(image if conditioning is None else [image, conditioning], training=False)
        except (TypeError, ValueError) as err:
            plugin = "" if registry.is_builtin("network", cfg.name) else " (plugin)"
            raise ConfigError(f"Invalid [NETWORK] for {cfg.name}{plugin} in [GAN]: {err}") from err
        self._models = {self.GENERATOR: generator, self.DISCRIMINATOR: discriminator}
        return dict(self._models)

    def _example_conditioning(self) -> Any:
        return self.layout.example(self.conditioning_channels) if self.conditioning_channels else None

    def _real(self, batch: dict) -> Any:
        return generative.to_unit(self.network_input(batch), self.value_range, low=-1.0)

    def _conditioning(self, batch: dict) -> Any:
        if not self.conditioning_channels:
            return None
        import tensorflow as tf  # noqa: PLC0415

        return tf.cast(self.layout.to_network(batch["conditioning"]), tf.float32) / self.conditioning_scale

    def forward(self, models: dict[str, Any], batch: dict, training: bool) -> Any:
        """Generated images ([−1, 1], network layout) from the batch's generator noise."""
        return models[self.GENERATOR](batch["noise_g"], self._conditioning(batch), training=training)

    def discriminator_losses(self, models: dict[str, Any], batch: dict) -> dict[str, Any]:
        """``[GAN] loss`` of the discriminator on real and generated images (plus WGAN-GP's penalty)."""
        import tensorflow as tf  # noqa: PLC0415

        from voxflow.losses.generative import discriminator_loss, gradient_penalty  # noqa: PLC0415

        generator, discriminator = models[self.GENERATOR], models[self.DISCRIMINATOR]
        conditioning = self._conditioning(batch)
        real = self._real(batch)
        fake = tf.stop_gradient(generator(batch["noise_d"], conditioning, training=True))
        kind = self.cfg.app.loss
        loss = discriminator_loss(kind, discriminator(real, conditioning, training=True),
                                  discriminator(fake, conditioning, training=True), float(self.cfg.app.real_label))
        if kind != "wasserstein" or not self.cfg.app.gradient_penalty:
            return {"d_loss": loss}
        penalty = gradient_penalty(discriminator, real, fake, conditioning)
        return {"d_adversarial": loss, "d_gradient_penalty": float(self.cfg.app.gradient_penalty) * penalty}

    def generator_losses(self, models: dict[str, Any], batch: dict) -> dict[str, Any]:
        """``[GAN] loss`` of the generator: the discriminator's verdict on fresh generated images (and, with
        ``reconstruction_weight``, their mean absolute error to the real images on the [0, 1] scale)."""
        import tensorflow as tf  # noqa: PLC0415

        from voxflow.losses.generative import generator_loss  # noqa: PLC0415

        conditioning = self._conditioning(batch)
        fake = models[self.GENERATOR](batch["noise_g"], conditioning, training=True)
        adversarial = generator_loss(self.cfg.app.loss, models[self.DISCRIMINATOR](fake, conditioning, training=True))
        weight = float(self.cfg.app.reconstruction_weight)
        if not (self.conditional and weight):
            return {"g_loss": adversarial}
        return {"g_adversarial": adversarial,
                "g_reconstruction": weight * tf.reduce_mean(tf.abs(fake - self._real(batch))) / 2.0}

    def validation_metrics(self, batch: dict, outputs: Any) -> dict[str, float]:
        """Conditional: the generated images' mean absolute error to the real ones, on the [0, 1] scale."""
        if not self.conditional:
            return {}
        error = np.abs(np.asarray(outputs) - np.asarray(self._real(batch))) / 2.0
        return {"mean_absolute_error": float(error.mean())}

    def summary_images(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """A grid of images generated from a fixed noise batch (the batch's conditioning), and the real ones."""
        generator = self._models.get(self.GENERATOR)
        if generator is None:
            return {}
        count = min(16, int(np.asarray(batch["noise_g"]).shape[0]))
        noise = np.random.default_rng(12345).normal(size=(count, self.noise_size)).astype(np.float32)
        conditioning = self._conditioning(batch)
        conditioning = None if conditioning is None else conditioning[:count]
        fake = np.asarray(self.layout.from_network(generator(noise, conditioning, training=False)))
        real = np.asarray(self.layout.from_network(self._real(batch)))
        return {"generated": [fake[i, ..., 0] for i in range(count)], "real": [real[i, ..., 0] for i in range(count)]}

    # ------------------------------------------------------------------ export, evaluation
    def serving_model(self, models: dict[str, Any]) -> Any:
        """The generator."""
        return models[self.GENERATOR]

    def example_input(self) -> np.ndarray:
        """Unconditional: a batch of one noise vector; conditional: one window of conditioning maps
        (the noise is then drawn inside the served function)."""
        if self.conditioning_channels:
            return self.layout.example(self.conditioning_channels)
        return np.zeros((1, self.noise_size), np.float32)

    def serving_outputs(self, model: Any, inputs: Any) -> dict[str, Any]:
        """``{"image": …}`` in [−1, 1] (``intensity_range.json`` maps it back)."""
        import tensorflow as tf  # noqa: PLC0415

        if self.conditioning_channels:
            noise = tf.random.normal([tf.shape(inputs)[0], self.noise_size])
            return {"image": model(noise, tf.cast(inputs, tf.float32) / self.conditioning_scale, training=False)}
        return {"image": model(inputs, None, training=False)}

    def evaluate(self) -> dict:
        """Each generated image against its subject's real image (conditional GANs: the simulator)."""
        from voxflow.applications.generative_evaluation import evaluate  # noqa: PLC0415

        return evaluate(self)

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines printed by the console script."""
        return generative.report(super(), action, result)

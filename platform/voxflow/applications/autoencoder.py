"""Autoencoder: a variational autoencoder of whole images — representation learning, NiftyNet's ``net_autoencoder``.

==========  =========================================  ============================================
action      reads                                      does
==========  =========================================  ============================================
train       image                                      each image resized to the window (``resize``),
                                                       into [0, 1]; minimises the negative ELBO,
                                                       shown as its two terms ``reconstruction`` and
                                                       ``kl``
inference   ``encode``: image                          the posterior mean and log-variance of each
                                                       image → ``<subject>_code<postfix>.nii.gz``
                                                       (the mean, NiftyNet's embedded image) and the
                                                       table ``codes<postfix>.csv``
            ``encode-decode``: image                   each image's reconstruction (the decoded
                                                       posterior mean), in the input's units
            ``sample``: nothing                        ``num_samples`` images decoded from codes
                                                       drawn from N(0, ``noise_stddev``²)
            ``linear_interpolation``: feature          ``n_interpolations`` images decoded along the
                                                       line between two subjects' codes, and a strip
                                                       PNG and GIF of them (``plot`` extra)
evaluation  image, the reconstructions                 MAE, PSNR and SSIM per subject, on the [0, 1]
                                                       scale of the training range → CSV
==========  =========================================  ============================================

NiftyNet's keys and meanings, with its quirks fixed: ``encode`` writes the posterior mean (NiftyNet
wrote a random draw), inference is deterministic, ``sample`` draws from N(0, ``noise_stddev``²) as
documented. The decoder's means end in a sigmoid, so images must be in [0, 1]: training learns the
range of the training images and maps every image into [0, 1] by it (:mod:`~.generative`); outputs
are mapped back. Reconstructions have the geometry of their subject's extent at the window's size;
samples and interpolations that of the first training image.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from voxflow.applications import generative
from voxflow.applications.dense import IMAGE_ROLE, TRAINED_PIPELINE_KEYS, DenseApplication
from voxflow.config import Key
from voxflow.config.arrays import FloatArrayType, StrArrayType
from voxflow.config.values import ChoiceType, FloatType, IntType
from voxflow.errors import ConfigError, DataError
from voxflow.roles import Kind, Role

log = logging.getLogger(__name__)

INFERENCE_TYPES = ("encode", "encode-decode", "sample", "linear_interpolation")
CODES_TABLE = "codes"


class AutoencoderApplication(DenseApplication):
    """Images to latent codes and back (see the module docstring)."""

    SECTION = "AUTOENCODER"
    ALIASES = ("autoencoder", "net_autoencoder")
    CONSOLE_SCRIPT = "net_autoencoder"
    OUTPUT_NAME = "image"
    STATE_FILES = (generative.RANGE_FILE,)
    ROLES = (
        IMAGE_ROLE,
        Role("feature", Kind.VALUE, "Input section of latent codes for `linear_interpolation`: the "
             "`<subject>_code` images `encode` wrote (NiftyNet's embedded features), or a `csv_data_file` of codes.",
             read_by=("inference",)),
    )
    KEYS = (
        Key("inference_type", ChoiceType(INFERENCE_TYPES), "encode-decode", "What inference writes: `encode` (latent "
            "codes), `encode-decode` (reconstructions), `sample` (images decoded from random codes) or "
            "`linear_interpolation` (images decoded between two subjects' codes)."),
        Key("noise_stddev", FloatType(0.0), 1.0, "Standard deviation of the codes `sample` draws (the prior's is 1)."),
        Key("n_interpolations", IntType(2), 10, "Images along each `linear_interpolation` line, both ends included."),
        Key("num_samples", IntType(1), 10, "Images `sample` writes (new in voxflow; NiftyNet wrote one per input)."),
        Key("interpolation_pairs", StrArrayType(example="colin27:icbm2009c"), (), "Pairs of subjects whose codes `linear_interpolation` "
            "joins, as `a:b` (new in voxflow); unset: each subject with the next, in order."),
        Key("likelihood", ChoiceType(("gaussian", "bernoulli")), "gaussian", "The reconstruction term: `gaussian` "
            "(NiftyNet's: per-voxel means and learnt variances; on images with a constant background the variances "
            "there can shrink without bound and dominate training) or `bernoulli` (binary cross-entropy of the "
            "[0, 1] image and the means, MONAI's tutorial; new in voxflow)."),
        Key("kl_weight", FloatType(0.0), 1.0, "Weight of the KL term of the loss (β of a β-VAE; 1: the ELBO; new in "
            "voxflow)."),
        Key("intensity_range", FloatArrayType((2,), 0.0, 100.0, increasing=True, example="0.5, 99.5"), (0.0, 100.0), "Percentiles of the training images' voxels that map "
            "to 0 and 1 (new in voxflow): `0, 100` is their minimum and maximum; `0.5, 99.5` clips outliers."),
    )
    SHARED_DEFAULTS = {
        ("NETWORK", "name"): "vae",
        ("NETWORK", "window_sampling"): "resize",
        ("NETWORK", "activation_function"): "selu",
        ("TRAINING", "loss_type"): "VariationalLowerBound",
        ("INFERENCE", "output_postfix"): "_generated",
        ("EVALUATION", "evaluations"): ("mae", "psnr", "ssim"),
    }
    TRAINED_KEYS = (*TRAINED_PIPELINE_KEYS, ("network", "window_sampling"), ("app", "intensity_range"),
                    ("app", "likelihood"))

    def __init__(self, cfg: Any, action: str) -> None:
        super().__init__(cfg, action)
        self.value_range = (0.0, 1.0)
        self.output_affine: Any = None
        self.mode = cfg.app.inference_type if action == "inference" else None
        self._loss_fn: Any = None
        self.percentiles = tuple(float(v) for v in cfg.app.intensity_range)

    # ------------------------------------------------------------------ declarations
    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """The image (its window is the network's; ``sample`` and ``linear_interpolation`` read no
        image: the codes of ``linear_interpolation`` are read by :meth:`_read_codes`)."""
        return {"image": tuple(self.cfg.app.image)}

    def output_channels(self) -> int:
        """The image's channels."""
        return self.channels

    def checkpoint_info(self) -> dict[str, Any]:
        """The input shape and the affine of generated images."""
        return {**super().checkpoint_info(), "output_affine": self.output_affine}

    def configure_from_checkpoint(self, info: dict[str, Any]) -> None:
        """The saved input shape and output affine."""
        super().configure_from_checkpoint(info)
        self.output_affine = info.get("output_affine")
        if self.action == "export":  # the served function maps its inputs by the training range
            self.value_range = generative.load_range(self.cfg.system.model_dir)

    # ------------------------------------------------------------------ preparing
    def prepare(self) -> None:
        """Training: the data, then the intensity range. Inference: the saved range, then the images
        (``encode``, ``encode-decode``), nothing (``sample``) or the codes (``linear_interpolation``)."""
        if self.action == "evaluation":
            from voxflow.applications.regression_evaluation import continuous_metrics  # noqa: PLC0415

            continuous_metrics(self.cfg, "a reconstruction")
            return
        if self.action == "inference":
            self.value_range = generative.load_range(self.cfg.system.model_dir)
            if self.mode == "sample":
                self.output_writer()
                return
            if self.mode == "linear_interpolation":
                self._codes = self._read_codes()
                self.output_writer()
                return
        super().prepare()
        if self.action == "train":
            images = generative.training_arrays(self.data, "image")
            self.value_range = generative.learn_range(images, self.percentiles, self.cfg.system.model_dir,
                                                      "[AUTOENCODER] image")
            self.output_affine = generative.first_window_affine(self.data, self.layout.window)

    def prepare_training(self) -> None:
        """The loss: the negative ELBO (NiftyNet's ``VariationalLowerBound``, shown as its two terms), or a
        plugin ``loss(images, outputs, weight=None)`` of the images in [0, 1] and the VAE's outputs."""
        from voxflow import registry  # noqa: PLC0415

        name = str(self.cfg.training.loss_type)
        if name.lower() == "variationallowerbound":
            return
        if registry.is_builtin("loss", name):
            raise ConfigError(f"Invalid value for `loss_type` in [TRAINING] of {self.cfg.path}: {name} is not an "
                              "autoencoder loss. Expected VariationalLowerBound, or a dotted path.")
        from voxflow.losses import get_loss  # noqa: PLC0415 - TensorFlow on demand

        self._loss_fn = get_loss(name, search_dirs=(self.cfg.config_dir,))

    # ------------------------------------------------------------------ model
    def build_models(self) -> dict[str, Any]:
        """The VAE of ``[NETWORK]`` for the window, built on one example window."""
        return {"network": self.build_network()}

    def build_network(self) -> Any:
        """``[NETWORK] name`` (``vae`` or a plugin with the same ``encode``/``decode``/``call``) with its
        ``network_args``."""
        import keras  # noqa: PLC0415

        from voxflow import registry  # noqa: PLC0415

        cfg = self.cfg.network
        regulariser = None
        if cfg.decay > 0:
            regulariser = keras.regularizers.L1(cfg.decay) if cfg.reg_type == "L1" else keras.regularizers.L2(cfg.decay)
        net_class = self._network_class()
        kwargs = dict(window=self.layout.network_window, channels=self.channels, spatial_dims=self.layout.spatial_dims,
                      acti_func=cfg.activation_function or "selu", w_regularizer=regulariser,
                      seed=self.cfg.system.seed, **dict(cfg.network_args or {}))
        if self.cfg.app.likelihood == "bernoulli" and registry.is_builtin("network", cfg.name):
            kwargs.setdefault("learn_variance", False)  # a Bernoulli likelihood reads no variances
        if cfg.weight_initializer and cfg.weight_initializer != "he_normal":
            kwargs["w_initializer"] = cfg.weight_initializer
        try:
            model = net_class(**kwargs)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"Invalid [NETWORK] for {cfg.name} in [AUTOENCODER]: {err}") from err
        for method in ("encode", "decode"):
            if not callable(getattr(model, method, None)):
                kind = "plugin " if not registry.is_builtin("network", cfg.name) else ""
                raise ConfigError(f"[NETWORK] name = {cfg.name} is not a variational autoencoder: the {kind}network has "
                                  f"no `{method}` method (net_autoencoder needs encode(images) -> (mean, logvar) and "
                                  "decode(codes) -> (means, logvars)).")
        model(self.example_input(), training=False)
        return model

    def forward(self, models: dict[str, Any], batch: dict, training: bool) -> dict[str, Any]:
        """The VAE's outputs for the batch mapped into [0, 1] (kept as ``input``)."""
        images = generative.to_unit(self.network_input(batch), self.value_range)
        return {**models["network"](images, training=training), "input": images}

    def losses(self, batch: dict, outputs: dict[str, Any]) -> dict[str, Any]:
        """``reconstruction`` (the ``likelihood``'s negative log-likelihood) and ``kl`` (times ``kl_weight``);
        or the plugin loss."""
        from voxflow.losses.generative import bernoulli_nll, gaussian_nll, kl_divergence  # noqa: PLC0415

        if self._loss_fn is not None:
            return {"loss": self._loss_fn(outputs["input"], outputs, None)}
        kl = kl_divergence(outputs["posterior_mean"], outputs["posterior_logvar"])
        if self.cfg.app.likelihood == "bernoulli":
            reconstruction = bernoulli_nll(outputs["input"], outputs["data_mean"])
        else:
            reconstruction = gaussian_nll(outputs["input"], outputs["data_mean"], outputs["data_logvar"])
        return {"reconstruction": reconstruction, "kl": float(self.cfg.app.kl_weight) * kl}

    def validation_metrics(self, batch: dict, outputs: dict[str, Any]) -> dict[str, float]:
        """The reconstructions' mean absolute error on the [0, 1] scale."""
        error = np.abs(np.asarray(outputs["data_mean"]) - np.asarray(outputs["input"]))
        return {"mean_absolute_error": float(error.mean())}

    def summary_images(self, batch: dict, outputs: dict[str, Any]) -> dict[str, Any]:
        """The first window and its reconstruction ([0, 1])."""
        first = [np.asarray(self.layout.from_network(outputs[key]))[0, ..., 0] for key in ("input", "data_mean")]
        return {"image": first[0], "reconstruction": first[1]}

    # ------------------------------------------------------------------ inference
    def output_writer(self) -> Any:
        """Codes (``encode``: an image and a table row per subject) or images (the other modes)."""
        if self.outputs is None:
            from voxflow.data.writers import CodeWriter, WindowImageWriter  # noqa: PLC0415

            inference = self.cfg.inference
            subjects = self.data.infer_subjects if self.data is not None else ()
            if self.mode == "encode":
                self.outputs = CodeWriter(inference.save_seg_dir, inference.output_postfix, subjects, name=CODES_TABLE)
            else:
                self.outputs = WindowImageWriter(inference.save_seg_dir, inference.output_postfix, subjects,
                                                 what="generated image")
        return self.outputs

    def inference_items(self) -> Any:
        """Subjects (``encode``, ``encode-decode``), sample numbers, or pairs of subjects."""
        if self.mode == "sample":
            return range(int(self.cfg.app.num_samples))
        if self.mode == "linear_interpolation":
            return self._pairs()
        return self.data.infer_subjects

    def predictor(self, models: dict[str, Any]) -> Any:
        """Compiled ``encode`` (images in [0, 1] → mean, log-variance) or ``decode`` (codes → means)."""
        import tensorflow as tf  # noqa: PLC0415

        network = models["network"]
        self._latent = int(network.encode(self.example_input(), training=False)[0].shape[-1])

        @tf.function(reduce_retracing=True)
        def encode(windows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return network.encode(generative.to_unit(windows, self.value_range), training=False)

        @tf.function(reduce_retracing=True)
        def decode(codes: tf.Tensor) -> tf.Tensor:
            return network.decode(codes, training=False)[0]

        if self.mode == "encode":
            return encode
        if self.mode == "encode-decode":
            return lambda windows: decode(encode(windows)[0])
        return decode

    def predict_item(self, predict: Any, item: Any, strategy: Any) -> Any:
        """The item's output (see the module docstring), images in window layout and input units."""
        if self.mode == "sample":
            rng = generative.seeded_rng(self.cfg, stream=int(item))
            code = rng.normal(0.0, float(self.cfg.app.noise_stddev), (1, self._latent_size())).astype(np.float32)
            return self._images(predict(code))[0]
        if self.mode == "linear_interpolation":
            first, second = (self._codes[s] for s in item)
            weights = np.linspace(0.0, 1.0, int(self.cfg.app.n_interpolations), dtype=np.float32)[:, None]
            return self._images(predict((1.0 - weights) * first[None] + weights * second[None]))
        from voxflow.data.aggregators import resize_volume  # noqa: PLC0415
        from voxflow.data.writers import window_affine  # noqa: PLC0415

        loaded = self.pre.load(item)
        window = resize_volume(loaded.arrays["image"], self.layout.window, order=1)[None].astype(np.float32)
        affine = window_affine(loaded.geometry, self.layout.window)
        if self.mode == "encode":
            mean, logvar = predict(self.layout.to_network(window))
            return np.asarray(mean)[0], np.asarray(logvar)[0], affine
        return self._images(predict(self.layout.to_network(window)))[0], affine

    def _images(self, means: Any) -> np.ndarray:
        """Decoded means (network layout, [0, 1]) → window layout in the input's units."""
        return generative.from_unit(np.asarray(self.layout.from_network(means)), self.value_range)

    def write_item(self, writer: Any, item: Any, prediction: Any) -> None:
        """Write the item's output (see the module docstring)."""
        affine = None if self.output_affine is None else np.asarray(self.output_affine)
        if self.mode == "sample":
            writer.write(f"sample_{int(item)}", prediction, affine)
        elif self.mode == "linear_interpolation":
            name = f"{item[0]}_{item[1]}"
            for k, image in enumerate(prediction):
                writer.write(f"{name}_{k}", image, affine, subject_id=name)
            generative.write_strip(os.path.join(writer.folder, f"{name}_interpolation{writer.postfix}"), list(prediction))
        elif self.mode == "encode":
            mean, logvar, image_affine = prediction
            writer.write(item.id, mean, logvar, image_affine)
        else:
            image, image_affine = prediction
            writer.write(item.id, image, image_affine, subject_id=item.id)

    def _latent_size(self) -> int:
        return int(self._latent)

    # ------------------------------------------------------------------ codes
    def _read_codes(self) -> dict[str, np.ndarray]:
        """``{subject: code}`` of the ``feature`` sections: a ``csv_data_file`` row, or the values of an image."""
        from voxflow.data.preprocessing.reading import read_volume  # noqa: PLC0415
        from voxflow.data.subjects import find_subjects, read_subject_values  # noqa: PLC0415

        if not self.cfg.app.feature:
            raise ConfigError(f"[AUTOENCODER] inference_type = linear_interpolation in {self.cfg.path} reads latent codes: "
                              "set `feature` to the input section of the codes `encode` wrote.")
        section = self.cfg.app.feature[0]
        codes = {}
        for subject in find_subjects(self.cfg, sections=(section,)):
            if getattr(self.cfg.inputs[section], "csv_data_file", ""):
                codes[subject.id] = np.asarray(read_subject_values(subject.files[section], section, subject.id), np.float32)
            else:
                codes[subject.id] = np.asarray(read_volume(subject.files[section], section).data, np.float32).ravel()
        sizes = {code.size for code in codes.values()}
        if len(codes) < 2:
            raise DataError(f"linear_interpolation needs the codes of two subjects in [{section}]; found {len(codes)}.")
        if len(sizes) != 1:
            raise DataError(f"The codes in [{section}] have different lengths ({sorted(sizes)}).")
        return codes

    def _pairs(self) -> list[tuple[str, str]]:
        written = [str(p) for p in self.cfg.app.interpolation_pairs]
        if not written:
            ids = sorted(self._codes)
            return list(zip(ids[:-1], ids[1:]))
        pairs = []
        for text in written:
            parts = text.split(":")
            if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
                raise ConfigError(f"Invalid value for `interpolation_pairs` in [AUTOENCODER] of {self.cfg.path}. "
                                  f"Expected pairs of two different subjects as a:b. Received: {text}.")
            pairs.append((parts[0], parts[1]))
        generative.check_pair_ids(pairs, list(self._codes), "[AUTOENCODER] interpolation_pairs")
        return pairs

    # ------------------------------------------------------------------ evaluation, export, report
    def evaluate(self) -> dict:
        """Each reconstruction against its input image: MAE, PSNR, SSIM on the [0, 1] scale."""
        from voxflow.applications.generative_evaluation import evaluate  # noqa: PLC0415

        return evaluate(self)

    def serving_outputs(self, model: Any, inputs: Any) -> dict[str, Any]:
        """``{"reconstruction", "mean", "logvar"}`` of windows in the input's units (the reconstruction in
        [0, 1]: ``intensity_range.json`` maps it back)."""
        mean, logvar = model.encode(generative.to_unit(inputs, self.value_range), training=False)
        return {"reconstruction": model.decode(mean, training=False)[0], "mean": mean, "logvar": logvar}

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines printed by the console script."""
        return generative.report(super(), action, result)

"""Regression: images (one or more sources as channels) → an image of continuous values, voxel by voxel.

==========  =====================================  ===========================================
action      reads                                  uses
==========  =====================================  ===========================================
train       image, output, weight?, sampler?       window sampler (``window_sampling``), loss
inference   image                                  grid sampler + blending → float32 images
evaluation  output, inferred outputs, mask?        continuous metrics → CSV
==========  =====================================  ===========================================

NiftyNet's ``[REGRESSION]`` keys and meanings: ``output`` is the target, ``loss_border`` voxels are
dropped from each side of a window before the loss, ``error_map`` makes inference also write the
squared error to the target (``model_dir/error_maps``) that a ``weighted`` training run can sample
by. The target is an intensity image that is never normalised by the input's histogram or
whitening and never intensity-augmented; ``output_normalisation`` scales it for training with
statistics learnt from the training targets and scales predictions back, so outputs are in the
target's units (Hounsfield units, probabilities ...). Any segmentation network regresses: its head
has one channel per target channel and no activation.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from voxflow.applications.dense import IMAGE_ROLE, TRAINED_PIPELINE_KEYS, DenseApplication
from voxflow.atomic import atomic_write_json
from voxflow.config import Key
from voxflow.config.values import BoolType, ChoiceType, IntType
from voxflow.errors import CheckpointError, ConfigError
from voxflow.roles import Kind, Role

log = logging.getLogger(__name__)

#: Where the target's learnt scaling is kept (in ``model_dir``).
TARGET_SCALING_FILE = "regression_target.json"
ERROR_MAPS = "error_maps"


class RegressionApplication(DenseApplication):
    """Images to continuous images of the target's channels, voxel by voxel."""

    SECTION = "REGRESSION"
    ALIASES = ("regression", "net_regress")
    CONSOLE_SCRIPT = "net_regress"
    OUTPUT_NAME = "regression output"
    STATE_FILES = (TARGET_SCALING_FILE,)
    ROLES = (
        IMAGE_ROLE,
        Role("output", Kind.INTENSITY, "Input section of the target images (regressed voxel by voxel).",
             intensity_transforms=False, normalised=False, required=("train", "evaluation")),
        Role("weight", Kind.WEIGHT, "Input section of voxel-wise loss weights."),
        Role("sampler", Kind.WEIGHT, "Input section of sampling-probability maps (weighted/balanced samplers), e.g. "
             "the error maps of an `error_map` inference."),
        Role("inferred", Kind.INTENSITY, "Input section of outputs to evaluate (evaluation action); unset = the "
             "outputs inference listed in `inferred.csv`.", intensity_transforms=False, normalised=False),
        Role("mask", Kind.LABEL, "Input section of masks (non-zero = inside) that evaluation also reports the "
             "metrics inside, e.g. a brain or head mask.", intensity_transforms=False),
    )
    KEYS = (
        Key("loss_border", IntType(0), 0, "Voxels dropped from each side of a window (each spatial axis wider than "
            "twice it) before the loss."),
        Key("error_map", BoolType(), False, "Inference also writes the squared error to the target "
            "(`<model_dir>/error_maps/<subject>.nii.gz`) for a `weighted` training run to sample by (NiftyNet's "
            "adaptive sampling); needs the `output` sections at inference."),
        Key("output_normalisation", ChoiceType(("none", "zscore", "range", "image")), "zscore",
            "How the target is scaled for training, inverted on output: `zscore` (mean and std of the training "
            "targets), `range` (their min and max to 0..1), `image` (each subject's target by its image's "
            "whitening, the first channel's mean and std: a model free of intensity units, e.g. restoration; "
            "needs `whitening = True`) or `none` (new in voxflow)."),
        Key("residual", BoolType(), False, "The network predicts a correction added to the first image channel "
            "(restoration: a degraded image plus what it lacks), so an untrained network already returns the "
            "image; the image must be in the target's units: no histogram normalisation, and whitening only with "
            "`output_normalisation = image` (new in voxflow)."),
    )
    SHARED_DEFAULTS = {
        ("TRAINING", "loss_type"): "RMSE",
        ("INFERENCE", "output_interp_order"): 1,
        ("INFERENCE", "output_postfix"): "_regressed",
        ("EVALUATION", "evaluations"): ("mae", "mse", "rmse", "nrmse", "psnr", "ssim", "r2", "ncc"),
    }
    TRAINED_KEYS = (*TRAINED_PIPELINE_KEYS, ("app", "output_normalisation"), ("app", "residual"))

    def __init__(self, cfg: Any, action: str) -> None:
        by_image = cfg.app.output_normalisation == "image"
        if action != "evaluation":
            if by_image and (not cfg.network.whitening or cfg.network.normalisation):
                raise ConfigError(f"[REGRESSION] output_normalisation = image in {cfg.path} puts the target in its "
                                  "image's whitened units: set [NETWORK] whitening = True and normalisation = False.")
            if cfg.app.residual and (cfg.network.normalisation or (cfg.network.whitening and not by_image)):
                raise ConfigError(f"[REGRESSION] residual = True in {cfg.path} adds the first image channel to the "
                                  "network's output, so the image must stay in the target's units: set [NETWORK] "
                                  "whitening = False and normalisation = False, or output_normalisation = image "
                                  "(the target whitened like its image).")
        super().__init__(cfg, action)
        self.target_channels = len(cfg.app.output or ()) or 1
        self.scaling = (0.0, 1.0)  # target = scaled · scale + offset: (offset, scale)
        self._loss_fn: Any = None

    # ------------------------------------------------------------------ declarations
    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """Image and target (and optional weight and sampling maps) to train; image (and target for
        ``error_map``) to infer; target (and mask) to evaluate."""
        app = self.cfg.app
        if action == "train":
            roles = {"image": tuple(app.image), "output": tuple(app.output)}
            roles.update({name: tuple(getattr(app, name)) for name in ("weight", "sampler") if getattr(app, name)})
            return roles
        if action == "inference":
            return {"image": tuple(app.image)}
        return {"output": tuple(app.output)}

    def output_channels(self) -> int:
        """One linear output per target channel."""
        return self.target_channels

    def checkpoint_info(self) -> dict[str, Any]:
        """The input shape and the target's channels and scaling (inference reads no target)."""
        return {**super().checkpoint_info(), "target_channels": self.target_channels,
                "target_scaling": list(self.scaling)}

    def configure_from_checkpoint(self, info: dict[str, Any]) -> None:
        """The target's channels and scaling saved by training."""
        super().configure_from_checkpoint(info)
        self.target_channels = int(info.get("target_channels", self.target_channels))
        if "target_scaling" in info:
            self.scaling = tuple(float(v) for v in info["target_scaling"])

    # ------------------------------------------------------------------ training
    def prepare(self) -> None:
        """The generic preparation; then the target's channels and scaling (train) or the saved
        scaling (inference)."""
        if self.action == "inference":
            self._load_scaling()
        super().prepare()
        if self.action == "train":
            self.target_channels = self.data.channels("output") or self.target_channels
            self._learn_scaling()

    def prepare_training(self) -> None:
        """The regression loss named by ``[TRAINING] loss_type`` (a segmentation loss is refused)."""
        from voxflow import registry  # noqa: PLC0415
        from voxflow.losses import get_loss  # noqa: PLC0415 - TensorFlow on demand
        from voxflow.losses.regression import REGRESSION_LOSSES  # noqa: PLC0415

        name = self.cfg.training.loss_type
        known = {key.lower() for key in REGRESSION_LOSSES}
        if registry.is_builtin("loss", name) and name.lower() not in known:
            raise ConfigError(f"Invalid value for `loss_type` in [TRAINING] of {self.cfg.path}: {name} is not a "
                              f"regression loss. Expected one of: {', '.join(REGRESSION_LOSSES)}, or a dotted path.")
        self._loss_fn = get_loss(name, search_dirs=(self.cfg.config_dir,))

    def _scaling_path(self) -> str:
        return os.path.join(self.cfg.system.model_dir, TARGET_SCALING_FILE)

    def _learn_scaling(self) -> None:
        """``(offset, scale)`` of the training targets for ``output_normalisation``, saved in model_dir."""
        mode = self.cfg.app.output_normalisation
        if mode in ("none", "image"):  # image: each subject's own whitening, applied on load
            self.scaling = (0.0, 1.0)
        else:
            targets = [v.arrays["output"] for v in self.data.train_volumes] or [
                self.data.volume_cache.get(i)["output"] for i in self.data.train_ids]
            values = np.concatenate([np.asarray(t, np.float64).ravel() for t in targets])
            if mode == "zscore":
                offset, scale = float(values.mean()), float(values.std())
            else:
                offset, scale = float(values.min()), float(values.max() - values.min())
            self.scaling = (offset, scale if scale > 0 else 1.0)
        atomic_write_json(self._scaling_path(), {"output_normalisation": mode, "offset": self.scaling[0],
                                                  "scale": self.scaling[1], "channels": self.target_channels})
        log.info("target scaling (%s): offset %g, scale %g", mode, *self.scaling)

    def _load_scaling(self) -> None:
        path = self._scaling_path()
        try:
            with open(path, encoding="utf-8") as handle:
                saved = json.load(handle)
            self.scaling = (float(saved["offset"]), float(saved["scale"]))
            self.target_channels = int(saved.get("channels", self.target_channels))
        except FileNotFoundError:
            raise CheckpointError(f"The target scaling of the trained model is missing: {path} (written by "
                                  "training). Train first, or point model_dir at a trained model.") from None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"Cannot read the target scaling {path}: {err}.") from None

    def _scaled_target(self, batch: dict, key: str = "output") -> Any:
        """A batch's targets (or other role) cropped to the output window and the loss border, scaled."""
        return self._border(self.layout.to_network(self.layout.crop_to_output(batch[key])))

    def _border(self, tensor: Any) -> Any:
        border = int(self.cfg.app.loss_border)
        if not border:
            return tensor
        slices = [slice(None)] + [slice(border, -border) if int(size) > 2 * border else slice(None)
                                  for size in tensor.shape[1:-1]] + [slice(None)]
        return tensor[tuple(slices)]

    def window_data_options(self) -> dict[str, Any]:
        """With ``output_normalisation = image``, the target takes its image's whitening on load."""
        if self.cfg.app.output_normalisation == "image":
            return {"whitened_like": {"output": "image"}}
        return {}

    def restore_units(self, prediction: np.ndarray, volume: Any) -> np.ndarray:
        """With ``output_normalisation = image``, the prediction back from the image's whitened units."""
        if self.cfg.app.output_normalisation != "image":
            return prediction
        means, stds = volume.whitening["image"]
        return prediction * float(stds[0]) + float(means[0])

    def build_network(self) -> Any:
        """The network; with ``residual``, its output layer (``head``) starts at zero, so the untrained
        network returns the image exactly and training learns only the correction (a plugin network
        without a ``head`` keeps its own initialisation)."""
        model = super().build_network()
        head = getattr(model, "head", None)
        if self.cfg.app.residual and head is not None:
            for weight in head.weights:
                weight.assign(np.zeros(weight.shape, dtype=weight.dtype))
        return model

    def _with_residual(self, outputs: Any, image: Any) -> Any:
        """``outputs`` (scaled target units) plus, with ``residual``, the first channel of ``image``
        (network layout, the input window) cropped to the outputs' centre and scaled the same way."""
        if not self.cfg.app.residual:
            return outputs
        import tensorflow as tf  # noqa: PLC0415

        offset, scale = self.scaling
        spatial = len(outputs.shape) - 2
        start = [0] + [(tf.shape(image)[1 + a] - tf.shape(outputs)[1 + a]) // 2 for a in range(spatial)] + [0]
        size = tf.concat([tf.shape(outputs)[:-1], [1]], axis=0)
        base = tf.slice(tf.cast(image, tf.float32), tf.stack(start), size)
        return outputs + (base - offset) / scale

    def losses(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """``[TRAINING] loss_type`` between the scaled target and the outputs (weight map applied if
        configured), inside ``loss_border``."""
        offset, scale = self.scaling
        outputs = self._with_residual(outputs, self.network_input(batch))
        target = (self._scaled_target(batch) - offset) / scale
        weight = self._scaled_target(batch, "weight") if "weight" in batch else None
        return {"loss": self._loss_fn(target, self._border(outputs), weight)}

    def validation_metrics(self, batch: dict, outputs: Any) -> dict[str, float]:
        """Mean absolute error in the target's units."""
        offset, scale = self.scaling
        outputs = self._with_residual(outputs, self.network_input(batch))
        error = np.abs(np.asarray(self._border(outputs)) * scale + offset - np.asarray(self._scaled_target(batch)))
        return {"mean_absolute_error": float(error.mean())}

    def summary_images(self, batch: dict, outputs: Any) -> dict[str, np.ndarray]:
        """Image, target and prediction (target units) of the first window's output part (un-augmented)."""
        offset, scale = self.scaling
        outputs = self._with_residual(outputs, self.network_input(batch))
        prediction = np.asarray(self.layout.from_network(outputs))[0, ..., 0] * scale + offset
        image, target = np.asarray(batch["image"]), np.asarray(batch["output"])
        margin = self.layout.margin if image.shape[1:4] != self.layout.window else (0, 0, 0)
        crop = (0, *(slice(m + c, m + c + w) for m, c, w in zip(margin, self.layout.output_crop,
                                                                 self.layout.output_window)), 0)
        return {"image": image[crop], "target": target[crop], "prediction": prediction.astype(np.float32)}

    # ------------------------------------------------------------------ inference
    def predict_windows(self, network: Any, windows: Any) -> Any:
        """The network's outputs in the target's units."""
        import tensorflow as tf  # noqa: PLC0415

        offset, scale = self.scaling
        outputs = self._with_residual(tf.cast(network(windows, training=False), tf.float32), windows)
        return outputs * scale + offset

    def write_item(self, writer: Any, subject: Any, prediction: tuple[np.ndarray, Any]) -> None:
        """The float32 output on the subject's grid; with ``error_map``, the squared error too."""
        super().write_item(writer, subject, prediction)
        if self.cfg.app.error_map:
            self._write_error_map(subject, *prediction)

    def _write_error_map(self, subject: Any, restored: np.ndarray, geometry: Any) -> None:
        from voxflow.data.preprocessing.reading import read_volume  # noqa: PLC0415
        from voxflow.data.subjects import find_subjects  # noqa: PLC0415
        from voxflow.io import write_image  # noqa: PLC0415

        section = self.cfg.app.output[0] if self.cfg.app.output else None
        if section is None:
            raise ConfigError("[REGRESSION] error_map = True needs the `output` sections (the targets) at inference.")
        targets = {s.id: s for s in find_subjects(self.cfg, sections=(section,))}
        if subject.id not in targets:
            raise ConfigError(f"[REGRESSION] error_map: subject '{subject.id}' has no target in [{section}].")
        target = read_volume(targets[subject.id].files[section], section).data
        if target.shape[:3] != restored.shape[:3]:
            raise ConfigError(f"[REGRESSION] error_map: the target of '{subject.id}' is not on its image's grid "
                              f"({target.shape[:3]} vs {restored.shape[:3]}).")
        folder = os.path.join(self.cfg.system.model_dir, ERROR_MAPS)
        os.makedirs(folder, exist_ok=True)
        error = np.sum(np.square(restored.reshape(target.shape) - target), axis=-1)
        write_image(os.path.join(folder, f"{subject.id}.nii.gz"), error.astype(np.float32), geometry.affine,
                    reference=geometry.reference)

    # ------------------------------------------------------------------ evaluation, report
    def evaluate(self) -> dict:
        """Continuous metrics of the inferred outputs against the targets, to CSV."""
        from voxflow.applications.regression_evaluation import evaluate  # noqa: PLC0415

        return evaluate(self)

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines printed by the console script."""
        if action == "evaluation":
            return (f"evaluation of {result['subjects']} subject(s) written to {result['csv']} "
                    f"(statistics in {result['statistics_csv']}); over subjects:\n{result['statistics']}")
        return super().report(action, result)

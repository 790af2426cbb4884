"""Segmentation: images (one or more sources as channels) → a label map of ``num_classes``.

==========  =====================================  ===========================================
action      reads                                  uses
==========  =====================================  ===========================================
train       image, label, weight?, sampler?        window sampler (``window_sampling``), loss
inference   image                                  grid sampler + blending, softmax → labels
evaluation  label, inferred outputs                metrics → CSV
==========  =====================================  ===========================================

Everything generic — windows, data, augmentation, network building, grid inference — comes from
:class:`~voxflow.applications.dense.DenseApplication`; this file holds segmentation's own
declarations, loss, metrics and evaluation. Nothing here imports TensorFlow at module level, so
the CLI can validate a config before paying for TensorFlow's start-up.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from voxflow.applications import segmentation_evaluation as evaluation
from voxflow.applications.dense import IMAGE_ROLE, TRAINED_PIPELINE_KEYS, DenseApplication
from voxflow.config import Key
from voxflow.config.arrays import IntArrayType
from voxflow.config.paths import PathType
from voxflow.config.values import BoolType, ChoiceType, FloatType, IntType
from voxflow.roles import Kind, Role

log = logging.getLogger(__name__)


class SegmentationApplication(DenseApplication):
    """Images (one or more sections as channels) to a label map of num_classes, voxel by voxel."""

    SECTION = "SEGMENTATION"
    ALIASES = ("segmentation", "net_segment")
    CONSOLE_SCRIPT = "net_segment"
    OUTPUT_NAME = "segmentation"
    STATE_FILES = ("label_map.json",)
    ROLES = (
        IMAGE_ROLE,
        Role("label", Kind.LABEL, "Input section of the label maps.", required=("train", "evaluation")),
        Role("weight", Kind.WEIGHT, "Input section of voxel-wise loss weights.", read_by=("train",)),
        Role("sampler", Kind.WEIGHT, "Input section of sampling-probability maps (weighted/balanced samplers).",
             read_by=("train",)),
        Role("inferred", Kind.LABEL, "Input section of segmentations to evaluate (evaluation action); unset = the "
             "outputs inference listed in `inferred.csv`."),
    )
    KEYS = (
        Key("num_classes", IntType(2), None, "Number of classes including background.", required=True),
        Key("output_prob", BoolType(), False, "Write class probabilities instead of the label map."),
        Key("label_normalisation", BoolType(), False, "Map the training label values to 0..K-1 (undone on output)."),
        Key("evaluation_units", ChoiceType(("label", "foreground", "cc")), "label",
            "What evaluation compares: each label, foreground (all labels > 0) vs background, or each connected "
            "component (`cc`) (≠NiftyNet: default `label`, not `foreground`)."),
        Key("compulsory_labels", IntArrayType(minimum=0, example="0, 1"), (0, 1),
            "`window_sampling = selective`: labels every window must contain (values after `label_normalisation`)."),
        Key("min_numb_labels", IntType(0), 1,
            "`window_sampling = selective`: the least number of labels in a window, compulsory ones included."),
        Key("min_sampling_ratio", FloatType(0.0, 1.0), 0.0,
            "`window_sampling = selective`: the least share of a window's voxels for a label to count as present "
            "(and at least one voxel)."),
        Key("proba_connect", BoolType(), True,
            "`window_sampling = selective`: draw windows so that each connected component of the compulsory labels "
            "other than 0 is equally likely, whatever its size (≠NiftyNet: by component, not by rounded mean size)."),
        Key("rand_samples", IntType(0), 0,
            "`window_sampling = selective`: of each volume's `sample_per_volume` windows, this many are uniform "
            "windows that ignore the rule (fewer than `sample_per_volume`)."),
        Key("window_centres_file", PathType(), "",
            "`window_sampling = patch`: CSV of `subject_id,x,y,z` rows, window centres in voxels of each subject's "
            "first image file. NiftyNet's form, `sampler` naming an input section whose `csv_data_file` lists them, "
            "is read as this key (with a notice)."),
    )
    # Keys that define a trained model: inference and evaluation take them from settings_train.ini.
    TRAINED_KEYS = (*TRAINED_PIPELINE_KEYS, ("app", "num_classes"), ("app", "label_normalisation"))

    def __init__(self, cfg: Any, action: str) -> None:
        self.num_classes = int(cfg.app.num_classes)
        _niftynet_centres_section(cfg)
        self._loss_fn: Any = None
        self.evaluation_plan: Any = None  # segmentation_evaluation.EvaluationPlan, made by prepare()
        super().__init__(cfg, action)  # evaluation: no window, network or data pipeline

    # ------------------------------------------------------------------ declarations
    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """Image and label (and the optional weight and sampling maps) to train; image to infer; label
        to evaluate."""
        app = self.cfg.app
        if action == "train":
            roles = {"image": tuple(app.image), "label": tuple(app.label)}
            roles.update({name: tuple(getattr(app, name)) for name in ("weight", "sampler") if getattr(app, name)})
            return roles
        if action == "inference":
            return {"image": tuple(app.image)}
        return {"label": tuple(app.label)}

    def output_channels(self) -> int:
        """One logit per class."""
        return self.num_classes

    def output_activation(self, outputs: Any) -> Any:
        """Class probabilities: the softmax of the logits."""
        import tensorflow as tf  # noqa: PLC0415

        return tf.nn.softmax(outputs, axis=-1)

    def to_output(self, restored: np.ndarray) -> np.ndarray:
        """Probabilities with ``output_prob``, else the argmax in the original label values."""
        if self.cfg.app.output_prob:
            return restored.astype(np.float32)
        return self.pre.labels_to_original(np.argmax(restored, axis=-1))

    # ------------------------------------------------------------------ training
    def prepare(self) -> None:
        """Evaluation: the metrics, the pairs of files and the labels to compare, before any work
        (:func:`~voxflow.applications.segmentation_evaluation.plan`); the other actions: the generic
        preparation."""
        if self.action == "evaluation":
            self.evaluation_plan = evaluation.plan(self)
            return
        super().prepare()

    def prepare_training(self) -> None:
        """The loss named by ``[TRAINING] loss_type``."""
        from voxflow.losses import get_loss  # noqa: PLC0415 - TensorFlow on demand

        self._loss_fn = get_loss(self.cfg.training.loss_type, search_dirs=(self.cfg.config_dir,))

    def losses(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """``[TRAINING] loss_type`` on a batch of logits (weight map applied if configured)."""
        target = lambda key: self.layout.to_network(self.layout.crop_to_output(batch[key]))  # noqa: E731
        weight = target("weight") if "weight" in batch else None
        return {"loss": self._loss_fn(target("label"), outputs, weight)}

    def validation_metrics(self, batch: dict, logits: Any) -> dict[str, float]:
        """Per-class Dice of the argmax prediction on one (local) batch."""
        from voxflow.evaluation.metrics import per_class_dice  # noqa: PLC0415

        prediction = np.argmax(np.asarray(self.layout.from_network(logits)), axis=-1)
        reference = np.asarray(self.layout.crop_to_output(batch["label"]))[..., 0].astype(np.int64)
        dice = per_class_dice(reference, prediction, self.num_classes)
        return {f"dice_class_{k}": float(dice[k]) for k in range(1, self.num_classes)}

    def summary_images(self, batch: dict, logits: Any) -> dict[str, np.ndarray]:
        """Image, label and prediction of the first window, for TensorBoard (un-augmented, centre crop)."""
        window = self.layout.output_window
        prediction = np.argmax(np.asarray(self.layout.from_network(logits))[0], axis=-1)
        margin = self.layout.margin if np.asarray(batch["image"]).shape[1:4] != self.layout.window else (0, 0, 0)
        crop = (0, *(slice(int(m + c), int(m + c) + w) for m, c, w in zip(margin, self.layout.output_crop, window)), 0)
        return {"image": np.asarray(batch["image"])[crop], "label": np.asarray(batch["label"])[crop],
                "prediction": prediction.astype(np.float32)}

    # ------------------------------------------------------------------ evaluation, report
    def evaluate(self) -> dict:
        """Metrics of the inferred outputs against the labels, to CSV."""
        return evaluation.evaluate(self)

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines printed by the console script."""
        return evaluation.report(action, result)


def _niftynet_centres_section(cfg: Any) -> None:
    """NiftyNet's CSV sampler: ``window_sampling = patch`` with ``sampler`` naming an input section
    whose ``csv_data_file`` lists the window centres (``subject_id,x,y,z``). voxflow names that file
    ``window_centres_file``; the section is read as that key (a notice says so) and is no
    sampling map."""
    app = cfg.app
    if getattr(cfg.network, "window_sampling", "") != "patch" or not app.sampler or app.window_centres_file:
        return
    sections = [cfg.inputs[s] for s in app.sampler if s in cfg.inputs]
    files = [s.csv_data_file for s in sections if getattr(s, "csv_data_file", "") and not s.path_to_search]
    if len(files) != 1 or len(sections) != len(app.sampler):
        return
    log.warning("notice: [%s] sampler = %s names the window centres of window_sampling = patch (NiftyNet's CSV "
                "sampler): read as [%s] window_centres_file = %s, voxflow's key for them.", app.section_name,
                ", ".join(app.sampler), app.section_name, files[0])
    app.window_centres_file = files[0]
    app.sampler = ()

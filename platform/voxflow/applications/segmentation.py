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
from voxflow.applications.base import BestRule
from voxflow.applications.dense import IMAGE_ROLE, TRAINED_PIPELINE_KEYS, DenseApplication
from voxflow.applications.segmentation_inputs import POSTPROCESSING_FILE, REFINEMENT_KEYS, InputAwareOutputs
from voxflow.config import Key
from voxflow.config.arrays import IntArrayType, StrArrayType
from voxflow.config.paths import PathType
from voxflow.config.values import BoolType, ChoiceType, FloatType, IntType
from voxflow.errors import ConfigError
from voxflow.roles import Kind, Role

log = logging.getLogger(__name__)

#: The folder of ``model_dir`` where training keeps its validation subjects' label maps.
CASES_FOLDER = "validation_cases"
#: ``[SEGMENTATION] postprocessing`` steps (voxflow.data.postprocessing.STEPS, which is not imported here).
#: ``background_outside_input`` reads the input image, so it is applied here, first, and never by ``auto``.
POSTPROCESSING_STEPS = ("largest_component_foreground", "largest_component_per_class", "remove_islands",
                        "fill_holes", "background_outside_input")


class SegmentationApplication(InputAwareOutputs, DenseApplication):
    """Images (one or more sections as channels) to a label map of num_classes, voxel by voxel."""

    SECTION = "SEGMENTATION"
    ALIASES = ("segmentation", "net_segment")
    CONSOLE_SCRIPT = "net_segment"
    OUTPUT_NAME = "segmentation"
    STATE_FILES = ("label_map.json", POSTPROCESSING_FILE)
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
        Key("postprocessing", StrArrayType(), (),
            "Steps applied to each written segmentation, in order: `largest_component_foreground`, "
            "`largest_component_per_class`, `remove_islands` (components under `min_island_mm3`), `fill_holes`, "
            "`background_outside_input` (every voxel outside the input image's non-zero region, holes filled, becomes "
            "background: for skull-stripped images; applied first); "
            "or `auto`: training picks, on the validation subjects, the steps that raise their mean Dice "
            "(nnU-Net's rule; saved as `model_dir/postprocessing.json`); unset = none (docs/recipe.md)."),
        *REFINEMENT_KEYS,
        Key("min_island_mm3", FloatType(0.0), 0.0,
            "`remove_islands`: components (per class) smaller than this volume in mm³ are removed."),
        Key("window_centres_file", PathType(), "",
            "`window_sampling = patch`: CSV of `subject_id,x,y,z` rows, window centres in voxels of each subject's "
            "first image file. NiftyNet's form, `sampler` naming an input section whose `csv_data_file` lists them, "
            "is read as this key (with a notice)."),
    )
    # Keys that define a trained model: inference and evaluation take them from settings_train.ini.
    TRAINED_KEYS = (*TRAINED_PIPELINE_KEYS, ("app", "num_classes"), ("app", "label_normalisation"))

    def __init__(self, cfg: Any, action: str) -> None:
        self.num_classes = int(cfg.app.num_classes)
        steps = tuple(cfg.app.postprocessing or ())
        unknown = [step for step in steps if step not in (*POSTPROCESSING_STEPS, "auto")]
        if unknown or ("auto" in steps and len(steps) > 1):
            found = ", ".join(unknown) if unknown else ", ".join(steps)
            raise ConfigError(f"Invalid value for `postprocessing` in [{cfg.app.section_name}] of {cfg.path}: expected "
                              f"`auto` alone or steps among {', '.join(POSTPROCESSING_STEPS)}; found {found}.")
        _niftynet_centres_section(cfg)
        self._loss_fn: Any = None
        self._deep_scales: list[tuple[int, ...]] = []  # the network's deep-supervision scales, if any
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

    def serving_outputs(self, model: Any, inputs: Any) -> dict[str, Any]:
        """``{"probabilities": (batch, *spatial, num_classes)}``: the softmax of the logits."""
        import tensorflow as tf  # noqa: PLC0415

        return {"probabilities": self.output_activation(tf.cast(model(inputs, training=False), tf.float32))}

    def to_output(self, restored: np.ndarray) -> np.ndarray:
        """Probabilities with ``output_prob``, else the argmax in the original label values."""
        if self.cfg.app.output_prob:
            return restored.astype(np.float32)
        return self.pre.labels_to_original(np.argmax(restored, axis=-1))

    def write_item(self, writer: Any, subject: Any, prediction: tuple[np.ndarray, Any]) -> None:
        """The label map (post-processed by ``postprocessing``) or the probabilities, on the subject's grid."""
        restored, geometry = prediction
        if int(self.cfg.app.refine_iterations) > 0:
            restored = self.refine(restored, geometry)
        output = self.to_output(restored)
        if not self.cfg.app.output_prob:
            output = self.postprocess(output, geometry)
        writer.write(subject, output, geometry)

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

        name = self.cfg.training.loss_type
        if str(name).lower() in ("dice_dense", "dice_dense_ns"):
            raise ConfigError(f"Invalid value for `loss_type` in [TRAINING] of {self.cfg.path}: {name} compares two dense "
                              "maps (NiftyNet's registration loss); segmentation trains on label indices: use Dice or "
                              "Dice_NS.")
        if str(name).lower() == "variationallowerbound":
            raise ConfigError(f"Invalid value for `loss_type` in [TRAINING] of {self.cfg.path}: {name} is the variational "
                              "autoencoder's loss (net_autoencoder), not a segmentation loss.")
        self._loss_fn = get_loss(name, search_dirs=(self.cfg.config_dir,))

    def build_network(self) -> Any:
        """The network (:meth:`DenseApplication.build_network`); one built with deep supervision must
        return its whole window and declare its scales."""
        model = super().build_network()
        self._deep_scales = list(getattr(model, "deep_supervision_scales", [])) if getattr(
            model, "deep_supervision", False) is True else []
        if self._deep_scales and self.layout.output_window != self.layout.window:
            raise ConfigError(f"[NETWORK] network_args deep_supervision = True needs a network that returns its whole "
                              f"input window; {self.cfg.network.name} does not.")
        return model

    def best_rule(self) -> BestRule:
        """Full-volume validation: the best mean Dice; else the lowest validation loss."""
        return BestRule("mean_dice", "max") if self.cfg.training.validation_mode == "volumes" else self.BEST

    def volume_scores(self, subject: Any, restored: np.ndarray, geometry: Any) -> dict[str, float]:
        """Dice (and HD95 with ``validation_hd95``) per label of the subject's label map as ``inference``
        writes it (post-processed unless ``postprocessing = auto``, still to be chosen) against its
        reference file, computed as ``evaluation`` does; ``mean_dice`` is their mean."""
        from voxflow.evaluation.evaluator import Evaluator  # noqa: PLC0415
        from voxflow.evaluation.files import read_reference  # noqa: PLC0415

        labels, reference_map = self.__dict__.get("_validation_labels") or evaluation.validation_labels(self)
        self._validation_labels = (labels, reference_map)
        reference, spacing = read_reference(subject.files[self.cfg.app.label[0]])
        if reference_map is not None:
            reference = evaluation.merged_reference(reference_map, reference, subject.files[self.cfg.app.label[0]])
        prediction = self.pre.labels_to_original(np.argmax(restored, axis=-1))
        if tuple(self.cfg.app.postprocessing or ()) != ("auto",):
            prediction = self.postprocess(prediction, geometry)
        prediction = np.squeeze(prediction)
        self.__dict__.setdefault("validation_cases", {})[subject.id] = (prediction, reference, spacing)
        metrics = ("dice", "hausdorff95") if self.cfg.training.validation_hd95 else ("dice",)
        rows = Evaluator(metrics, labels=labels).add(subject.id, reference, prediction, spacing)
        scores = {f"dice_{row['LABEL']}": float(row["dice"]) for row in rows}
        if self.cfg.training.validation_hd95:
            scores.update({f"hd95_{row['LABEL']}": float(row["hausdorff95"]) for row in rows})
        finite = [v for k, v in scores.items() if k.startswith("dice_") and np.isfinite(v)]
        scores["mean_dice"] = float(np.mean(finite)) if finite else float("nan")
        return scores

    def after_training(self, models: dict[str, Any], strategy: Any) -> dict[str, Any]:
        """Full-volume validation: the validation subjects inferred once more with the trained (best)
        model; their scores are returned (the engine saves them as ``final_validation.json``) and their
        label maps saved in ``model_dir/validation_cases/`` for cross-validation. With
        ``postprocessing = auto``, nnU-Net's rule then picks the steps that raise their mean Dice
        (:func:`voxflow.data.postprocessing.choose`), saved as ``model_dir/postprocessing.json``."""
        auto = tuple(self.cfg.app.postprocessing or ()) == ("auto",)
        if self.cfg.training.validation_mode != "volumes" and not auto:
            return {}
        if not self.data.valid_subjects:
            if auto:
                log.warning("notice: postprocessing = auto needs validation subjects to choose on; none: no "
                            "post-processing will be applied")
            return {}
        self.validation_cases = {}
        scores = {f"final_{k}": v for k, v in self.validate_volumes(models, strategy).items()}
        save_cases(self.cfg.system.model_dir, {sid: (self._classes(p), self._classes(r), spacing)
                                               for sid, (p, r, spacing) in self.validation_cases.items()})
        if auto:
            choice = choose_postprocessing(self.cfg, self.num_classes, [self.cfg.system.model_dir])
            self._postprocessing_choice = choice
            scores.update(postprocessing_dice_before=choice.dice_before, postprocessing_dice_after=choice.dice_after)
        return scores

    @classmethod
    def cross_validate(cls, cfg: Any, fold_dirs: list[str]) -> dict[str, Any]:
        """Every fold trained: with ``postprocessing = auto``, the choice made on all folds' validation
        subjects together (nnU-Net's rule on cross-validated predictions), saved in every fold."""
        if tuple(cfg.app.postprocessing or ()) != ("auto",):
            return {}
        choice = choose_postprocessing(cfg, int(cfg.app.num_classes), fold_dirs)
        return {"postprocessing": ", ".join(choice.steps) or "none",
                "postprocessing_dice_before": choice.dice_before, "postprocessing_dice_after": choice.dice_after}

    def _classes(self, labels: np.ndarray) -> np.ndarray:
        """Label values as class indices 0..K-1 (the label map's, with ``label_normalisation``)."""
        if not self.cfg.app.label_normalisation or self.pre.label_map is None:
            return labels
        return self.pre.label_map.to_indices(labels)

    def forward(self, models: dict[str, Any], batch: dict, training: bool) -> Any:
        """The network's logits; while training a network built with ``deep_supervision=True``
        (``network_args``), the list of its logits at every decoder scale (``deep_outputs``)."""
        network = models["network"]
        if training and getattr(network, "deep_supervision", False) is True:
            return network.deep_outputs(self.network_input(batch), training=True)
        return network(self.network_input(batch), training=training)

    def losses(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """``[TRAINING] loss_type`` on a batch of logits (weight map applied if configured).

        Deep supervision (a list of logits, full resolution first): the loss at each scale against
        the labels (and weights) taken every ``scale`` voxels, weighted ``1/2**i`` and normalised to sum
        1 (nnU-Net's weights, whose lowest scale, weighted 0, voxflow does not compute).
        """
        target = lambda key: self.layout.to_network(self.layout.crop_to_output(batch[key]))  # noqa: E731
        weight = target("weight") if "weight" in batch else None
        if not isinstance(outputs, (list, tuple)):
            return {"loss": self._loss_fn(target("label"), outputs, weight)}
        label, scales = target("label"), self._network_scales(len(outputs))
        weights = [0.5**i for i in range(len(outputs))]
        total = 0.0
        for logits, scale, share in zip(outputs, scales, weights):
            pick = (slice(None), *(slice(s // 2, None, s) for s in scale), slice(None))
            total += share / sum(weights) * self._loss_fn(label[pick], logits, None if weight is None else weight[pick])
        return {"loss": total}

    def _network_scales(self, count: int) -> list[tuple[int, ...]]:
        """Each deep-supervision output's down-sampling per axis (the network's declaration)."""
        scales = [tuple(int(v) for v in scale) for scale in self._deep_scales]
        if len(scales) != count:
            raise ValueError(f"the network returned {count} deep-supervision outputs for {len(scales)} scales")
        return scales

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


def save_cases(model_dir: str, cases: dict[str, tuple[np.ndarray, np.ndarray, tuple[float, ...]]]) -> None:
    """Each validation subject's (prediction, reference, spacing) in class indices, as
    ``model_dir/validation_cases/<subject>.npz`` (written atomically)."""
    import os  # noqa: PLC0415

    from voxflow.atomic import atomic_path  # noqa: PLC0415

    folder = os.path.join(model_dir, CASES_FOLDER)
    os.makedirs(folder, exist_ok=True)
    for subject_id, (prediction, reference, spacing) in cases.items():
        with atomic_path(os.path.join(folder, f"{subject_id}.npz")) as temporary:
            with open(temporary, "wb") as handle:
                np.savez_compressed(handle, prediction=prediction.astype(np.int16), reference=reference.astype(np.int16),
                                    spacing=np.asarray(spacing, dtype=float))


def choose_postprocessing(cfg: Any, num_classes: int, model_dirs: list[str]) -> Any:
    """nnU-Net's rule over the validation cases saved in ``model_dirs`` (one model, or every fold);
    the choice is saved as ``postprocessing.json`` in each of them."""
    import glob  # noqa: PLC0415
    import os  # noqa: PLC0415

    from voxflow.data.postprocessing import choose, save_choice  # noqa: PLC0415

    cases = []
    for folder in model_dirs:
        for path in sorted(glob.glob(os.path.join(folder, CASES_FOLDER, "*.npz"))):
            with np.load(path) as saved:
                cases.append((saved["prediction"], saved["reference"], tuple(float(v) for v in saved["spacing"])))
    candidates = ["largest_component_foreground", "largest_component_per_class"]
    if cfg.app.min_island_mm3 > 0:
        candidates.append("remove_islands")
    choice = choose(cases, num_classes, candidates, min_island_mm3=float(cfg.app.min_island_mm3))
    for folder in model_dirs:
        save_choice(choice, os.path.join(folder, POSTPROCESSING_FILE))
    log.info("postprocessing = auto: %s (mean Dice on %d validation subject(s) %.4f → %.4f)",
             ", ".join(choice.steps) or "no step", len(cases), choice.dice_before, choice.dice_after)
    return choice


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

"""Classification: images (one or more sources as channels) → one class per subject.

==========  =====================================  ===========================================
action      reads                                  uses
==========  =====================================  ===========================================
train       image, label (a class per subject),    window sampler (``resize`` by default: the
            sampler?                               whole image), cross-entropy
inference   image                                  the whole image resized (``resize``), or a
                                                   grid of windows whose probabilities are
                                                   averaged → one CSV row per subject
evaluation  label, inferred classes                accuracy, balanced accuracy, per-class
                                                   precision/recall/F1, macro-F1, ROC AUC,
                                                   confusion matrix → CSV
==========  =====================================  ===========================================

A class is a per-subject value (a role of kind ``value``): the ``label`` section's
``csv_data_file`` gives each subject a class name or number (``subject_id,class``), or its files
are images holding the class (NiftyNet's one-voxel label images). Classes are
numbered when training starts — numbers in numeric order, names in alphabetical order — and the
names are saved in ``model_dir/class_names.json``, so outputs name the classes as the CSV did.
Numbers must be ``0 … num_classes−1`` unless ``label_normalisation`` maps the values found to
them (NiftyNet's key). Every window of a subject carries the subject's class.

The network is a classifier (``resnet``, ``se_resnet``, ``densenet``: one vector of logits per
window) or any dense network, whose per-voxel logits are then averaged over the window (a
segmentation backbone used as an encoder).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from voxflow.applications.base import BestRule
from voxflow.applications.dense import IMAGE_ROLE, TRAINED_PIPELINE_KEYS, DenseApplication
from voxflow.atomic import atomic_write_json
from voxflow.config import Key
from voxflow.config.values import BoolType, IntType
from voxflow.errors import CheckpointError, ConfigError, DataError
from voxflow.roles import Kind, Role

log = logging.getLogger(__name__)

CLASS_NAMES_FILE = "class_names.json"
CLASSES_TABLE = "classes"
#: What evaluation computes, in this order (``[EVALUATION] evaluations`` chooses among them).
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")


class ClassificationApplication(DenseApplication):
    """Images to one class per subject."""

    SECTION = "CLASSIFICATION"
    STATE_FILES = (CLASS_NAMES_FILE,)
    ALIASES = ("classification", "net_classify")
    CONSOLE_SCRIPT = "net_classify"
    OUTPUT_NAME = "class"
    ROLES = (
        IMAGE_ROLE,
        Role("label", Kind.VALUE, "Input section whose `csv_data_file` gives each subject's class (a name or a "
             "number), or whose images hold it (NiftyNet's one-voxel label images).", required=("train", "evaluation")),
        Role("sampler", Kind.WEIGHT, "Input section of sampling-probability maps (weighted/balanced samplers)."),
        Role("inferred", Kind.VALUE, "Input section of classes to evaluate (a `csv_data_file`; evaluation action); "
             "unset = the outputs inference listed in `inferred.csv`."),
    )
    KEYS = (
        Key("num_classes", IntType(2), None, "Number of classes.", required=True),
        Key("output_prob", BoolType(), False, "Inference also writes every class's probability."),
        Key("label_normalisation", BoolType(), False, "Number the class values found in training 0..K-1 (numeric "
            "classes; names are always numbered)."),
    )
    SHARED_DEFAULTS = {
        ("NETWORK", "window_sampling"): "resize",
        ("TRAINING", "loss_type"): "CrossEntropy",
        ("INFERENCE", "output_postfix"): "_class",
        ("EVALUATION", "evaluations"): CLASSIFICATION_METRICS,
    }
    TRAINED_KEYS = (*TRAINED_PIPELINE_KEYS, ("network", "window_sampling"), ("app", "num_classes"),
                    ("app", "label_normalisation"))
    BEST = BestRule("accuracy", "max")

    def __init__(self, cfg: Any, action: str) -> None:
        self.num_classes = int(cfg.app.num_classes)
        self.class_names: list[str] = []
        self.dense_network = False
        super().__init__(cfg, action)

    # ------------------------------------------------------------------ declarations
    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """Image and class (and the optional sampling map) to train; the image to infer; the class to
        evaluate."""
        app = self.cfg.app
        if action == "train":
            roles = {"image": tuple(app.image), "label": tuple(app.label)}
            if app.sampler:
                roles["sampler"] = tuple(app.sampler)
            return roles
        if action == "inference":
            return {"image": tuple(app.image)}
        return {"label": tuple(app.label)}

    def output_channels(self) -> int:
        """One logit per class."""
        return self.num_classes

    # ------------------------------------------------------------------ classes
    def _names_path(self) -> str:
        return os.path.join(self.cfg.system.model_dir, CLASS_NAMES_FILE)

    def class_tokens(self) -> dict[str, str]:
        """``{subject: class as written}`` of every subject the ``label`` sections list."""
        from voxflow.data.preprocessing.pipeline import read_value_tokens  # noqa: PLC0415
        from voxflow.data.subjects import find_subjects  # noqa: PLC0415

        section = self.cfg.app.label[0]
        tokens = {}
        for subject in find_subjects(self.cfg, sections=(section,)):
            cells = read_value_tokens(self.cfg, subject, section)
            if len(cells) != 1:
                raise DataError(f"The csv_data_file of [{section}] gives subject '{subject.id}' {len(cells)} values; "
                                "expected one class per subject (subject_id,class).")
            tokens[subject.id] = cells[0]
        return tokens

    def _learn_classes(self) -> None:
        """Number the classes of the label CSV (numbers in order, names alphabetically); save them."""
        found = sorted(set(self.class_tokens().values()))
        numeric = all(_is_number(token) for token in found)
        if numeric:
            found = sorted(found, key=float)
            if not self.cfg.app.label_normalisation:
                bad = [t for t in found if float(t) != int(float(t)) or not 0 <= int(float(t)) < self.num_classes]
                if bad:
                    raise DataError(f"Classes {bad} of [{self.cfg.app.label[0]}] are not 0..{self.num_classes - 1} "
                                    f"([CLASSIFICATION] num_classes = {self.num_classes}); number them so, or set "
                                    "label_normalisation = True to number the values found.")
                self.class_names = [str(k) for k in range(self.num_classes)]
                self._save_classes()
                return
        if len(found) > self.num_classes:
            raise DataError(f"[{self.cfg.app.label[0]}] has {len(found)} classes {found} but [CLASSIFICATION] "
                            f"num_classes = {self.num_classes}.")
        self.class_names = found + [f"class_{k}" for k in range(len(found), self.num_classes)]
        self._save_classes()

    def _save_classes(self) -> None:
        os.makedirs(self.cfg.system.model_dir, exist_ok=True)
        atomic_write_json(self._names_path(), {"classes": self.class_names})
        log.info("classes: %s", ", ".join(f"{k} = {name}" for k, name in enumerate(self.class_names)))

    def _load_classes(self) -> None:
        path = self._names_path()
        try:
            with open(path, encoding="utf-8") as handle:
                self.class_names = [str(c) for c in json.load(handle)["classes"]]
        except FileNotFoundError:
            raise CheckpointError(f"The class names of the trained model are missing: {path} (written by training). "
                                  "Train first, or point model_dir at a trained model.") from None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"Cannot read the class names {path}: {err}.") from None
        if len(self.class_names) != self.num_classes:
            raise CheckpointError(f"{path} names {len(self.class_names)} classes but [CLASSIFICATION] num_classes = "
                                  f"{self.num_classes}.")

    def _value_maps(self) -> dict[str, dict[str, float]]:
        return {"label": {name: float(k) for k, name in enumerate(self.class_names)}} if self.class_names else {}

    # ------------------------------------------------------------------ preparing
    def prepare(self) -> None:
        """The classes (learnt at train, read back otherwise), then the generic preparation."""
        if self.action == "train":
            self._learn_classes()
        elif self.action in ("inference", "evaluation"):
            self._load_classes()
        if self.action == "evaluation":
            from voxflow.applications.classification_evaluation import check_metrics  # noqa: PLC0415

            check_metrics(self.cfg)
            return
        super().prepare()

    def window_data_options(self) -> dict[str, Any]:
        """Class names are read through the class numbering."""
        return {"value_maps": self._value_maps()}

    def prepare_training(self) -> None:
        """Only cross-entropy (on one logit vector per window) trains a classifier here."""
        if str(self.cfg.training.loss_type).lower() != "crossentropy":
            raise ConfigError(f"Invalid value for `loss_type` in [TRAINING] of {self.cfg.path}: "
                              f"{self.cfg.training.loss_type} is not a classification loss. Expected CrossEntropy.")

    def build_network(self) -> Any:
        """A classifier from ``[NETWORK]``, or a dense network whose logits are averaged over the window."""
        model, output = self.built_network()
        self.dense_network = output != ()
        return model

    def forward(self, models: dict[str, Any], batch: dict, training: bool) -> Any:
        """Logits ``(B, num_classes)`` of each window."""
        return self._logits(models["network"](self.network_input(batch), training=training))

    def _logits(self, outputs: Any) -> Any:
        import tensorflow as tf  # noqa: PLC0415

        outputs = tf.cast(outputs, tf.float32)
        if self.dense_network:
            outputs = tf.reduce_mean(outputs, axis=list(range(1, len(outputs.shape) - 1)))
        return outputs

    def losses(self, batch: dict, logits: Any) -> dict[str, Any]:
        """Mean cross-entropy of the windows' logits against their subjects' classes."""
        import tensorflow as tf  # noqa: PLC0415

        labels = tf.cast(tf.round(tf.reshape(batch["label"], [-1])), tf.int32)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return {"loss": tf.reduce_mean(loss)}

    def validation_metrics(self, batch: dict, logits: Any) -> dict[str, float]:
        """Accuracy as a fraction of the batch's windows (NiftyNet logged a count); the round's
        confusion matrix is accumulated for :meth:`validation_images`."""
        labels = np.round(np.asarray(batch["label"]).reshape(-1)).astype(np.int64)
        predicted = np.argmax(np.asarray(logits), axis=-1)
        count = self.num_classes
        inside = (labels >= 0) & (labels < count)
        matrix = np.bincount(labels[inside] * count + predicted[inside], minlength=count * count)
        self._confusion = self.__dict__.get("_confusion", 0) + matrix.reshape(count, count)
        return {"accuracy": float(np.mean(predicted == labels))}

    def validation_images(self) -> dict[str, Any]:
        """The round's confusion matrix, rows = true class and columns = predicted, each row divided by
        its count (recall on the diagonal), 16 pixels per cell: row 0 at the top in TensorBoard."""
        matrix = np.asarray(self.__dict__.pop("_confusion", 0), np.float64)
        if matrix.ndim != 2 or not matrix.any():
            return {}
        rows = matrix.sum(axis=1, keepdims=True)
        normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        image = np.kron(normalised, np.ones((16, 16))).astype(np.float32)
        return {"confusion_matrix": np.rot90(image, -1)}  # TensorBoard images are shown rotated back

    def summary_images(self, batch: dict, logits: Any) -> dict[str, Any]:
        """The batch's windows as one grid (their middle slices)."""
        images = np.asarray(batch["image"])
        return {"windows": [images[i, ..., 0] for i in range(min(len(images), 16))]}

    # ------------------------------------------------------------------ inference
    def output_writer(self) -> Any:
        """One CSV per subject and the combined ``classes<postfix>.csv``: ``class`` (its name) and, with
        ``output_prob``, ``p_<class>`` for every class."""
        if self.outputs is None:
            from voxflow.data.writers import TableWriter  # noqa: PLC0415

            columns = ["class", *(f"p_{name}" for name in self.class_names)] if self.cfg.app.output_prob else ["class"]
            inference = self.cfg.inference
            self.outputs = TableWriter(inference.save_seg_dir, inference.output_postfix, self.data.infer_subjects,
                                       columns=columns, name=CLASSES_TABLE, what="class", per_subject=True)
        return self.outputs

    def predict_windows(self, network: Any, windows: Any) -> Any:
        """Class probabilities of each window."""
        import tensorflow as tf  # noqa: PLC0415

        return tf.nn.softmax(self._logits(network(windows, training=False)), axis=-1)

    def serving_outputs(self, model: Any, inputs: Any) -> dict[str, Any]:
        """``{"probabilities": (batch, num_classes)}`` of each window."""
        return {"probabilities": self.predict_windows(model, inputs)}

    def predictor(self, models: dict[str, Any]) -> Any:
        """Windows (window layout) → class probabilities, compiled once."""
        import tensorflow as tf  # noqa: PLC0415

        network = models["network"]

        @tf.function(reduce_retracing=True)
        def compiled(windows: tf.Tensor) -> tf.Tensor:
            return self.predict_windows(network, windows)

        return lambda windows: compiled(self.layout.to_network(windows))

    def predict_item(self, predict: Any, subject: Any, strategy: Any) -> np.ndarray:
        """The subject's class probabilities: of its whole image resized to the window (``resize``), or
        the mean over a grid of windows covering it."""
        from voxflow.data.aggregators import resize_volume  # noqa: PLC0415
        from voxflow.data.samplers.grid_layout import grid_locations  # noqa: PLC0415

        image = self.pre.load(subject).arrays[self.INPUT_ROLE]
        window = self.layout.window
        if self.cfg.network.window_sampling == "resize":
            return np.asarray(predict(resize_volume(image, window, order=1)[None].astype(np.float32)))[0]
        starts = grid_locations(image.shape[:3], window, 0)
        windows = np.stack([image[x:x + window[0], y:y + window[1], z:z + window[2]] for x, y, z in starts])
        batch = max(1, int(self.cfg.network.batch_size))
        probabilities = np.concatenate([np.asarray(predict(windows[i:i + batch].astype(np.float32)))
                                        for i in range(0, len(windows), batch)])
        return probabilities.mean(axis=0)

    def write_item(self, writer: Any, subject: Any, probabilities: np.ndarray) -> None:
        """The class with the highest probability (and every probability with ``output_prob``)."""
        row = [self.class_names[int(np.argmax(probabilities))]]
        if self.cfg.app.output_prob:
            row += [float(p) for p in probabilities]
        writer.write(subject.id, row)

    # ------------------------------------------------------------------ evaluation, report
    def evaluate(self) -> dict:
        """Accuracy, balanced accuracy, per-class precision/recall/F1, macro-F1, ROC AUC and the
        confusion matrix of the inferred classes, to CSV."""
        from voxflow.applications.classification_evaluation import evaluate  # noqa: PLC0415

        return evaluate(self)

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines printed by the console script."""
        if action == "evaluation":
            shown = ", ".join(f"{name} = {value:.4f}" for name, value in result["summary"].items())
            return f"evaluation of {result['subjects']} subject(s) written to {result['csv']}: {shown}"
        return super().report(action, result)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True

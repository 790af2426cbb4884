"""Segmentation outputs: grid inference back to each input's own geometry, and evaluation.

Inference writes ``<save_seg_dir>/<subject><output_postfix>.nii.gz`` (argmax labels in the
original label values, or softmax probabilities with ``output_prob``) on exactly the grid of the
subject's first image file, and ``inferred.csv`` listing them. Evaluation compares those files
with the labels in their native space (spacing in mm from the affine) and writes a CSV.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from typing import Any

import numpy as np

from voxflow.atomic import atomic_write_text, refuse_replacing_inputs
from voxflow.errors import CheckpointError, DataError
from voxflow.io import write_image

log = logging.getLogger("voxflow")

INFERRED_CSV = "inferred.csv"
EVALUATION_CSV = "evaluation.csv"
EVALUATION_STATISTICS_CSV = "evaluation_statistics.csv"


def output_path(app: Any, subject: Any) -> str:
    """Where inference writes ``subject``'s segmentation."""
    cfg = app.cfg
    return os.path.join(cfg.inference.save_seg_dir, f"{subject.id}{cfg.inference.output_postfix}.nii.gz")


def check_outputs(app: Any) -> None:
    """Before any work: no output of this inference may replace one of its inputs.

    Raises:
        OutputError: an output path is an input file (e.g. ``save_seg_dir`` = the data folder and
            ``output_postfix = _T1``).
    """
    outputs = [output_path(app, subject) for subject in app.infer_subjects]
    outputs.append(os.path.join(app.cfg.inference.save_seg_dir, INFERRED_CSV))
    inputs = [path for subject in app.infer_subjects for path in subject.files.values()]
    refuse_replacing_inputs(outputs, inputs, what="segmentation")


def infer(app: Any, model: Any, strategy: Any) -> dict:
    """Grid-sample, predict, aggregate, invert preprocessing and write each subject."""
    import tensorflow as tf  # noqa: PLC0415

    cfg = app.cfg
    out_dir = cfg.inference.save_seg_dir
    os.makedirs(out_dir, exist_ok=True)

    @tf.function(reduce_retracing=True)
    def predict(windows: tf.Tensor) -> tf.Tensor:
        return tf.nn.softmax(tf.cast(model(windows, training=False), tf.float32), axis=-1)

    def predict_batch(batch: dict) -> tf.Tensor:
        return app.from_network_layout(predict(app.network_input(batch)))

    rows: list[tuple[str, str]] = []
    for subject in app.infer_subjects:
        volume = app.pre.load(subject)
        if cfg.network.window_sampling == "resize":
            probabilities = _predict_resized(app, volume.arrays["image"], predict)
        else:
            probabilities = _predict_grid(app, volume.arrays["image"], predict_batch, strategy)
        restored = app.pre.invert(probabilities, volume.geometry, interp_order=cfg.inference.output_interp_order)
        if cfg.app.output_prob:
            data = restored.astype(np.float32)
        else:
            data = app.pre.labels_to_original(np.argmax(restored, axis=-1))
        path = output_path(app, subject)
        write_image(path, data, volume.geometry.affine, reference=volume.geometry.reference)
        rows.append((subject.id, path))
        _write_csv(os.path.join(out_dir, INFERRED_CSV), ["subject_id", "path"], rows)
        log.info("wrote %s", path)
    return {"outputs": rows, "folder": out_dir}


def _predict_grid(app: Any, image: np.ndarray, predict_batch: Any, strategy: Any) -> np.ndarray:
    """Grid windows (step = window − 2·border) → probabilities stitched with blending.

    With several replicas, each batch of ``batch_size × replicas`` windows is split across them
    (every GPU of a MirroredStrategy works on the same volume); the stitched result is the same.
    """
    from voxflow.data.aggregators import GridAggregator  # noqa: PLC0415
    from voxflow.data.samplers import GridSampler  # noqa: PLC0415

    cfg = app.cfg
    border = tuple(int(b) for b in cfg.inference.border)
    shape = image.shape[:3]
    sampler = GridSampler(shape, app.window, border)
    aggregator = GridAggregator(shape, app.num_classes, app.window, border,
                                blending=cfg.inference.blending, fill_constant=cfg.inference.fill_constant)
    dataset = sampler.dataset(image).batch(cfg.network.batch_size * strategy.num_replicas_in_sync)
    for batch in strategy.experimental_distribute_dataset(dataset):
        outputs = strategy.run(predict_batch, args=(batch,))
        for probabilities, locations in zip(strategy.experimental_local_results(outputs),
                                            strategy.experimental_local_results(batch["location"])):
            if np.asarray(locations).shape[0]:
                aggregator.add(np.asarray(probabilities), np.asarray(locations))
    return aggregator.result()


def _predict_resized(app: Any, image: np.ndarray, predict: Any) -> np.ndarray:
    """The whole volume resized to the window (``window_sampling = resize``) and back."""
    from voxflow.data.aggregators import ResizeAggregator, resize_volume  # noqa: PLC0415

    window = resize_volume(image, app.window, order=1)[None].astype(np.float32)
    probabilities = np.asarray(app.from_network_layout(predict(app.to_network_layout(window))))
    aggregator = ResizeAggregator(image.shape[:3], interp_order=1)
    aggregator.add(probabilities)
    return aggregator.result()


def evaluate(app: Any) -> dict:
    """Per-subject metrics of the inferred segmentations (per label, foreground or component).

    Writes ``evaluation.csv`` (columns SUBJECT, LABEL, metrics) and ``evaluation_statistics.csv``
    (per label and metric over subjects) to ``save_csv_dir``, atomically.
    """
    from voxflow.data.subjects import find_subjects  # noqa: PLC0415
    from voxflow.evaluation import writers  # noqa: PLC0415
    from voxflow.evaluation.evaluator import Evaluator  # noqa: PLC0415
    from voxflow.evaluation.files import read_pair  # noqa: PLC0415

    cfg = app.cfg
    listing = os.path.join(cfg.inference.save_seg_dir, INFERRED_CSV)
    if not os.path.isfile(listing):
        raise CheckpointError(f"No inferred output: {listing} does not exist. Run `net_segment inference -c {cfg.path}` first.")
    with open(listing, newline="", encoding="utf-8") as handle:
        inferred = [(row["subject_id"], row["path"]) for row in csv.DictReader(handle)]
    if not inferred:
        raise CheckpointError(f"No inferred output listed in {listing}.")
    labels_by_id = {s.id: s for s in find_subjects(cfg, sections=tuple(cfg.app.label))}
    label_values = [int(v) for v in np.asarray(app.pre.labels_to_original(np.arange(1, app.num_classes))).ravel()]
    evaluator = Evaluator(tuple(cfg.evaluation.evaluations), labels=label_values,
                          units=getattr(cfg.app, "evaluation_units", None) or "label")
    for subject_id, seg_path in inferred:
        if subject_id not in labels_by_id:
            raise DataError(f"Inferred subject '{subject_id}' ({seg_path}) has no label in [{cfg.app.label[0]}].")
        ref, seg, spacing = read_pair(labels_by_id[subject_id].files[cfg.app.label[0]], seg_path)
        evaluator.add(subject_id, ref, seg, spacing)
    metrics = evaluator.metric_names
    out = os.path.join(cfg.evaluation.save_csv_dir, EVALUATION_CSV)
    writers.write_rows_csv(out, evaluator.rows, metrics)
    stats_path = os.path.join(cfg.evaluation.save_csv_dir, EVALUATION_STATISTICS_CSV)
    writers.write_statistics_csv(stats_path, evaluator.rows, metrics)
    return {"csv": out, "statistics_csv": stats_path, "subjects": len(inferred),
            "statistics": writers.console_statistics(evaluator.rows, metrics)}


def report(action: str, result: dict) -> str:
    """A short human summary of an action's result."""
    if action == "train":
        if not result:
            return "training: nothing to do"
        parts = [f"{k}={v:.4f}" for k, v in result.items()]
        return "training finished: " + ", ".join(parts)
    if action == "inference":
        return f"inference: wrote {len(result['outputs'])} segmentation(s) to {result['folder']} (listed in {INFERRED_CSV})"
    return (f"evaluation of {result['subjects']} subject(s) written to {result['csv']} "
            f"(statistics in {result['statistics_csv']}); over subjects (finite values):\n{result['statistics']}")


def _write_csv(path: str, header: list[str], rows: list) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())

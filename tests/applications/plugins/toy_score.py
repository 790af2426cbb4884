"""A test application with a per-subject value: the mean of a dense output regresses a CSV score.

It exercises what no built-in application used before the contract: a role of kind ``value``
(read from a ``csv_data_file``, passed uncut through the sampler to the loss) and an inference
written as one CSV row per subject (:class:`~voxflow.data.writers.TableWriter`) by the engine's loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.applications.dense import DenseApplication
from voxflow.data.writers import TableWriter
from voxflow.roles import Kind, Role


class MeanScore(DenseApplication):
    """``[MEAN_SCORE]``: ``image`` → the subject's ``score`` (the spatial mean of a one-channel output)."""

    SECTION = "MEAN_SCORE"
    ROLES = (Role("image", Kind.INTENSITY, "Input images.", required=True),
             Role("score", Kind.VALUE, "Per-subject scores (a csv_data_file).", required=("train",)))
    TRAINED_KEYS = (("network", "name"),)

    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """Image and score to train, the image to infer."""
        roles = {"image": tuple(self.cfg.app.image)}
        if action == "train":
            roles["score"] = tuple(self.cfg.app.score)
        return roles

    def output_channels(self) -> int:
        """One channel, averaged over space."""
        return 1

    def forward(self, models: dict[str, Any], batch: dict, training: bool) -> Any:
        """The spatial mean of the network's output, ``(B, 1)``."""
        out = models["network"](self.network_input(batch), training=training)
        return tf.reduce_mean(out, axis=list(range(1, len(out.shape) - 1)))

    def losses(self, batch: dict, outputs: Any) -> dict[str, Any]:
        """Squared error against the window's subject score (``batch["score"]`` is ``(B, 1)``)."""
        return {"loss": tf.reduce_mean(tf.square(outputs - batch["score"]))}

    def output_writer(self) -> TableWriter:
        """One row per subject in ``scores<postfix>.csv``."""
        if self.outputs is None:
            inference = self.cfg.inference
            self.outputs = TableWriter(inference.save_seg_dir, inference.output_postfix, self.data.infer_subjects,
                                       columns=("score",), name="scores", what="score")
        return self.outputs

    def write_item(self, writer: TableWriter, subject: Any, prediction: tuple[np.ndarray, Any]) -> None:
        """The mean of the stitched output over the subject's grid."""
        restored, _ = prediction
        writer.write(subject.id, [float(np.mean(restored))])

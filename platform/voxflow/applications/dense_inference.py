"""Dense prediction's inference side: whole volumes from windows, for inference and for
full-volume validation.

:class:`DenseInference` is mixed into :class:`~voxflow.applications.dense.DenseApplication`. It
implements the contract's inference hooks (:meth:`output_writer`, :meth:`inference_items`,
:meth:`ensemble_predictor`, :meth:`predict_item`, :meth:`write_item`) and full-volume validation
(:meth:`validate_volumes`), with one prediction path for both, so a validation round scores
exactly what ``inference`` would write:

- **ensembles** (``[INFERENCE] ensemble_model_dirs``, or every fold): the members' outputs after
  the activation (class probabilities) are averaged window by window;
- **test-time mirroring** (``[INFERENCE] tta_mirror_axes``,
  :class:`~voxflow.augment.test_time.MirrorTTA`): each member's prediction is averaged over the
  mirrored copies of each window;
- grid windows stitched with blending, then every preprocessing step undone
  (:mod:`voxflow.data.volume_prediction`), as before.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from voxflow.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class DenseInference:
    """Inference and full-volume validation of a dense application (see the module docstring).

    Relies on the application's ``cfg``, ``layout``, ``data``, ``pre``, ``channels``,
    ``INPUT_ROLE``, ``SECTION``, ``OUTPUT_NAME``, :meth:`output_channels`, :meth:`predict_windows`
    and :meth:`to_output`.
    """

    # -------------------------------------------------------------------------- inference
    def output_writer(self) -> Any:
        """One image per subject on its first input's grid (built once, in :meth:`prepare`)."""
        if self.outputs is None:
            from voxflow.data.writers import VolumeWriter  # noqa: PLC0415

            self.outputs = VolumeWriter(self.cfg.inference.save_seg_dir, self.cfg.inference.output_postfix,
                                        self.data.infer_subjects, what=self.OUTPUT_NAME)
        return self.outputs

    def inference_items(self) -> list[Any]:
        """The subjects to infer (``dataset_to_infer``)."""
        return self.data.infer_subjects

    def predictor(self, models: dict[str, Any]) -> Any:
        """One trained model's :meth:`ensemble_predictor`."""
        return self.ensemble_predictor([models])

    def ensemble_predictor(self, members: list[dict[str, Any]], layout: Any = None, mirror: bool = True) -> Any:
        """Windows in the window layout → the mean over ``members`` (and, with ``mirror``, over the
        mirrored copies of ``tta_mirror_axes``) of :meth:`predict_windows`, compiled once."""
        import tensorflow as tf  # noqa: PLC0415

        from voxflow.augment.test_time import MirrorTTA, check_centred  # noqa: PLC0415
        from voxflow.engine.steps import uses_autograph  # noqa: PLC0415

        layout = layout or self.layout
        networks = [models["network"] for models in members]
        self._network = networks[0]  # sizes full-extent inference windows
        if self.action == "inference" and layout.output_window != layout.window and not layout.full_extent:
            # A network with valid convolutions: predict_volume extends each volume by the crop itself,
            # so volumes need only reach the output window (padded to the input window, a volume just
            # under it took 2³ windows instead of one).
            self.pre.min_shape = tuple(int(v) for v in layout.output_window)
        axes = tuple(self.cfg.inference.tta_mirror_axes or ()) if mirror else ()
        tta = MirrorTTA(axes) if axes else None
        if tta is not None:
            try:
                check_centred(layout.window, layout.output_window)
            except ValueError as err:
                raise ConfigError(f"[INFERENCE] tta_mirror_axes cannot be used with [NETWORK] name = "
                                  f"{self.cfg.network.name}: {err}.") from None

        def averaged(windows: tf.Tensor) -> tf.Tensor:  # (B, X, Y, Z, C) → (B, X', Y', Z', K)
            total = None
            for network in networks:
                out = layout.from_network(self.predict_windows(network, layout.to_network(windows)))
                total = out if total is None else total + out
            return total if len(networks) == 1 else total / float(len(networks))

        @tf.function(reduce_retracing=True, autograph=uses_autograph(self))
        def compiled(windows: tf.Tensor) -> tf.Tensor:  # in the network's layout, as the memory check traces
            windows = layout.from_network(windows)
            out = averaged(windows) if tta is None else tta(averaged, windows)
            return layout.to_network(out)

        def predict(windows: Any) -> Any:
            return layout.from_network(compiled(layout.to_network(windows)))

        self._compiled = compiled
        if len(networks) > 1 or tta is not None:
            log.info("inference averages %d model(s) × %d mirrored pass(es) per window", len(networks),
                     1 if tta is None else tta.passes(layout.window))
        if not layout.full_extent:  # full-extent windows are checked per volume (predict_item)
            self._check_memory(layout)
        return predict

    def _check_memory(self, layout: Any) -> None:
        """Refuse an inference window whose batch cannot fit in memory, before predicting with it
        (:func:`~voxflow.engine.memory.check_inference_memory`); each window size is checked once."""
        from voxflow.engine.memory import check_inference_memory  # noqa: PLC0415

        checked = self.__dict__.setdefault("_memory_checked", set())
        if layout.network_window in checked:
            return
        check_inference_memory(self._compiled, (*layout.network_window, self.channels),
                               self.cfg.network.batch_size, f"The inference window {layout.text}")
        checked.add(layout.network_window)

    def predict_item(self, predict: Any, subject: Any, strategy: Any) -> tuple[np.ndarray, Any]:
        """The subject's prediction window by window (grid and blending, or resized), sent back to the
        grid of its first input file; returns it with that grid's geometry."""
        return self.predict_loaded(predict, subject, self.pre.load(subject), strategy)

    def predict_loaded(self, predict: Any, subject: Any, volume: Any, strategy: Any,
                       layout: Any = None) -> tuple[np.ndarray, Any]:
        """:meth:`predict_item` of a subject already preprocessed (``volume``)."""
        from voxflow.data.volume_prediction import GridSettings, predict_volume  # noqa: PLC0415

        base = layout or self.layout
        image = volume.arrays[self.INPUT_ROLE]
        if image.shape[-1] != self.channels:
            raise DataError(f"Subject '{subject.id}': the [{self.SECTION}] {self.INPUT_ROLE} sections give "
                            f"{image.shape[-1]} channel(s), but the network was trained on {self.channels} "
                            f"(e.g. an RGB image where training read grey ones): give inputs like the training's.")
        layout = base.for_volume(image.shape[:3], self._network)
        if layout is not base:  # [INFERENCE] spatial_window_size with 0: this volume's extent
            from voxflow.networks import check_window  # noqa: PLC0415

            try:
                check_window(self._network, layout.network_window)
            except ValueError as err:
                raise ConfigError(f"[INFERENCE] spatial_window_size {self.cfg.inference.spatial_window_size} gives "
                                  f"subject '{subject.id}' the window {layout.text}, which [NETWORK] name = "
                                  f"{self.cfg.network.name} cannot take: {err}") from err
            self._check_memory(layout)
        prediction = predict_volume(image, predict, layout, self.output_channels(),
                                    GridSettings.from_config(self.cfg), strategy, output_window=layout.output_window)
        prediction = self.restore_units(prediction, volume)
        restored = self.pre.invert(prediction, volume.geometry, interp_order=self.cfg.inference.output_interp_order)
        return restored, volume.geometry

    def restore_units(self, prediction: np.ndarray, volume: Any) -> np.ndarray:
        """The stitched prediction (preprocessed grid) in its output units, knowing the subject's
        preprocessed volume (e.g. its whitening statistics); default unchanged."""
        return prediction

    def write_item(self, writer: Any, subject: Any, prediction: tuple[np.ndarray, Any]) -> None:
        """:meth:`to_output` of the restored prediction, on the subject's grid."""
        restored, geometry = prediction
        writer.write(subject, self.to_output(restored), geometry)

    # ------------------------------------------------------------ full-volume validation
    def validate_volumes(self, models: dict[str, Any], strategy: Any) -> dict[str, float]:
        """Every validation subject inferred whole with ``models`` as ``inference`` would (the
        ``[INFERENCE]`` window and blending; its mirroring with ``[TRAINING] validation_tta``),
        scored by :meth:`volume_scores`; the scores averaged over subjects by
        :meth:`summarise_volume_scores`."""
        from voxflow.data.windows import WindowLayout  # noqa: PLC0415

        items = self.data.validation_items()
        if not items:
            return {}
        layout = self.__dict__.get("_validation_layout")
        if layout is None:
            layout = WindowLayout.from_config(self.cfg, "inference", list(getattr(self.cfg.app, self.INPUT_ROLE)))
            network = models["network"]
            if layout.window == self.layout.window:
                layout.output_window = self.layout.output_window
            elif callable(getattr(network, "output_window", None)):  # a VALID-padded network's is smaller
                layout.output_window = layout.to_window(network.output_window(layout.network_window))
            self._validation_layout = layout
        cached = self.__dict__.get("_validation_predict")
        if cached is None or cached[0] is not models:  # compiled once per training run, not per round
            cached = (models, self.ensemble_predictor([models], layout, mirror=self.cfg.training.validation_tta))
            self._validation_predict = cached
        predict = cached[1]
        scores = []
        for subject, volume in items:
            restored, geometry = self.predict_loaded(predict, subject, volume, strategy, layout)
            scores.append(self.volume_scores(subject, restored, geometry))
        return self.summarise_volume_scores(scores)

    def volume_scores(self, subject: Any, restored: np.ndarray, geometry: Any) -> dict[str, float]:
        """Scores of one validation subject's restored prediction (full-volume validation)."""
        raise ConfigError(f"[TRAINING] validation_mode = volumes is not available for [{self.SECTION}].")

    def summarise_volume_scores(self, scores: list[dict[str, float]]) -> dict[str, float]:
        """The round's scalars: each score's mean over subjects (NaN where a subject has none)."""
        names = list(dict.fromkeys(name for row in scores for name in row))
        values = {name: np.array([row.get(name, np.nan) for row in scores], dtype=float) for name in names}
        return {name: float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")
                for name, v in values.items()}

"""The GAN application's inference side (``net_gan inference``): samples and an interpolation from noise,
or ``num_samples`` images per conditioning input, each written as its own file.

:class:`GANInference` is mixed into :class:`~voxflow.applications.gan.GANApplication` ahead of
:class:`~voxflow.applications.dense.DenseApplication`, whose window-grid inference a generator does not
use. It relies on the application's ``cfg``, ``data``, ``pre``, ``layout``, ``outputs``, ``conditional``,
``noise_size``, ``conditioning_channels``, ``conditioning_scale``, ``value_range``, ``output_affine`` and
``GENERATOR``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from voxflow.applications import generative
from voxflow.errors import DataError


class GANInference:
    """The contract's inference hooks for a generator (see the module docstring)."""

    cfg: Any
    data: Any
    pre: Any
    layout: Any
    outputs: Any
    conditional: bool
    noise_size: int
    conditioning_channels: int
    conditioning_scale: float
    value_range: Any
    output_affine: Any
    GENERATOR: str

    def output_writer(self) -> Any:
        """Each generated image as its own file."""
        if self.outputs is None:
            from voxflow.data.writers import WindowImageWriter  # noqa: PLC0415

            inference = self.cfg.inference
            subjects = self.data.infer_subjects if self.data is not None else ()
            self.outputs = WindowImageWriter(inference.save_seg_dir, inference.output_postfix, subjects,
                                             what="generated image")
        return self.outputs

    def inference_items(self) -> Any:
        """Conditioning subjects; or sample numbers, then the interpolation."""
        if self.conditional:
            return self.data.infer_subjects
        items: list[Any] = [("sample", k) for k in range(int(self.cfg.app.num_samples))]
        return items + ([("interpolation", 0)] if int(self.cfg.app.n_interpolations) else [])

    def predictor(self, models: dict[str, Any]) -> Any:
        """Compiled generator: (noise, conditioning) → images in [−1, 1]."""
        import tensorflow as tf  # noqa: PLC0415

        generator = models[self.GENERATOR]
        if self.conditional:
            return tf.function(lambda noise, conditioning: generator(noise, conditioning, training=False),
                               reduce_retracing=True)
        return tf.function(lambda noise: generator(noise, None, training=False), reduce_retracing=True)

    def predict_item(self, predict: Any, item: Any, strategy: Any) -> Any:
        """The item's images (window layout, the input's units) and their affine."""
        samples = int(self.cfg.app.num_samples)
        if not self.conditional:
            kind, index = item
            rng = generative.seeded_rng(self.cfg, stream=index if kind == "sample" else 10 ** 6)
            if kind == "sample":
                noise = rng.normal(size=(1, self.noise_size))
            else:
                ends = rng.normal(size=(2, self.noise_size))
                weights = np.linspace(0.0, 1.0, int(self.cfg.app.n_interpolations))[:, None]
                noise = (1.0 - weights) * ends[0] + weights * ends[1]
            return self._images(predict(noise.astype(np.float32))), self.output_affine
        from voxflow.data.aggregators import resize_volume  # noqa: PLC0415
        from voxflow.data.writers import window_affine  # noqa: PLC0415

        loaded = self.pre.load(item)
        maps = resize_volume(loaded.arrays["conditioning"], self.layout.window, order=1)[None].astype(np.float32)
        if maps.shape[-1] != self.conditioning_channels:
            raise DataError(f"Subject '{item.id}' has {maps.shape[-1]} conditioning channel(s); the model was trained "
                            f"with {self.conditioning_channels}.")
        conditioning = np.repeat(np.asarray(self.layout.to_network(maps)) / self.conditioning_scale, samples, axis=0)
        index = [s.id for s in self.data.infer_subjects].index(item.id)
        noise = generative.seeded_rng(self.cfg, stream=index).normal(size=(samples, self.noise_size))
        images = self._images(predict(noise.astype(np.float32), conditioning.astype(np.float32)))
        return images, window_affine(loaded.geometry, self.layout.window)

    def _images(self, generated: Any) -> np.ndarray:
        return generative.from_unit(np.asarray(self.layout.from_network(generated)), self.value_range, low=-1.0)

    def write_item(self, writer: Any, item: Any, prediction: Any) -> None:
        """``sample_<k>``, ``interpolation_<k>``, or ``<subject>`` (then ``<subject>_1`` ...)."""
        images, affine = prediction
        affine = None if affine is None else np.asarray(affine)
        if not self.conditional:
            kind, index = item
            names = [f"sample_{index}"] if kind == "sample" else [f"interpolation_{k}" for k in range(len(images))]
            for name, image in zip(names, images):
                writer.write(name, image, affine, subject_id=name)
            if kind == "interpolation":
                import os  # noqa: PLC0415

                generative.write_strip(os.path.join(writer.folder, f"interpolation{writer.postfix}"), list(images))
            return
        for image in images:
            writer.write(item.id, image, affine, subject_id=item.id)

"""Dense prediction: a network maps windows of input images to windows of outputs, voxel by voxel.

The base of segmentation, regression and image-to-image tasks (a plugin's denoising, say). It
wires the generic parts of :mod:`voxflow.data` to the application contract, so a task declares
only what is its own:

- its roles (:data:`~voxflow.applications.base.Application.ROLES`), the ones it reads per action
  (:meth:`roles_for`) and the role the network reads (:data:`INPUT_ROLE`);
- how many channels the network returns (:meth:`output_channels`), the activation that turns them
  into the written output (:meth:`output_activation`: softmax for class probabilities, identity for
  intensities) and what is written per voxel (:meth:`to_output`);
- its losses, validation metrics and evaluation.

What this class does for it: the window (2-D or 3-D, :class:`~voxflow.data.windows.WindowLayout`)
and its memory check; the network named in ``[NETWORK]`` built with ``network_args`` and checked
on one window; subjects, split, learnt preprocessing, volumes in memory or streamed, and seeded
window samplers (:class:`~voxflow.data.window_data.WindowData`); augmentation on the device by
each role's kind, with the margin spatial transforms need; grid inference stitched with blending,
every preprocessing step undone (:mod:`voxflow.data.volume_prediction`), outputs written on each
input's grid (:class:`~voxflow.data.writers.VolumeWriter`) by the engine's inference loop.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from voxflow import registry
from voxflow.applications.base import Application
from voxflow.applications.dense_inference import DenseInference
from voxflow.data.windows import WindowLayout
from voxflow.errors import ConfigError, first_line
from voxflow.roles import Kind, Role

log = logging.getLogger(__name__)


#: The input role every dense task reads (``image``: sections concatenated as channels).
IMAGE_ROLE = Role("image", Kind.INTENSITY, "Input sections whose images are the network input, concatenated as "
                  "channels.", required=("train", "inference", "export"), read_by=("train", "inference", "export"))

#: The keys of ``[NETWORK]`` and of the input sections that define a dense task's trained model
#: (inference and evaluation take them from ``settings_train.ini``).
TRAINED_PIPELINE_KEYS = (
    *(("network", key) for key in (
        "name", "network_args", "activation_function", "normalisation", "whitening", "histogram_ref_file",
        "norm_type", "cutoff", "normalise_foreground_only", "foreground_type", "multimod_foreground_type",
        "volume_padding_size", "volume_padding_mode")),
    ("inputs", "pixdim"), ("inputs", "axcodes"), ("inputs", "interp_order"), ("inputs", "intensity_clip"),
    ("inputs", "fixed_whitening"),
)


class DenseApplication(DenseInference, Application):
    """Base class of dense-prediction applications (see the module docstring)."""

    #: The role the network reads (concatenated sections as channels).
    INPUT_ROLE = "image"
    #: The weight map that steers the weighted and balanced samplers.
    SAMPLING_ROLE = "sampler"
    #: How output messages name one output file.
    OUTPUT_NAME = "output"

    def __init__(self, cfg: Any, action: str) -> None:
        super().__init__(cfg, action)
        self.channels = len(getattr(cfg.app, self.INPUT_ROLE) or ())
        self.augmentation: Any = None  # voxflow.augment.pipeline.Augmentation while training
        self.data: Any = None  # voxflow.data.window_data.WindowData once prepared
        self.outputs: Any = None  # voxflow.data.writers.VolumeWriter for inference
        self._network: Any = None  # the network inference predicts with
        self.layout: Any = None  # the WindowLayout; evaluation compares files and has none
        if action == "evaluation":
            return
        read = self.roles_for("train") if action != "inference" else self.roles_for("inference")
        sections = [s for names in read.values() for s in names] or list(getattr(cfg.app, self.INPUT_ROLE))
        self.layout = WindowLayout.from_config(cfg, action, sections)
        self.layout.check_fits_memory(cfg.network.batch_size, self.channels)

    # ------------------------------------------------------------------ declarations to give
    def roles_for(self, action: str) -> dict[str, tuple[str, ...]]:
        """``{role: input sections}`` read for ``action`` (roles left unset in the config omitted)."""
        raise NotImplementedError(f"{type(self).__name__} must implement roles_for(action)")

    def output_channels(self) -> int:
        """The channels the network returns."""
        raise NotImplementedError(f"{type(self).__name__} must implement output_channels()")

    def output_activation(self, outputs: Any) -> Any:
        """What inference stitches, from the network's float32 outputs (default: them, unchanged)."""
        return outputs

    def serving_outputs(self, model: Any, inputs: Any) -> dict[str, Any]:
        """``{"output": …}``: what :meth:`output_activation` makes of the network's float32 outputs (a
        regression's values in its normalised target units; ``regression_target.json`` scales them back)."""
        import tensorflow as tf  # noqa: PLC0415

        return {"output": self.output_activation(tf.cast(model(inputs, training=False), tf.float32))}

    def predict_windows(self, network: Any, windows: Any) -> Any:
        """What inference stitches for a batch of windows in the network's layout (compiled): by default
        :meth:`output_activation` of the network's outputs."""
        import tensorflow as tf  # noqa: PLC0415

        return self.output_activation(tf.cast(network(windows, training=False), tf.float32))

    def to_output(self, restored: np.ndarray) -> np.ndarray:
        """The voxels written, from the stitched prediction on the input grid (default: float32)."""
        return restored.astype(np.float32)

    def prepare_training(self) -> None:
        """Task-specific set-up before training data are loaded (e.g. the loss function)."""

    def window_data_options(self) -> dict[str, Any]:
        """Extra options of the task's :class:`~voxflow.data.window_data.WindowData` (e.g. the
        ``value_maps`` that number class names); default none."""
        return {}

    # ---------------------------------------------------------------------------- prepare
    def prepare(self) -> None:
        """Check the network against the window, then load what the action needs (evaluation, which
        compares files, needs neither; the task's :meth:`evaluate` reads them)."""
        from voxflow.data.window_data import WindowData  # noqa: PLC0415

        if self.action == "evaluation":
            return
        self._check_network_fits()
        if self.action == "train":
            self.prepare_training()
            self._prepare_augmentation()
        self.data = WindowData(self.cfg, self.action, self.roles_for(self.action), self.kinds(), self.layout,
                               sampling_role=self.SAMPLING_ROLE, groups=self.groups(),
                               normalised=tuple(role.name for role in self.ROLES if role.normalised),
                               **self.window_data_options())
        self.data.prepare()
        if self.action == "train":
            self.channels = self.data.channels(self.INPUT_ROLE) or self.channels
        if self.action == "inference":
            self.output_writer()  # built now: it refuses outputs that would replace inputs, before any work

    @property
    def pre(self) -> Any:
        """The :class:`~voxflow.data.preprocessing.Preprocessor` of the prepared data."""
        return self.data.pre

    def _prepare_augmentation(self) -> None:
        """Build the augmentation layers and the margin that spatial ones need (docs/augmentation.md)."""
        from voxflow.augment.steps import augmentation_steps  # noqa: PLC0415

        steps = augmentation_steps(self.cfg)
        if not steps:
            return
        from voxflow.augment.pipeline import Augmentation  # noqa: PLC0415 - TensorFlow on demand

        first = self.cfg.inputs[getattr(self.cfg.app, self.INPUT_ROLE)[0]]
        spacing = tuple(first.pixdim) if first.pixdim else (1.0, 1.0, 1.0)
        seed = None if self.cfg.system.seed is None else int(self.cfg.system.seed)
        intensity = tuple(role.name for role in self.ROLES if role.intensity_transforms)
        try:
            self.augmentation = Augmentation(steps, spacing=spacing, seed=seed, maps=self.kinds(),
                                             intensity_keys=intensity)
        except ValueError as err:
            raise ConfigError(f"Invalid [AUGMENTATION] for [{self.SECTION}]: {err}.") from None
        if self.augmentation.spatial:
            self.layout.margin = self.augmentation.margin(self.layout.window)
            self.layout.check_fits_memory(self.cfg.network.batch_size, self.channels)
        log.info("augmentation: %s; margin %s voxels", ", ".join(n for n, _ in steps), self.layout.margin)

    def augment(self, batch: dict) -> dict:
        """Augment a training batch on its device (inside the train step) and crop it to the window."""
        if not self.augmentation:
            return batch
        return self.augmentation(batch, margin=self.layout.margin)

    # ---------------------------------------------------------------------------- network
    def _network_class(self) -> Any:
        return registry.resolve("network", self.cfg.network.name, search_dirs=(self.cfg.config_dir,))

    def _check_network_fits(self) -> None:
        """The window against the network class's size rule, before any data is read. With
        ``network_args`` the rule may differ from the class's (a U-Net's depth, DeepMedic's
        ``d_factor``): the built network checks it then (:meth:`build_network`)."""
        from voxflow.networks import check_window  # noqa: PLC0415 - TensorFlow on demand

        if self.cfg.network.network_args:
            return
        try:
            check_window(self._network_class(), self.layout.network_window)
        except ValueError as err:
            if self.action == "inference" and self.cfg.inference.spatial_window_size:
                self._grow_inference_window(err)
                return
            raise ConfigError(f"spatial_window_size {self.layout.text} cannot be used with [NETWORK] name = "
                              f"{self.cfg.network.name}: {err}") from err

    def _grow_inference_window(self, err: ValueError) -> None:
        """An ``[INFERENCE] spatial_window_size`` the network cannot take grows to the smallest window it
        takes (NiftyNet's ``(0, 0, 3)`` with a V-Net): the inference window only decides how a volume
        is tiled, never what the network computes, so a larger one is safe; a notice says so."""
        from voxflow.networks.window import smallest_valid_window  # noqa: PLC0415

        grown = self.layout.to_window(smallest_valid_window(self._network_class(), self.layout.network_window))
        log.warning("notice: [INFERENCE] spatial_window_size %s cannot be used with [NETWORK] name = %s (%s); "
                    "inference uses %s, the smallest window it takes.", self.layout.text, self.cfg.network.name,
                    first_line(err).rstrip("."), "×".join(map(str, grown)))
        layout = WindowLayout(grown, full_extent=self.layout.full_extent)
        layout.margin = self.layout.margin
        self.layout = layout
        self.layout.check_fits_memory(self.cfg.network.batch_size, self.channels)

    def build_network(self) -> Any:
        """The network named in ``[NETWORK]`` with its ``network_args``, built on one example window.

        Raises:
            ConfigError: ``network_args`` the network does not take.
            PluginError: a plugin network that fails to build, is not a ``keras.Model``, or does not
                return :meth:`output_channels` values at every voxel of its input window.
        """
        model, output = self.built_network()
        cfg = self.cfg.network
        if output == ():
            raise ConfigError(f"[NETWORK] name = {cfg.name} is a classifier (one vector of logits per window); "
                              f"[{self.SECTION}] needs a network that predicts every voxel.")
        self.layout.check_output_window(self.layout.to_window(output), cfg.name)
        if self.layout.output_window != self.layout.window and self.cfg.network.window_sampling == "resize":
            raise ConfigError(f"[NETWORK] window_sampling = resize needs a network that returns its whole input window; "
                              f"{cfg.name} returns {'×'.join(map(str, self.layout.output_window))} for "
                              f"{self.layout.text}: use a grid-based sampler (uniform, weighted, balanced).")
        return model

    def built_network(self) -> tuple[Any, tuple[int, ...]]:
        """The network of ``[NETWORK]`` built on one example window, and the spatial size of its
        output (``()`` for a classifier); the contract's checks (:mod:`voxflow.networks.contract`)."""
        from voxflow.networks.contract import build_network  # noqa: PLC0415

        cfg = self.cfg.network
        try:
            return build_network(self._network_class(), self._network_kwargs(), self.example_input(),
                                 self.output_channels(), f"[NETWORK] name = {cfg.name}",
                                 plugin=not registry.is_builtin("network", cfg.name))
        except TypeError as err:
            raise ConfigError(f"Invalid [NETWORK] network_args for {cfg.name}: {err}") from err
        except ValueError as err:  # the built network's own window rule (its network_args decide it)
            raise ConfigError(f"spatial_window_size {self.layout.text} cannot be used with [NETWORK] name = "
                              f"{cfg.name} and its network_args: {first_line(err)}") from err

    def _network_kwargs(self) -> dict[str, Any]:
        """The contract's arguments and ``[NETWORK] network_args``."""
        import keras  # noqa: PLC0415

        cfg = self.cfg.network
        regulariser = None
        if cfg.decay > 0:
            regulariser = keras.regularizers.L1(cfg.decay) if cfg.reg_type == "L1" else keras.regularizers.L2(cfg.decay)
        return dict(num_classes=self.output_channels(), spatial_dims=self.layout.spatial_dims,
                    acti_func=cfg.activation_function, keep_prob=cfg.keep_prob, w_initializer=cfg.weight_initializer,
                    w_regularizer=regulariser, **dict(cfg.network_args or {}))

    def example_input(self) -> np.ndarray:
        """A zero batch of one window, shaped as the network sees it (builds the model)."""
        return self.layout.example(self.channels)

    def network_input(self, batch: dict) -> Any:
        """The input role's windows in the network's layout."""
        return self.layout.to_network(batch[self.INPUT_ROLE])

    def checkpoint_info(self) -> dict[str, Any]:
        """The network's input shape, so ``export`` can rebuild it without reading data."""
        return {"input_shape": [int(v) for v in self.example_input().shape]}

    def configure_from_checkpoint(self, info: dict[str, Any]) -> None:
        """The channel count of the saved input shape (``export`` reads no image)."""
        if info.get("input_shape"):
            self.channels = int(info["input_shape"][-1])

    # ------------------------------------------------------------------------------- data
    def training_dataset(self, worker: int) -> Any:
        """Training windows of ``worker``, larger by the augmentation margin, seeded per window."""
        return self.data.training_dataset(worker, seeded=bool(self.augmentation))

    def validation_dataset(self) -> Any:
        """The same validation windows every round, or None without validation subjects."""
        return self.data.validation_dataset()

    @classmethod
    def report(cls, action: str, result: dict) -> str:
        """The closing lines the console script prints (inference: what was written where)."""
        if action == "inference":
            return f"inference: wrote {len(result['outputs'])} {cls.OUTPUT_NAME}(s) to {result['folder']}"
        return super().report(action, result)

"""GAN networks: a generator and a discriminator, 2-D or 3-D, optionally conditioned per pixel.

``[NETWORK] name`` of a ``net_gan`` run names a **pair** (:class:`GANPair`): ``simple_gan`` (a
DCGAN-style pair, Radford et al. 2016) or ``simulator_gan`` (NiftyNet's conditional simulator:
conditioning maps, such as the physical coordinates of every pixel of an imaged plane, enter the
generator at every scale and the discriminator with the image). A plugin pair subclasses
:class:`GANPair` and sets its two model classes.

**Generator** ``G(noise, conditioning=None)``: a dense layer maps the noise to a map
``2 ** len(channels)`` times coarser than the image with ``channels[0]`` features; each level
doubles it by a 4×4(×4) stride-2 transposed convolution (batch norm, ReLU) with the next width
(``channels[k + 1]``, the last level half of ``channels[-1]``), optionally followed by a 3×3(×3)
convolution (``refine``, simulator_gan's second convolution). Conditioning maps, average-pooled to
each scale, are concatenated to the input of the first ``condition_levels`` levels and of the last
convolution. A 3×3(×3) convolution and ``tanh`` give the image: **in [−1, 1]** (the GAN application
scales real images likewise).

**Discriminator** ``D(image, conditioning=None)``: the image (with the conditioning maps as extra
channels) through 4×4(×4) stride-2 convolutions of ``channels`` features (LeakyReLU 0.2; batch norm
after the first), or residual blocks (``residual``: a strided convolution, then two 3×3
convolutions added back; SELU, simulator_gan's discriminator), flattened to one logit.

Sizes: every spatial axis of the image must be a multiple of ``2 ** len(channels)`` of the
generator and of the discriminator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
import numpy as np
from keras import ops

from voxflow.layers.activations import get_activation
from voxflow.layers.factories import check_spatial_dims, conv_layer, serialize_initializer, serialize_regularizer

_POOL = {2: keras.layers.AveragePooling2D, 3: keras.layers.AveragePooling3D}


def _ints(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value or \
            not all(isinstance(v, (int, np.integer)) and v >= 1 for v in value):
        raise ValueError(f"Invalid value for `{name}`. Expected a list of integers >= 1. Received: {value!r}.")
    return tuple(int(v) for v in value)


def _check_window(window: tuple[int, ...], levels: int, what: str) -> None:
    divisor = 2 ** levels
    if any(size % divisor for size in window):
        raise ValueError(f"the {what} needs every image axis to be a multiple of {divisor} (2 ** {levels} levels); "
                         f"got {'×'.join(map(str, window))}.")


class _GANModel(keras.Model):
    """Arguments and serialisation shared by the two models."""

    def __init__(self, window: tuple[int, ...], channels: int, conditioning_channels: int,
                 spatial_dims: int | None, widths: tuple[int, ...], w_initializer: Any, w_regularizer: Any,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window = _ints("window", list(window))
        self.spatial_dims = check_spatial_dims(spatial_dims or len(self.window))
        if len(self.window) != self.spatial_dims:
            raise ValueError(f"Invalid value for `window`. Expected {self.spatial_dims} sizes. Received: {window!r}.")
        self.image_channels, self.conditioning_channels = int(channels), int(conditioning_channels)
        self.widths = _ints("channels", list(widths))
        self.w_initializer = serialize_initializer(w_initializer)
        self.w_regularizer = serialize_regularizer(w_regularizer)
        self.conv_kw = dict(kernel_initializer=w_initializer, kernel_regularizer=w_regularizer)

    def _base_config(self) -> dict[str, Any]:
        return {"window": list(self.window), "channels": self.image_channels,
                "conditioning_channels": self.conditioning_channels, "spatial_dims": self.spatial_dims,
                "w_initializer": self.w_initializer, "w_regularizer": self.w_regularizer, "name": self.name}

    def _conditioning(self, conditioning: Any) -> Any:
        if self.conditioning_channels and conditioning is None:
            raise ValueError(f"{self.name} is conditioned on {self.conditioning_channels} channel(s): pass them")
        return None if not self.conditioning_channels else ops.cast(conditioning, "float32")


@keras.saving.register_keras_serializable(package="voxflow")
class Generator(_GANModel):
    """Noise (and conditioning maps) → an image in [−1, 1] (see the module docstring).

    Args:
        window: the image's spatial size.
        channels: the image's channels.
        noise_size: the noise vector's length.
        conditioning_channels: channels of the conditioning maps (0: unconditional).
        spatial_dims: 2 or 3 (``len(window)``).
        generator_channels: features of the coarsest map and of each level.
        refine: a 3×3 convolution after each level's upsampling.
        condition_levels: the levels whose input takes the conditioning maps (``None``: all).
        fourier_features: conditional: at full resolution the maps also enter as ``sin`` and ``cos`` of
            this many random projections (Fourier features, Tancik et al. 2020: a pixel's value as a
            function of its coordinates has detail that raw coordinates do not let a few layers make).
        fourier_scale: the standard deviation of the projections' frequencies (cycles per unit of the
            scaled maps).
        pixel_channels: conditional: 1×1 convolutions (ReLU) at full resolution, after the last level,
            reading its features, the maps and their Fourier features: a per-pixel network.
        seed: of the random projections.
        w_initializer, w_regularizer: of every kernel.
    """

    def __init__(self, window: tuple[int, ...], channels: int = 1, noise_size: int = 100, *,
                 conditioning_channels: int = 0, spatial_dims: int | None = None,
                 generator_channels: tuple[int, ...] = (256, 128, 64, 32), refine: bool = False,
                 condition_levels: int | None = None, fourier_features: int = 0, fourier_scale: float = 4.0,
                 pixel_channels: tuple[int, ...] = (), seed: int | None = None, w_initializer: Any = None,
                 w_regularizer: Any = None, **kwargs: Any) -> None:
        w_initializer = w_initializer or keras.initializers.RandomNormal(stddev=0.02)
        super().__init__(window, channels, conditioning_channels, spatial_dims, generator_channels, w_initializer,
                         w_regularizer, name=kwargs.pop("name", "generator"), **kwargs)
        self.noise_size, self.refine = int(noise_size), bool(refine)
        levels = len(self.widths)
        self.condition_levels = levels if condition_levels is None else int(condition_levels)
        _check_window(self.window, levels, "generator")
        dims = self.spatial_dims
        self.coarse = tuple(size // 2 ** levels for size in self.window) + (self.widths[0],)
        self.project = keras.layers.Dense(int(np.prod(self.coarse)), kernel_initializer=w_initializer,
                                          kernel_regularizer=w_regularizer, name="project")
        self.project_bn = keras.layers.BatchNormalization(name="project_bn")
        self.pools = [_POOL[dims](pool_size=2 ** (levels - k), name=f"condition_pool_{k}") for k in range(levels)]
        self.levels = []
        for k in range(levels):
            width = self.widths[k + 1] if k + 1 < levels else max(1, self.widths[-1] // 2)
            block = [conv_layer(dims, width, 4, strides=2, transpose=True, **self.conv_kw, name=f"up_{k}"),
                     keras.layers.BatchNormalization(name=f"up_bn_{k}"), get_activation("relu", dims, name=f"up_act_{k}")]
            if self.refine:
                block += [conv_layer(dims, width, 3, **self.conv_kw, name=f"refine_{k}"),
                          keras.layers.BatchNormalization(name=f"refine_bn_{k}"),
                          get_activation("relu", dims, name=f"refine_act_{k}")]
            self.levels.append(block)
        self.fourier_features, self.fourier_scale = int(fourier_features), float(fourier_scale)
        self.pixel_channels = tuple(int(c) for c in pixel_channels)
        self.seed = seed
        self.frequencies = None
        if self.fourier_features and self.conditioning_channels:
            self.frequencies = self.add_weight(
                shape=(self.conditioning_channels, self.fourier_features), name="fourier_frequencies",
                initializer=keras.initializers.RandomNormal(stddev=self.fourier_scale, seed=seed), trainable=False)
        self.pixel_layers = [conv_layer(dims, width, 1, **self.conv_kw, name=f"pixel_{k}")
                             for k, width in enumerate(self.pixel_channels)]
        self.out = conv_layer(dims, self.image_channels, 3, **self.conv_kw, name="image")

    def call(self, noise: Any, conditioning: Any = None, training: Any = None) -> Any:
        """The images ``(B, *window, channels)`` in [−1, 1], float32 (``noise`` may be the pair
        ``[noise, conditioning]``: one input, as Keras saves a model)."""
        if isinstance(noise, (list, tuple)):
            noise, conditioning = noise
        conditioning = self._conditioning(conditioning)
        x = self.project(ops.cast(noise, "float32"))
        x = ops.relu(self.project_bn(ops.reshape(x, (-1, *self.coarse)), training=training))
        for k, block in enumerate(self.levels):
            if conditioning is not None and k < self.condition_levels:
                x = ops.concatenate([x, self.pools[k](conditioning)], axis=-1)
            for layer in block:
                x = layer(x, training=training) if isinstance(layer, keras.layers.BatchNormalization) else layer(x)
        if conditioning is not None:
            parts = [x, conditioning]
            if self.frequencies is not None:
                angles = 2.0 * np.pi * ops.tensordot(conditioning, self.frequencies, axes=[[-1], [0]])
                parts += [ops.sin(angles), ops.cos(angles)]
            x = ops.concatenate(parts, axis=-1)
            for layer in self.pixel_layers:
                x = ops.relu(layer(x))
        return ops.cast(ops.tanh(self.out(x)), "float32")

    def get_config(self) -> dict[str, Any]:
        """Every argument (Keras serialisation)."""
        return {**self._base_config(), "noise_size": self.noise_size, "generator_channels": list(self.widths),
                "refine": self.refine, "condition_levels": self.condition_levels,
                "fourier_features": self.fourier_features, "fourier_scale": self.fourier_scale,
                "pixel_channels": list(self.pixel_channels), "seed": self.seed}


@keras.saving.register_keras_serializable(package="voxflow")
class Discriminator(_GANModel):
    """An image (and its conditioning maps) → one logit: real (> 0) or generated (see the module docstring).

    Args:
        window: the image's spatial size.
        channels: the image's channels.
        conditioning_channels: channels of the conditioning maps (0: unconditional).
        spatial_dims: 2 or 3.
        discriminator_channels: features of each stride-2 level.
        residual: residual blocks with SELU (simulator_gan) instead of plain LeakyReLU convolutions.
        w_initializer, w_regularizer: of every kernel.
    """

    def __init__(self, window: tuple[int, ...], channels: int = 1, *, conditioning_channels: int = 0,
                 spatial_dims: int | None = None, discriminator_channels: tuple[int, ...] = (32, 64, 128, 256),
                 residual: bool = False, w_initializer: Any = None, w_regularizer: Any = None, **kwargs: Any) -> None:
        w_initializer = w_initializer or keras.initializers.RandomNormal(stddev=0.02)
        super().__init__(window, channels, conditioning_channels, spatial_dims, discriminator_channels, w_initializer,
                         w_regularizer, name=kwargs.pop("name", "discriminator"), **kwargs)
        self.residual = bool(residual)
        _check_window(self.window, len(self.widths), "discriminator")
        dims, self.blocks = self.spatial_dims, []
        for k, width in enumerate(self.widths):
            block = {"down": conv_layer(dims, width, 4, strides=2, **self.conv_kw, name=f"down_{k}"),
                     "norm": keras.layers.BatchNormalization(name=f"down_bn_{k}") if k else None,
                     "act": (get_activation("selu", dims, name=f"down_act_{k}") if self.residual
                             else keras.layers.LeakyReLU(negative_slope=0.2, name=f"down_act_{k}")),
                     "residual": []}
            if self.residual:
                block["residual"] = [conv_layer(dims, width, 3, **self.conv_kw, name=f"res_a_{k}"),
                                     get_activation("selu", dims, name=f"res_a_act_{k}"),
                                     conv_layer(dims, width, 3, **self.conv_kw, name=f"res_b_{k}")]
            self.blocks.append(block)
        self.flatten = keras.layers.Flatten(name="flatten")
        self.logit = keras.layers.Dense(1, kernel_initializer=w_initializer, kernel_regularizer=w_regularizer,
                                        name="logit")

    def call(self, images: Any, conditioning: Any = None, training: Any = None) -> Any:
        """Logits ``(B, 1)``, float32 (``images`` may be the pair ``[images, conditioning]``)."""
        if isinstance(images, (list, tuple)):
            images, conditioning = images
        conditioning = self._conditioning(conditioning)
        x = ops.cast(images, "float32")
        if conditioning is not None:
            x = ops.concatenate([x, conditioning], axis=-1)
        for block in self.blocks:
            x = block["down"](x)
            if block["norm"] is not None:
                x = block["norm"](x, training=training)
            x = block["act"](x)
            branch = x
            for layer in block["residual"]:
                branch = layer(branch)
            if block["residual"]:
                x = x + branch
        return ops.cast(self.logit(self.flatten(x)), "float32")

    def get_config(self) -> dict[str, Any]:
        """Every argument (Keras serialisation)."""
        return {**self._base_config(), "discriminator_channels": list(self.widths), "residual": self.residual}


class GANPair:
    """A generator and a discriminator built together from ``[NETWORK]`` and ``[GAN]`` (see the module
    docstring). ``network_args`` starting ``generator_`` or ``discriminator_`` go to that model (the
    prefix kept where the model's argument has it: ``generator_channels``), and the others to both.

    A plugin pair subclasses it and sets :data:`GENERATOR` and :data:`DISCRIMINATOR` (Keras model
    classes taking the arguments below) and :data:`DEFAULTS`.
    """

    GENERATOR: ClassVar[type] = Generator
    DISCRIMINATOR: ClassVar[type] = Discriminator
    #: ``network_args`` this pair sets unless the config does.
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    #: Whether the pair needs conditioning maps (``[GAN] conditioning``).
    CONDITIONAL: ClassVar[bool] = False

    def __init__(self, window: tuple[int, ...], channels: int, noise_size: int, conditioning_channels: int = 0,
                 spatial_dims: int | None = None, w_regularizer: Any = None, **network_args: Any) -> None:
        self.common = dict(window=tuple(window), channels=int(channels), conditioning_channels=int(conditioning_channels),
                           spatial_dims=spatial_dims, w_regularizer=w_regularizer)
        self.noise_size = int(noise_size)
        self.args = {**self.DEFAULTS, **network_args}

    def _split(self, prefix: str, other: str) -> dict[str, Any]:
        own = {}
        for key, value in self.args.items():
            if key.startswith(other + "_"):
                continue
            keep_prefix = key == f"{prefix}_channels"
            own[key if keep_prefix or not key.startswith(prefix + "_") else key[len(prefix) + 1:]] = value
        return own

    def build(self) -> tuple[keras.Model, keras.Model]:
        """``(generator, discriminator)``, unbuilt (the application calls them once)."""
        generator = self.GENERATOR(noise_size=self.noise_size, **self.common, **self._split("generator", "discriminator"))
        discriminator = self.DISCRIMINATOR(**self.common, **self._split("discriminator", "generator"))
        return generator, discriminator


class SimpleGAN(GANPair):
    """The DCGAN-style pair (NiftyNet's ``simple_gan`` name): generator 256/128/64/32, discriminator
    32/64/128/256, unconditional or conditioned at the input."""


class SimulatorGAN(GANPair):
    """NiftyNet's ``simulator_gan`` idea: conditioning maps (e.g. each pixel's physical coordinates)
    enter the generator at every level but the last, which refines each upsampling with a second
    convolution; at full resolution the maps, 64 Fourier features of them and the last level's features
    go through a per-pixel network (1×1 convolutions, 64/64: a pixel's value is a function of where it
    is); a residual SELU discriminator reads the image with the maps."""

    DEFAULTS: ClassVar[dict[str, Any]] = {"generator_channels": (256, 128, 64, 32), "generator_refine": True,
                                          "generator_condition_levels": 3, "generator_fourier_features": 64,
                                          "generator_pixel_channels": (64, 64), "discriminator_residual": True}
    CONDITIONAL: ClassVar[bool] = True

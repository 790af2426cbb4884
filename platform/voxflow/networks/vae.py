"""VAE: NiftyNet's convolutional variational autoencoder (Kingma & Welling 2014), 2-D or 3-D.

The layout is NiftyNet's ``vae`` (every size settable through ``network_args``):

- **encoder**: per entry of ``conv_channels`` (32/64/96) a 3×3(×3) convolution and a strided 2×2(×2)
  convolution that halves the grid, each with batch norm and SELU; the maps flattened; fully
  connected layers ``fc_sizes`` (256, 128; batch norm, SELU); two linear heads give the posterior's
  mean and log-variance (``latent_size`` = 64 each);
- **decoder**: the code through the shared fully connected layers ``shared_fc`` (128), then two
  decoders of the same shape, one for the data's per-voxel **means** (ending in a sigmoid: the image
  must be in [0, 1]) and one for their **log-variances** (linear, clipped to ±``logvar_bound``; not built
  with ``learn_variance = False``, for a likelihood without variances). Each
  is ``fc_sizes`` reversed, a layer back to the flattened map, then per level a 2×2(×2) stride-2
  transposed convolution and a 3×3(×3) convolution (64/32 channels, then the input's).

NiftyNet's quirks are not kept: the log-variance decoder reads the shared layers' output as the means
decoder does (NiftyNet fed it the raw code); the posterior sample is ``μ + σ·ε`` with one ε ~ N(0, I)
(NiftyNet averaged 100 draws, shrinking the noise to about σ/10); and outside training the code is the
posterior mean ``μ`` — encoding and reconstruction are deterministic. The "denoising" input noise
(``input_noise``, a standard deviation, 0.001 as in NiftyNet) is added in training only.

Outputs of ``call``: ``{"posterior_mean", "posterior_logvar", "code", "data_mean", "data_logvar"}``;
:meth:`VAE.encode` and :meth:`VAE.decode` give the two halves (``sample`` and ``linear_interpolation``
decode codes that no image gave). The window is fixed when the network is built (its fully connected
layers depend on it), and every spatial axis must be a multiple of ``2 ** len(conv_channels)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras
import numpy as np
from keras import ops

from voxflow.layers.activations import get_activation
from voxflow.layers.factories import check_spatial_dims, conv_layer, serialize_initializer, serialize_regularizer


def _ints(name: str, value: Any, allow_empty: bool = False) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in value) \
            or (not value and not allow_empty):
        raise ValueError(f"Invalid value for `{name}`. Expected a list of integers >= 1. Received: {value!r}.")
    return tuple(int(v) for v in value)


@keras.saving.register_keras_serializable(package="voxflow")
class VAE(keras.Model):
    """A convolutional VAE for windows of a fixed size (see the module docstring).

    Args:
        window: the spatial size of its input, ``(X, Y[, Z])`` (each a multiple of ``2 ** len(conv_channels)``).
        channels: the input's channels (the output has as many).
        spatial_dims: 2 or 3 (``len(window)``).
        latent_size: the code's length.
        conv_channels: the encoder's channels per level (the decoder mirrors all but the last).
        fc_sizes: the encoder's fully connected layers (the decoders mirror them).
        shared_fc: the fully connected layers both decoders share.
        acti_func: the hidden layers' activation.
        logvar_bound: the data log-variances are clipped to ±it.
        learn_variance: build the log-variance decoder (a Bernoulli likelihood needs none: the
            decoded log-variances are then zeros).
        input_noise: standard deviation of the Gaussian noise added to the input in training.
        w_initializer, w_regularizer: of every kernel.
        seed: of the posterior sample's and the input noise's draws (``None``: Keras' global seed).

    Raises:
        ValueError: a window the levels cannot halve, or invalid sizes.
    """

    network_name: ClassVar[str] = "vae"

    def __init__(self, window: tuple[int, ...], channels: int = 1, *, spatial_dims: int | None = None,
                 latent_size: int = 64, conv_channels: tuple[int, ...] = (32, 64, 96),
                 fc_sizes: tuple[int, ...] = (256, 128), shared_fc: tuple[int, ...] = (128,),
                 acti_func: str = "selu", logvar_bound: float = 50.0, learn_variance: bool = True,
                 input_noise: float = 0.001,
                 w_initializer: Any = "lecun_normal", w_regularizer: Any = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name=kwargs.pop("name", "vae"), **kwargs)
        self.window = _ints("window", list(window))
        self.spatial_dims = check_spatial_dims(spatial_dims or len(self.window))
        if len(self.window) != self.spatial_dims:
            raise ValueError(f"Invalid value for `window`. Expected {self.spatial_dims} sizes. Received: {window!r}.")
        self.channels, self.latent_size = int(channels), int(latent_size)
        self.conv_channels = _ints("conv_channels", list(conv_channels))
        self.fc_sizes = _ints("fc_sizes", list(fc_sizes), allow_empty=True)
        self.shared_fc = _ints("shared_fc", list(shared_fc), allow_empty=True)
        self.acti_func, self.logvar_bound, self.learn_variance = acti_func, float(logvar_bound), bool(learn_variance)
        self.input_noise, self.seed = float(input_noise), seed
        self.w_initializer = serialize_initializer(w_initializer)
        self.w_regularizer = serialize_regularizer(w_regularizer)
        divisor = 2 ** len(self.conv_channels)
        if any(size % divisor for size in self.window):
            raise ValueError(f"vae needs every window axis to be a multiple of {divisor} (2 ** {len(self.conv_channels)} "
                             f"levels); got {'×'.join(map(str, self.window))}.")
        self.coarse = tuple(size // divisor for size in self.window) + (self.conv_channels[-1],)
        self._noise_seed = keras.random.SeedGenerator(seed)
        dims, conv_kw = self.spatial_dims, dict(kernel_initializer=w_initializer, kernel_regularizer=w_regularizer)

        def dense(units: int, name: str) -> keras.layers.Layer:
            return keras.layers.Dense(units, kernel_initializer=w_initializer, kernel_regularizer=w_regularizer,
                                      name=name)

        self.encoder_layers = []
        for level, width in enumerate(self.conv_channels):
            self.encoder_layers += [
                conv_layer(dims, width, 3, **conv_kw, name=f"enc_conv_{level}"),
                keras.layers.BatchNormalization(name=f"enc_conv_bn_{level}"),
                get_activation(acti_func, dims, name=f"enc_conv_act_{level}"),
                conv_layer(dims, width, 2, strides=2, use_bias=False, **conv_kw, name=f"enc_down_{level}"),
                keras.layers.BatchNormalization(name=f"enc_down_bn_{level}"),
                get_activation(acti_func, dims, name=f"enc_down_act_{level}")]
        self.encoder_layers.append(keras.layers.Flatten(name="enc_flatten"))
        for k, units in enumerate(self.fc_sizes):
            self.encoder_layers += [dense(units, f"enc_fc_{k}"), keras.layers.BatchNormalization(name=f"enc_fc_bn_{k}"),
                                    get_activation(acti_func, 0, name=f"enc_fc_act_{k}")]
        self.mean_head = dense(self.latent_size, "posterior_mean")
        self.logvar_head = dense(self.latent_size, "posterior_logvar")
        self.shared_layers = []
        for k, units in enumerate(self.shared_fc):
            self.shared_layers += [dense(units, f"shared_fc_{k}"), keras.layers.BatchNormalization(name=f"shared_bn_{k}"),
                                   get_activation(acti_func, 0, name=f"shared_act_{k}")]
        self.means_decoder = self._decoder("means", "sigmoid", dense, conv_kw)
        self.logvars_decoder = self._decoder("logvars", None, dense, conv_kw) if self.learn_variance else []

    def _decoder(self, label: str, last: str | None, dense: Any, conv_kw: dict) -> list:
        dims, layers = self.spatial_dims, []
        for k, units in enumerate((*self.fc_sizes[::-1], int(np.prod(self.coarse)))):
            layers += [dense(units, f"{label}_fc_{k}"), keras.layers.BatchNormalization(name=f"{label}_fc_bn_{k}"),
                       get_activation(self.acti_func, 0, name=f"{label}_fc_act_{k}")]
        layers.append(keras.layers.Reshape(self.coarse, name=f"{label}_unflatten"))
        widths = (*self.conv_channels[-2::-1], self.channels)
        for level, width in enumerate(widths):
            final = level == len(widths) - 1
            layers += [conv_layer(dims, width if not final else self.conv_channels[0], 2, strides=2, transpose=True,
                                  **conv_kw, name=f"{label}_up_{level}"),
                       keras.layers.BatchNormalization(name=f"{label}_up_bn_{level}"),
                       get_activation(self.acti_func, dims, name=f"{label}_up_act_{level}"),
                       conv_layer(dims, width, 3, **conv_kw, name=f"{label}_conv_{level}")]
            if not final:
                layers += [keras.layers.BatchNormalization(name=f"{label}_conv_bn_{level}"),
                           get_activation(self.acti_func, dims, name=f"{label}_conv_act_{level}")]
            elif last is not None:
                layers.append(get_activation(last, dims, name=f"{label}_out"))
        return layers

    @staticmethod
    def _run(layers: list, x: Any, training: Any) -> Any:
        for layer in layers:
            x = layer(x, training=training) if isinstance(layer, keras.layers.BatchNormalization) else layer(x)
        return x

    def encode(self, images: Any, training: Any = False) -> tuple[Any, Any]:
        """The posterior's mean and log-variance ``(B, latent_size)`` of a batch of windows."""
        x = ops.cast(images, "float32")
        if training and self.input_noise > 0:
            x = x + self.input_noise * keras.random.normal(ops.shape(x), seed=self._noise_seed)
        hidden = self._run(self.encoder_layers, x, training)
        return self.mean_head(hidden), self.logvar_head(hidden)

    def decode(self, codes: Any, training: Any = False) -> tuple[Any, Any]:
        """The data's per-voxel means (in [0, 1]) and log-variances of a batch of codes."""
        shared = self._run(self.shared_layers, ops.cast(codes, "float32"), training)
        means = self._run(self.means_decoder, shared, training)
        if not self.learn_variance:
            return means, ops.zeros_like(means)
        logvars = ops.clip(self._run(self.logvars_decoder, shared, training), -self.logvar_bound, self.logvar_bound)
        return means, logvars

    def call(self, images: Any, training: Any = None) -> dict[str, Any]:
        """Encode, draw the code (its mean outside training), decode."""
        mean, logvar = self.encode(images, training=training)
        code = mean
        if training:
            code = mean + ops.exp(0.5 * logvar) * keras.random.normal(ops.shape(mean), seed=self._noise_seed)
        data_mean, data_logvar = self.decode(code, training=training)
        return {"posterior_mean": mean, "posterior_logvar": logvar, "code": code, "data_mean": data_mean,
                "data_logvar": data_logvar}

    def get_config(self) -> dict[str, Any]:
        """Every argument (Keras serialisation)."""
        return {"window": list(self.window), "channels": self.channels, "spatial_dims": self.spatial_dims,
                "latent_size": self.latent_size, "conv_channels": list(self.conv_channels),
                "fc_sizes": list(self.fc_sizes), "shared_fc": list(self.shared_fc), "acti_func": self.acti_func,
                "logvar_bound": self.logvar_bound, "learn_variance": self.learn_variance,
                "input_noise": self.input_noise,
                "w_initializer": self.w_initializer, "w_regularizer": self.w_regularizer, "seed": self.seed,
                "name": self.name}

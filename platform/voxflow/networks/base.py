"""SegmentationNet: the constructor, argument checks, config and output contract of every network.

Dense networks subclass ``SegmentationNet`` (``dense_output = True``: logits per voxel);
classifiers subclass ``ClassificationNet`` (``dense_output = False``: one logit vector per window).
Subclasses declare their ``network_args`` as keyword-only ``__init__`` parameters with defaults,
store each under the same attribute name, and implement ``forward``. The base class then gives
them: the error for unknown ``network_args``, ``get_config``/``from_config``, the input checks
(rank, ``window_divisor`` or ``window_rule``), ``output_window`` and float32 logits.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import keras
from keras import ops

from voxflow.layers.conv_block import ConvBlock, check_keep_prob
from voxflow.layers.dropout import Dropout
from voxflow.layers.factories import check_spatial_dims, serialize_initializer, serialize_regularizer
from voxflow.naming import did_you_mean
from voxflow.networks.window import WindowRule, check_window, output_window

_LAYER_KWARGS = ("name", "dtype", "trainable")


class SegmentationNet(keras.Model):
    """Base class of voxflow's dense-prediction networks (channels-last, 2-D or 3-D).

    Args:
        num_classes: output channels (logits).
        spatial_dims: 2 or 3.
        acti_func: activation name (see ``voxflow.layers.ACTIVATIONS``).
        keep_prob: keep probability of the dropout before the classifier (1.0: no dropout);
            dropout is active only when called with ``training=True``.
        w_initializer: kernel initialiser (Keras name, config dict or instance).
        w_regularizer: ``None``, an L2 factor (float) or a Keras regulariser, applied to every
            kernel; its penalties appear in ``model.losses`` after a call.
        **network_args: the subclass's keyword-only arguments, plus ``name``/``dtype``/``trainable``.

    Raises:
        TypeError: for an unknown network argument, naming it and the accepted ones.
        ValueError: for invalid values.
    """

    network_name: ClassVar[str] = "network"
    #: Every spatial axis of a window must be a multiple of it; one int per spatial axis where the
    #: network down-samples some axes more than others (:func:`~voxflow.networks.window.axis_divisors`).
    window_divisor: ClassVar[int | tuple[int, ...]] = 1
    #: The valid window sizes and smaller output of a VALID-convolution network (``None``: the
    #: output has the input's size and ``window_divisor`` is the only rule).
    window_rule: ClassVar[WindowRule | None] = None
    #: Whether the logits are spatial, ``(B, *output_window(window), num_classes)`` (a dense
    #: network), or one vector per window, ``(B, num_classes)`` (a :class:`ClassificationNet`).
    dense_output: ClassVar[bool] = True

    def __init__(
        self,
        num_classes: int,
        spatial_dims: int = 3,
        acti_func: str = "relu",
        keep_prob: float = 1.0,
        w_initializer: Any = "he_normal",
        w_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        layer_kwargs = {k: kwargs.pop(k) for k in _LAYER_KWARGS if k in kwargs}
        if kwargs:
            raise self._unknown_args_error(kwargs)
        layer_kwargs.setdefault("name", self.network_name)
        super().__init__(**layer_kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"Invalid value for `num_classes`. Expected an integer >= 1. Received: {num_classes!r}.")
        self.num_classes = int(num_classes)
        self.spatial_dims = check_spatial_dims(spatial_dims)
        self.acti_func = str(acti_func).lower()
        self.keep_prob = check_keep_prob(keep_prob)
        self.w_initializer = serialize_initializer(w_initializer)
        self.w_regularizer = serialize_regularizer(w_regularizer)
        self.head_dropout = Dropout(1.0 - self.keep_prob, name="dropout") if self.keep_prob < 1.0 else None

    # ----------------------------------------------------------------------------- network_args
    @classmethod
    def network_arg_defaults(cls) -> dict[str, Any]:
        """The network's own keyword arguments (``[NETWORK] network_args``) and their defaults."""
        params = inspect.signature(cls.__init__).parameters.values()
        return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    @classmethod
    def _unknown_args_error(cls, unknown: dict[str, Any]) -> TypeError:
        accepted = list(cls.network_arg_defaults())
        name = sorted(unknown)[0]
        hint = did_you_mean(name, accepted)
        listed = ", ".join(accepted) if accepted else "none"
        return TypeError(
            f"{cls.network_name} got an unexpected network argument {name!r}. "
            f"Accepted network_args: {listed}.{hint}"
        )

    @staticmethod
    def positive_int(name: str, value: Any) -> int:
        """Return ``value`` as an int ≥ 1, else raise ValueError naming ``name``."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < 1:
            raise ValueError(f"Invalid value for `{name}`. Expected an integer >= 1. Received: {value!r}.")
        return int(value)

    @classmethod
    def positive_ints(cls, name: str, value: Any, min_length: int = 1) -> tuple[int, ...]:
        """Return ``value`` (a list or tuple of integers ≥ 1, e.g. features per level) as a tuple.

        Raises:
            ValueError: naming ``name``, for anything else or fewer than ``min_length`` entries.
        """
        valid = isinstance(value, (list, tuple)) and len(value) >= min_length
        if valid:
            try:
                return tuple(cls.positive_int(name, v) for v in value)
            except ValueError:
                pass
        raise ValueError(f"Invalid value for `{name}`. Expected a list of at least {min_length} integers >= 1. "
                         f"Received: {value!r}.")

    # ----------------------------------------------------------------------------- forward pass
    def check_rank(self, shape: tuple[int | None, ...]) -> None:
        """Raise ValueError unless ``shape`` is (batch, spatial_dims axes, known channels)."""
        if len(shape) != self.spatial_dims + 2 or shape[-1] is None:
            raise ValueError(
                f"{self.network_name} built with spatial_dims={self.spatial_dims} expects inputs of rank "
                f"{self.spatial_dims + 2} (batch, {self.spatial_dims} spatial axes, channels) with a known "
                f"channel count. Received shape {shape}."
            )

    def check_inputs(self, inputs: Any) -> None:
        """Check the input rank and, where the spatial shape is static, the window divisor."""
        self.check_rank(tuple(inputs.shape))
        spatial = inputs.shape[1:-1]
        if all(s is not None for s in spatial):
            check_window(self, spatial)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create every variable, inside this model's name scope.

        Keras calls this on the first call and from ``build_from_config`` (``.keras`` loading,
        ``deserialize_keras_object``); without it Keras would build a subclassed model by running
        ``call`` outside the model's name scope, and the variable paths would lose their
        ``<network_name>/`` prefix. Variables do not depend on the window size, so the probe is
        the smallest valid window: batch 1, ``window_divisor`` voxels per axis (each axis's
        divisor where it has one per axis; the rule's ``start`` for a network with a ``window_rule``).
        """
        shape = tuple(input_shape)
        self.check_rank(shape)
        if self.window_rule is not None:
            lengths = (self.window_rule.start,) * self.spatial_dims
        elif isinstance(self.window_divisor, tuple):
            lengths = self.window_divisor
        else:
            lengths = (self.window_divisor,) * self.spatial_dims
        probe = ops.zeros((1, *lengths, shape[-1]), dtype="float32")
        self.forward(probe, training=False)

    def output_window(self, window: tuple[int, ...]) -> tuple[int, ...]:
        """The spatial size of the logits for an input window (the window itself unless the network
        has a ``window_rule``).

        Raises:
            ValueError: the window does not fit the network (``check_window``'s message).
        """
        return output_window(self, window)

    def forward(self, inputs: Any, training: bool | None = None) -> Any:
        """The network body: features → logits. Implemented by subclasses."""
        raise NotImplementedError

    def dropout(self, x: Any, training: bool | None) -> Any:
        """The ``keep_prob`` dropout subclasses apply before their classifier."""
        return x if self.head_dropout is None else self.head_dropout(x, training=training)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Return float32 logits ``(B, *output_window(spatial), num_classes)`` for ``inputs`` ``(B, *spatial, C)``."""
        self.check_inputs(inputs)
        return ops.cast(self.forward(inputs, training=training), "float32")

    # ----------------------------------------------------------------------------- config
    def block_kwargs(self) -> dict[str, Any]:
        """The options every block of the network shares."""
        return {
            "spatial_dims": self.spatial_dims,
            "acti_func": self.acti_func,
            "kernel_initializer": self.w_initializer,
            "kernel_regularizer": self.w_regularizer,
        }

    def classifier(self, kernel_size: int = 1, name: str = "head") -> ConvBlock:
        """The final convolution to ``num_classes`` logits (with bias, no norm, no activation)."""
        return ConvBlock(
            self.num_classes,
            self.spatial_dims,
            kernel_size=kernel_size,
            norm="none",
            acti_func=None,
            use_bias=True,
            kernel_initializer=self.w_initializer,
            kernel_regularizer=self.w_regularizer,
            name=name,
        )

    def get_config(self) -> dict[str, Any]:
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "spatial_dims": self.spatial_dims,
            "acti_func": self.acti_func,
            "keep_prob": self.keep_prob,
            "w_initializer": self.w_initializer,
            "w_regularizer": self.w_regularizer,
        }
        config.update({key: getattr(self, key) for key in self.network_arg_defaults()})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SegmentationNet:
        return cls(**config)


class ClassificationNet(SegmentationNet):
    """Base class of voxflow's classifiers: a window ``(B, *spatial, C)`` → logits ``(B, num_classes)``.

    The constructor, ``network_args``, ``get_config``, input checks and ``window_divisor`` are
    :class:`SegmentationNet`'s. What differs is the output: ``dense_output`` is ``False`` and
    :meth:`output_window` is ``()`` (no spatial axes), so ``call`` returns float32 logits
    ``(B, num_classes)``. Applications tell the two kinds apart by ``dense_output`` (or, for any
    network that declares ``output_window``, by ``output_window(window) == ()``), never by the
    network's name. The window divisor is the network's total down-sampling factor: every pooling
    and strided convolution then sees whole cells.

    Subclasses end their ``forward`` with :meth:`global_mean`, :meth:`dropout` and a
    :meth:`linear_classifier`.
    """

    dense_output: ClassVar[bool] = False

    def output_window(self, window: tuple[int, ...]) -> tuple[int, ...]:
        """``()``: a classifier's logits have no spatial axes (after checking ``window`` fits).

        Raises:
            ValueError: the window does not fit the network (``check_window``'s message).
        """
        check_window(self, window)
        return ()

    def global_mean(self, x: Any) -> Any:
        """Average ``x`` ``(B, *spatial, F)`` over its spatial axes: ``(B, F)``."""
        return ops.mean(x, axis=tuple(range(1, self.spatial_dims + 1)))

    def linear_classifier(self, name: str = "fc") -> keras.layers.Dense:
        """The fully connected layer from pooled features to ``num_classes`` logits (with bias)."""
        fresh = [dict(v) if isinstance(v, dict) else v for v in (self.w_initializer, self.w_regularizer)]
        return keras.layers.Dense(
            self.num_classes,
            use_bias=True,
            kernel_initializer=keras.initializers.get(fresh[0]),
            kernel_regularizer=keras.regularizers.get(fresh[1]),
            name=name,
        )

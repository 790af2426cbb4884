"""Dropout whose random-state variable has a fixed, scoped path."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="voxflow")
class Dropout(keras.layers.Layer):
    """Inverted dropout, active only with ``training=True``.

    Same maths as ``keras.layers.Dropout``, but ``keras.layers.Dropout`` creates its
    ``SeedGenerator`` in ``__init__``, outside any name scope, so its state variable is called
    ``seed_generator_<N>/seed_generator_state`` with ``N`` a process-wide counter. That variable is
    part of ``model.variables``, and voxflow checkpoints variables by path, so a path that depends
    on how many layers were created before would break restoring. Here the generator is created in
    ``build``, under the layer's own scope: ``<model>/<block>/dropout/seed_generator/...``.

    Args:
        rate: fraction of units dropped, in [0, 1).
        seed: optional integer seed.
        **kwargs: ``keras.layers.Layer`` arguments.
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Invalid value for `rate`. Expected a number in [0, 1). Received: {rate!r}.")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="seed_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if training and self.rate > 0.0:
            return keras.random.dropout(inputs, self.rate, seed=self.seed_generator)
        return inputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config

"""Training-step patterns: the compiled, distributed update an application's declarations plug into.

An application picks its pattern with ``STEP`` (``"supervised"``, the default, or
``"adversarial"``).

A pattern is engine code, not task code (MONAI has a trainer per pattern; Keras makes the train
step the extension point). :class:`SupervisedStep` serves every task trained by minimising losses of
the models' outputs — segmentation, regression, classification, an autoencoder through its loss
terms. Per replica it:

1. augments the batch (:meth:`~voxflow.applications.base.Application.augment`, on the device);
2. runs :meth:`~voxflow.applications.base.Application.forward` and
   :meth:`~voxflow.applications.base.Application.losses` under a gradient tape;
3. minimises the sum of the named losses plus the models' own regularisation losses, each model
   updated by its own optimiser (loss scaling under ``mixed_float16``);
4. returns every loss as a named scalar (``loss`` is the sum when there are several) and whether
   every weight is finite *after* the update (the losses are computed before it).

The distributed step averages each scalar over the replicas.

Both patterns compile without AutoGraph when every component of the run is voxflow's own (its code
uses no tensor-dependent Python control flow): converting the network, loss and augmentation code
took about 10 s of the first step's trace on 2 cores. A run with any plugin (network, loss,
augmentation or application) keeps AutoGraph, so plugin code may write ``if``/``for`` on tensors as
in any ``tf.function`` (:func:`uses_autograph`).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

TOTAL = "loss"


def uses_autograph(app: Any) -> bool:
    """Whether the training step needs AutoGraph: True unless the application, its network, its loss
    and every augmentation of the run are voxflow's built-ins (see the module docstring)."""
    from voxflow import registry  # noqa: PLC0415

    cfg = getattr(app, "cfg", None)
    if cfg is None or not type(app).__module__.startswith("voxflow."):
        return True
    components = [("network", cfg.network.name), ("loss", getattr(cfg.training, "loss_type", None))]
    components += [("augmentation", name) for name in cfg.augmentation.keys()]
    return not all(registry.is_builtin(family, str(name)) for family, name in components if name)


def all_finite(variables: list) -> tf.Tensor:
    """Whether every floating-point variable holds only finite values (one fused pass, on the device)."""
    checks = [tf.reduce_all(tf.math.is_finite(v)) for v in variables if tf.as_dtype(v.dtype).is_floating]
    return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def named_scalars(losses: dict[str, tf.Tensor]) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """The total to minimise and the scalars to report from an application's named losses.

    One loss is reported under its own name and is the total; several are reported each, with
    their sum as ``loss``.
    """
    if not losses:
        raise ValueError("the application's losses() returned no loss")
    values = list(losses.values())
    total = values[0] if len(values) == 1 else tf.add_n(values)
    if len(values) > 1 and TOTAL in losses:
        raise ValueError(f"losses() names a loss '{TOTAL}' among several: '{TOTAL}' is their sum, choose other names")
    scalars = dict(losses) if len(values) == 1 else {TOTAL: total, **losses}
    return total, scalars


class SupervisedStep:
    """The supervised train and evaluation steps of one application (see the module docstring).

    Args:
        app: the application.
        models: ``{name: model}``.
        optimizers: ``{name: optimiser}`` of the models that are trained.
        trainable: ``{name: variables}`` each optimiser updates (``vars_to_freeze`` applied).
        strategy: the ``tf.distribute`` strategy.
        jit_compile: compile the replica step with XLA.
    """

    def __init__(self, app: Any, models: dict[str, Any], optimizers: dict[str, Any], trainable: dict[str, list],
                 strategy: tf.distribute.Strategy, jit_compile: bool = False) -> None:
        self.app, self.models, self.optimizers, self.trainable = app, models, optimizers, trainable
        self.strategy = strategy
        autograph = uses_autograph(app)
        replica = self._replica_train if not jit_compile else tf.function(self._replica_train, jit_compile=True,
                                                                             autograph=autograph)

        @tf.function(autograph=autograph)
        def train_step(dist_batch: Any) -> dict[str, tf.Tensor]:
            return self._reduce(strategy.run(replica, args=(dist_batch,)))

        @tf.function(autograph=autograph)
        def eval_step(dist_batch: Any) -> tuple[Any, Any]:
            return strategy.run(self._replica_eval, args=(dist_batch,))

        self.train_step, self.eval_step = train_step, eval_step

    def _regularisation(self) -> tf.Tensor | float:
        extra = [loss for model in self.models.values() for loss in model.losses]
        return tf.add_n(extra) if extra else 0.0

    def _replica_train(self, batch: dict) -> dict[str, tf.Tensor]:
        app, replicas = self.app, float(self.strategy.num_replicas_in_sync)
        batch = app.augment(batch)
        single = len(self.optimizers) == 1
        with tf.GradientTape(persistent=not single) as tape:
            outputs = app.forward(self.models, batch, training=True)
            total, scalars = named_scalars(app.losses(batch, outputs))
            objective = (total + self._regularisation()) / replicas
            scaled = {name: opt.scale_loss(objective) if hasattr(opt, "scale_loss") else objective
                      for name, opt in self.optimizers.items()}
        for name, optimizer in self.optimizers.items():
            grads = tape.gradient(scaled[name], self.trainable[name])
            optimizer.apply_gradients(zip(grads, self.trainable[name]))
        if not single:
            del tape
        weights = [v for model in self.models.values() for v in model.variables]
        return {**scalars, "finite": tf.cast(all_finite(weights), tf.float32)}

    def _replica_eval(self, batch: dict) -> tuple[dict[str, tf.Tensor], Any]:
        outputs = self.app.forward(self.models, batch, training=False)
        return named_scalars(self.app.losses(batch, outputs))[1], outputs

    def _reduce(self, per_replica: dict[str, Any]) -> dict[str, tf.Tensor]:
        # "finite" averages to 1.0 exactly when every replica's weights are finite
        return {name: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in per_replica.items()}


class AdversarialStep:
    """The adversarial (GAN) train step: ``d_steps`` discriminator updates, then one generator update.

    The application names its two models (``GENERATOR``, ``DISCRIMINATOR``) and gives their losses:
    :meth:`~voxflow.applications.base.Application.discriminator_losses` (minimised over the
    discriminator's variables, the generator fixed) and
    :meth:`~voxflow.applications.base.Application.generator_losses` (minimised over the generator's);
    each model's own regularisation losses are added to its objective. Every loss is a named scalar
    (prefixed ``d_`` and ``g_`` when the application did not), averaged over the replicas; the
    weights of both models are checked after the updates.

    Args:
        app: the application.
        models: ``{name: model}`` holding the generator and the discriminator.
        optimizers: ``{name: optimiser}`` of both.
        trainable: ``{name: variables}`` each optimiser updates.
        strategy: the ``tf.distribute`` strategy.
        d_steps: discriminator updates per generator update (NiftyNet and MONAI's ``d_train_steps``).
    """

    def __init__(self, app: Any, models: dict[str, Any], optimizers: dict[str, Any], trainable: dict[str, list],
                 strategy: tf.distribute.Strategy, d_steps: int = 1, jit_compile: bool = False) -> None:
        self.app, self.models, self.optimizers, self.trainable = app, models, optimizers, trainable
        self.strategy, self.d_steps = strategy, int(d_steps)
        self.generator, self.discriminator = app.GENERATOR, app.DISCRIMINATOR
        autograph = uses_autograph(app)
        replica = self._replica_train if not jit_compile else tf.function(self._replica_train, jit_compile=True,
                                                                             autograph=autograph)

        @tf.function(autograph=autograph)
        def train_step(dist_batch: Any) -> dict[str, tf.Tensor]:
            per_replica = strategy.run(replica, args=(dist_batch,))
            return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                    for name, value in per_replica.items()}

        @tf.function(autograph=autograph)
        def eval_step(dist_batch: Any) -> tuple[Any, Any]:
            return strategy.run(self._replica_eval, args=(dist_batch,))

        self.train_step, self.eval_step = train_step, eval_step

    def _update(self, name: str, losses: Any, batch: dict) -> dict[str, tf.Tensor]:
        replicas = float(self.strategy.num_replicas_in_sync)
        optimizer, variables = self.optimizers[name], self.trainable[name]
        with tf.GradientTape() as tape:
            total, scalars = named_scalars(losses(self.models, batch))
            extra = self.models[name].losses
            objective = (total + (tf.add_n(extra) if extra else 0.0)) / replicas
            if hasattr(optimizer, "scale_loss"):
                objective = optimizer.scale_loss(objective)
        optimizer.apply_gradients(zip(tape.gradient(objective, variables), variables))
        return scalars

    @staticmethod
    def _prefixed(prefix: str, scalars: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return {(name if name.startswith(prefix) else f"{prefix}{name}"): value for name, value in scalars.items()}

    def _replica_train(self, batch: dict) -> dict[str, tf.Tensor]:
        batch = self.app.augment(batch)
        for _ in range(self.d_steps):
            d_scalars = self._update(self.discriminator, self.app.discriminator_losses, batch)
        g_scalars = self._update(self.generator, self.app.generator_losses, batch)
        weights = [v for model in self.models.values() for v in model.variables]
        return {**self._prefixed("d_", d_scalars), **self._prefixed("g_", g_scalars),
                "finite": tf.cast(all_finite(weights), tf.float32)}

    def _replica_eval(self, batch: dict) -> tuple[dict[str, tf.Tensor], Any]:
        d_scalars = named_scalars(self.app.discriminator_losses(self.models, batch))[1]
        g_scalars = named_scalars(self.app.generator_losses(self.models, batch))[1]
        scalars = {**self._prefixed("d_", d_scalars), **self._prefixed("g_", g_scalars)}
        return scalars, self.app.forward(self.models, batch, training=False)

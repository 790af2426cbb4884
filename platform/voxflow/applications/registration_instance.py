"""Instance optimisation: refine a network's field on the one pair being registered (``net_reg inference``).

A trained network gives a good first field in one pass; on a pair unlike its training data it can
stop short. With ``[REGISTRATION] instance_iterations = n`` inference then runs ``n`` Adam steps
(``instance_lr``) on that pair alone, minimising the training's image loss plus its regulariser
(labels are not used: the fixed image's labels are what evaluation scores). What is optimised is
a correction added to the network's prediction — to the velocity for ``svf`` methods (integrated
again at every step, so the result stays diffeomorphic), to the displacement otherwise — on a grid
``2**level`` times coarser than the images (integrated there), upsampled to compare the images at
their full resolution. The network itself is not changed. This is what VoxelMorph
calls test-time fine-tuning and what the best Learn2Reg methods do after their network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from voxflow.layers.warp import integrate_velocity, rescale_field, warp


class Refiner:
    """Refines fields pair after pair (see the module docstring); one compiled Adam step per grid shape,
    its state reset for each pair, so a new pair of a known shape is not traced again.

    Args:
        velocity: the prediction is a velocity (integrated after every step) rather than a displacement.
        iterations, lr: Adam steps and learning rate (β 0.9, 0.999, ε 1e-7).
        image_loss: ``(fixed, warped) -> loss`` on the coarser grid.
        regulariser: ``field -> loss`` (or None), weighted by ``regulariser_weight``; it reads the
            coarse field, rescaled to what it is at full resolution (``bending``'s second derivatives
            are ``2**level`` times larger per coarse voxel: divided by ``4**level``).
        level: the coarser grid (1: half resolution).
    """

    BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-7

    def __init__(self, velocity: bool, iterations: int, lr: float, image_loss: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
                 regulariser: Callable[[tf.Tensor], tf.Tensor] | None = None, regulariser_weight: float = 0.0,
                 integration_steps: int = 7, level: int = 1, bending: bool = False) -> None:
        self.velocity, self.iterations, self.lr = velocity, int(iterations), float(lr)
        self.image_loss, self.regulariser = image_loss, regulariser
        self.weight = float(regulariser_weight) / (4.0 ** level if bending else 1.0)
        self.integration_steps, self.level = int(integration_steps), int(level)
        self._states: dict[tuple[int, ...], tuple] = {}

    def _flow(self, field: tf.Tensor) -> tf.Tensor:
        return integrate_velocity(field, self.integration_steps) if self.velocity else field

    def _state(self, shape: tuple[int, ...]) -> tuple:
        if shape not in self._states:
            delta, first, second = (tf.Variable(tf.zeros(shape)) for _ in range(3))
            count = tf.Variable(0.0)

            @tf.function
            def step(base: tf.Tensor, fixed: tf.Tensor, moving: tf.Tensor) -> tf.Tensor:
                with tf.GradientTape() as tape:
                    field = base + delta
                    flow = rescale_field(self._flow(field), tf.unstack(tf.shape(fixed)[1:-1]))
                    loss = self.image_loss(fixed, warp(moving, flow, 1))
                    if self.regulariser is not None and self.weight > 0:
                        loss += self.weight * self.regulariser(field)
                grad = tape.gradient(loss, delta)
                count.assign_add(1.0)
                first.assign(self.BETA1 * first + (1 - self.BETA1) * grad)
                second.assign(self.BETA2 * second + (1 - self.BETA2) * grad * grad)
                corrected = first / (1 - self.BETA1 ** count)
                scale = tf.sqrt(second / (1 - self.BETA2 ** count)) + self.EPSILON
                delta.assign_sub(self.lr * corrected / scale)
                return loss

            self._states[shape] = (delta, first, second, count, step)
        return self._states[shape]

    def __call__(self, fixed: tf.Tensor, moving: tf.Tensor, predicted: tf.Tensor) -> tf.Tensor:
        """The refined full-resolution displacement.

        Args:
            fixed, moving: ``(1, *spatial, C)`` images on one grid, each axis a multiple of ``2**level``.
            predicted: the network's field at full resolution: the velocity for ``velocity``, else the
                displacement.
        """
        fixed, moving = tf.cast(fixed, tf.float32), tf.cast(moving, tf.float32)
        size = [int(n) for n in fixed.shape[1:-1]]
        coarse = [n // 2 ** self.level for n in size]
        base = rescale_field(predicted, coarse)
        delta, first, second, count, step = self._state(tuple(base.shape))
        for variable in (delta, first, second):
            variable.assign(tf.zeros_like(variable))
        count.assign(0.0)
        for _ in range(self.iterations):
            step(base, fixed, moving)
        return rescale_field(self._flow(base + delta), size)


def refine(fixed: tf.Tensor, moving: tf.Tensor, predicted: tf.Tensor, velocity: bool, iterations: int, lr: float,
           image_loss: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], regulariser: Callable[[tf.Tensor], tf.Tensor] | None,
           regulariser_weight: float, integration_steps: int = 7, level: int = 1) -> tf.Tensor:
    """One pair refined by a :class:`Refiner` (``regulariser`` read as a gradient-type penalty)."""
    return Refiner(velocity, iterations, lr, image_loss, regulariser, regulariser_weight, integration_steps,
                   level)(fixed, moving, predicted)


def refiner(app: Any) -> Callable[[Any, Any, dict[str, Any]], Any] | None:
    """``(fixed, moving, network outputs) -> displacement`` for ``app``'s settings, or None (no refinement)."""
    from voxflow.losses import registration as reg  # noqa: PLC0415

    settings = app.cfg.app
    if settings.instance_iterations <= 0:
        return None
    window = max(3, (settings.lncc_window // 2) | 1)  # the window on the coarser grid
    losses: dict[str, Callable] = {"lncc": lambda f, w: reg.lncc_loss(f, w, window), "ssd": reg.ssd_loss,
                                   "gmi": reg.gmi_loss}
    if settings.image_loss not in losses:
        return None
    regulariser = None if settings.regulariser == "none" else reg.REGISTRATION_LOSSES[settings.regulariser][0]
    local = settings.method in ("ddf", "svf")  # affine methods: the whole displacement is refined as a field
    refiner_ = Refiner(settings.method == "svf", settings.instance_iterations, settings.instance_lr,
                       losses[settings.image_loss], regulariser, settings.regulariser_weight,
                       settings.integration_steps, bending=settings.regulariser == "bending")

    def run(fixed: Any, moving: Any, outputs: dict[str, Any]) -> Any:
        return refiner_(fixed, moving, outputs["regularised"] if local else outputs["displacement"])

    return run

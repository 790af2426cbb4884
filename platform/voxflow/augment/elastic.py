"""Random elastic deformation: a dense displacement field from a coarse cubic B-spline control grid."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from voxflow.augment.base import RandomTransform, flat_axes, per_sample
from voxflow.augment.warp import check_interpolations, field_warp, interpolation_support, warp_maps

# ITK's BSplineTransformInitializer widens the image's extent by this many voxels at each end.
DOMAIN_EPSILON = 1.0 / 8.0


def control_spacing(size: int, num_points: int) -> float:
    """Distance in voxels between neighbouring control points: ``(size + 2ε) / (num_points - 3)``."""
    return (size + 2.0 * DOMAIN_EPSILON) / (num_points - 3)


def control_positions(size: int, num_points: int) -> np.ndarray:
    """Voxel coordinates of ``num_points`` control points along an axis of ``size`` voxels (TorchIO's grid).

    TorchIO's ``ElasticDeformation`` calls ``sitk.BSplineTransformInitializer(image, n - 3)``: a mesh
    of ``n - 3`` cells over the image's extent from ``-0.5 - ε`` to ``size - 0.5 + ε`` (voxel edges
    widened by ITK's ``ε = 1/8`` voxel), plus one point beyond each end. Point ``k`` sits at
    ``(size - 1) / 2 + (k - (n - 1) / 2) h`` with ``h = (size + 1/4) / (n - 3)`` voxels.
    """
    step = control_spacing(size, num_points)
    return (size - 1.0) / 2.0 + (np.arange(num_points) - (num_points - 1.0) / 2.0) * step


def bspline_weights(size: int, num_points: int) -> np.ndarray:
    """``(size, num_points)`` cubic B-spline weights of the control points of :func:`control_positions`.

    The plain (unnormalised) uniform cubic B-spline ``β³((x - knot) / h)`` at each voxel centre
    ``x``: as in ITK, every voxel lies inside the spline's domain, where the four non-zero weights sum
    to 1, so a field never exceeds its largest control displacement. An axis of size 1 gets the
    weights of its centre (1/6, 2/3, 1/6 about the middle point for odd ``num_points``).
    """
    knots = control_positions(size, num_points)
    step = control_spacing(size, num_points)
    distance = np.abs(np.arange(size, dtype=np.float64)[:, None] - knots[None, :]) / step
    weight = np.where(distance < 1, 2 / 3 - distance**2 + distance**3 / 2,
                      np.where(distance < 2, (2 - distance) ** 3 / 6, 0.0))
    return weight.astype(np.float32)


def dense_field(coarse: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
    """Interpolate ``(B, nx, ny, nz, 3)`` control displacements to a ``(B, X, Y, Z, 3)`` field.

    The cubic B-spline is separable, so the field is one einsum of the three small per-axis
    :func:`bspline_weights` matrices with the control grid (no per-voxel spline evaluation).
    """
    wx, wy, wz = (tf.constant(bspline_weights(int(size), int(n))) for size, n in zip(shape, coarse.shape[1:4],
                                                                                     strict=True))
    return tf.einsum("xi,yj,zk,bijkc->bxyzc", wx, wy, wz, coarse)


class RandomElasticDeformation(RandomTransform):
    """Deform each window with a smooth random field (TorchIO's ``RandomElasticDeformation``).

    A grid of ``num_control_points`` per axis (one number, or one per axis) spans the (fetched) window,
    placed as TorchIO places it (``sitk.BSplineTransformInitializer(image, n - 3)``): ``n - 3`` equal
    cells cover the window's extent plus ITK's 1/8 voxel at each end, ``N + 1/4`` voxels, with one
    more point beyond each end, so along an axis of ``N`` voxels point ``k`` sits at voxel
    ``(N - 1) / 2 + (k - (n - 1) / 2) h``, ``h = (N + 1/4) / (n - 3)`` (:func:`control_positions`).
    Each control point moves by ``U(-max_displacement, max_displacement)`` mm per axis (or
    ``N(0, displacement_std²)`` clipped at 3 std, NiftyNet's ``deformation_sigma``); the outer
    ``locked_borders`` layers stay still along all three axes (TorchIO locks only the first two). The
    dense field is the plain cubic B-spline interpolation of the control displacements (equal to
    TorchIO's for the same grid; the weights sum to 1 at every voxel, so the field never exceeds the
    largest control displacement), and the window is resampled at ``x + field(x)`` (linear for images,
    nearest or one-hot for labels). Parameters: ``control`` ``(B, nx, ny, nz, 3)`` displacements in
    voxels along the array axes (TorchIO's control points are LPS mm, with the grid's x and y index
    reversed). :meth:`invert` warps with the negated field (approximate, as in TorchIO). In 2-D
    windows nothing moves along the size-1 axis.

    Args:
        num_control_points: control points per axis (>= 4): one number or three.
        max_displacement: bound of the uniform displacement, mm (one value or one per axis).
        displacement_std: if set, Gaussian displacement with this std in mm instead.
        locked_borders: 0, 1 or 2 border layers of control points kept at zero displacement.
        image_interpolation, label_interpolation, num_classes: as in ``RandomAffine``.
        **kwargs: ``p``, ``seed``, ``spacing``.
    """

    spatial = True

    def __init__(self, num_control_points: int | Sequence[int] = 7, max_displacement: Any = 7.5,
                 displacement_std: float | None = None, locked_borders: int = 2,
                 image_interpolation: str = "linear", label_interpolation: str = "nearest",
                 num_classes: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        points = tuple(num_control_points) if isinstance(num_control_points, (tuple, list)) \
            else (num_control_points,) * 3
        if len(points) != 3 or any(int(n) != n or n < 4 for n in points):
            raise ValueError(f"num_control_points must be one integer >= 4 or three, got {num_control_points!r}")
        self.num_control_points = int(points[0]) if len(set(points)) == 1 else tuple(int(n) for n in points)
        self._points = tuple(int(n) for n in points)
        values = tuple(max_displacement) if isinstance(max_displacement, (tuple, list)) else (max_displacement,) * 3
        if len(values) != 3:
            raise ValueError(f"max_displacement must be one number or three, got {max_displacement!r}")
        self.max_displacement = tuple(abs(float(v)) for v in values)
        self.displacement_std = None if displacement_std is None else abs(float(displacement_std))
        self.locked_borders = int(locked_borders)
        if self.locked_borders not in (0, 1, 2) or 2 * self.locked_borders >= min(self._points):
            raise ValueError(f"locked_borders must be 0, 1 or 2 and leave free points, got {locked_borders!r}")
        check_interpolations(image_interpolation, label_interpolation)
        self.image_interpolation = image_interpolation
        self.label_interpolation = label_interpolation
        self.num_classes = num_classes
        self._warned: set[tuple[int, ...]] = set()

    def _bound_mm(self) -> np.ndarray:
        if self.displacement_std is not None:
            return np.full(3, 3.0 * self.displacement_std)
        return np.asarray(self.max_displacement)

    def folding_axes(self, window: Sequence[int]) -> list[int]:
        """Axes along which the largest displacement exceeds half the control spacing (TorchIO's
        warning that the deformation may fold the image over itself)."""
        spacing_mm = [control_spacing(int(n), points) * d for n, points, d in zip(window, self._points, self.spacing,
                                                                                  strict=True)]
        return [a for a in range(3) if window[a] > 1 and self._bound_mm()[a] > spacing_mm[a] / 2.0]

    @tf.autograph.experimental.do_not_convert  # plain Python, run when a compiled step is traced
    def _warn_folding(self, window: tuple[int, ...]) -> None:
        """Warn once per window shape where :meth:`folding_axes` finds any."""
        if window in self._warned:
            return
        self._warned.add(window)
        if axes := self.folding_axes(window):
            warnings.warn(
                f"RandomElasticDeformation: a displacement of up to {self._bound_mm().max():g} mm exceeds half "
                f"the control-point spacing along axes {axes} of a {window} window, so the image may fold "
                "over itself; use fewer control points or a smaller displacement", RuntimeWarning, stacklevel=2)

    def sample_params(self, shape: tf.TensorShape, seeds: tf.Tensor) -> dict[str, tf.Tensor]:
        self._warn_folding(tuple(int(n) for n in shape[1:4]))
        nx, ny, nz = self._points
        if self.displacement_std is not None:
            bound = 3.0 * self.displacement_std
            draw = per_sample(seeds, 1, lambda s: tf.clip_by_value(
                tf.random.stateless_normal([nx, ny, nz, 3], s, stddev=self.displacement_std), -bound, bound))
        else:
            limit = tf.constant(self.max_displacement, tf.float32)
            draw = per_sample(seeds, 1, lambda s: tf.random.stateless_uniform([nx, ny, nz, 3], s, -1.0, 1.0) * limit)
        free = np.zeros((nx, ny, nz, 1), np.float32)
        k = self.locked_borders
        free[k:nx - k, k:ny - k, k:nz - k] = 1.0
        moving = np.array([0.0 if flat else 1.0 for flat in flat_axes(shape)], np.float32)
        scale = tf.constant(moving / np.asarray(self.spacing, np.float32))
        return {"control": draw * tf.constant(free)[None] * scale}

    def field(self, shape: Any, params: dict[str, tf.Tensor]) -> tf.Tensor:
        """The dense ``(B, X, Y, Z, 3)`` displacement (voxels) of ``params``."""
        return dense_field(params["control"], shape)

    def _warp(self, batch: dict[str, tf.Tensor], field: tf.Tensor, apply: tf.Tensor) -> dict[str, tf.Tensor]:
        return warp_maps(batch, lambda volume, order: field_warp(volume, field, order), apply,
                         self.maps, self.label_interpolation, self.num_classes, self.image_interpolation)

    def apply(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        return self._warp(batch, self.field(self.reference(batch).shape[1:4], params), params["apply"])

    def invert(self, batch: dict[str, tf.Tensor], params: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Warp with the negated field: an approximate inverse for small displacements."""
        return self._warp(batch, -self.field(self.reference(batch).shape[1:4], params), params["apply"])

    def margin(self, window: Sequence[int]) -> tuple[int, int, int]:
        reach = self._bound_mm() / np.asarray(self.spacing)
        support = interpolation_support(self.image_interpolation)
        return tuple(int(math.ceil(r)) + support if window[i] > 1 else 0 for i, r in enumerate(reach))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(num_control_points=self.num_control_points, max_displacement=self.max_displacement,
                      displacement_std=self.displacement_std, locked_borders=self.locked_borders,
                      image_interpolation=self.image_interpolation,
                      label_interpolation=self.label_interpolation, num_classes=self.num_classes)
        return config

"""Resampling volumes at new voxel coordinates: voxflow's one differentiable warp, compiled with XLA.

The augmentation layers (random affine, elastic, motion) and the registration networks and losses
all resample through this module, with **one convention**:

- **Pull (backward) warps.** A displacement field ``u`` lives on the grid of the output (the fixed
  image's, in registration): output voxel ``x`` takes the input at ``x + u(x)`` (VoxelMorph's,
  DeepReg's, MONAI's and ITK's direction).
- **Units and axes.** Coordinates and displacements are in **voxels** of that grid, along its
  **array axes** (``ij`` indexing: channel ``a`` of ``u`` moves along array axis ``a``); the
  output grid and the input share voxel coordinates (registration brings the moving image onto
  the fixed grid first, by the images' affines). Fields written to files are converted to world
  millimetres by the application (docs/registration.md).
- **Boundaries.** A point outside the input takes the nearest edge voxel (``replicate``, NiftyNet's
  and MONAI's ``border``), so a small shift at the edge never pulls in zeros.
- **Interpolation.** Order 0 (nearest), 1 (trilinear; differentiable in the volume and in the
  coordinates) or 3 (Keys' cubic convolution).
- **2-D and 3-D.** ``(B, X, Y, C)`` volumes with 2-channel fields are warped as ``(B, X, Y, 1, C)``
  volumes whose third displacement is zero.

XLA fuses the coordinate arithmetic and the eight gathers of trilinear interpolation into one loop:
on a CPU that is several times faster than the same ops in graph mode (a 128³ trilinear affine
warp: 431 ms in graph mode, 58 ms with XLA; docs/augmentation.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf


def _gather(flat: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """Voxels of ``flat`` ``(B, X·Y·Z, C)`` at the flat indices ``index`` ``(B, x, y, z)``."""
    size = tf.shape(index)
    values = tf.gather(flat, tf.reshape(index, [size[0], -1]), batch_dims=1)
    return tf.reshape(values, tf.concat([size, tf.shape(flat)[-1:]], 0))


def _cubic_weights(frac: tf.Tensor) -> list[tf.Tensor]:
    """Keys' cubic convolution weights (``a = -1/2``) of the taps at offsets -1, 0, 1, 2 from the floor.

    Interpolating (a voxel centre gives that voxel), exact for quadratics, no prefilter; they sum to 1.
    """
    def near(s: tf.Tensor) -> tf.Tensor:  # |s| <= 1
        return (1.5 * s - 2.5) * s * s + 1.0

    def far(s: tf.Tensor) -> tf.Tensor:  # 1 < |s| < 2
        return ((-0.5 * s + 2.5) * s - 4.0) * s + 2.0

    return [far(1.0 + frac), near(frac), near(1.0 - frac), far(2.0 - frac)]


def interpolate(volume: tf.Tensor, coords: tf.Tensor | Sequence[tf.Tensor], order: int) -> tf.Tensor:
    """Sample ``volume`` ``(B, X, Y, Z, C)`` at ``coords`` ``(B, x, y, z, 3)``: order 0 (nearest),
    1 (trilinear) or 3 (Keys' cubic convolution over 4×4×4 voxels; neighbours beyond the edge repeat it).

    ``coords`` may also be three ``(B, x, y, z)`` tensors, one per axis. Kept apart, XLA computes
    them inside the one loop that gathers (a stacked ``(…, 3)`` tensor is written out and read back:
    a warp of 192³ took twice as long).
    """
    if not isinstance(coords, (list, tuple)):
        coords = tf.unstack(coords, num=3, axis=-1)
    dims = tf.shape(volume)[1:4]
    strides = [dims[1] * dims[2], dims[2], 1]
    flat = tf.reshape(volume, [tf.shape(volume)[0], -1, tf.shape(volume)[-1]])
    coords = [tf.clip_by_value(c, tf.zeros([], c.dtype), tf.cast(dims[a] - 1, c.dtype)) for a, c in enumerate(coords)]
    if order == 0:
        return _gather(flat, _flat_index([tf.cast(tf.round(c), tf.int32) for c in coords], strides))
    # the coordinates are clamped to >= 0, so truncation is the floor
    i0 = [tf.cast(c, tf.int32) for c in coords]
    frac = [c - tf.cast(i, c.dtype) for c, i in zip(coords, i0, strict=True)]
    if order == 3:
        taps = [[tf.clip_by_value(i + k, 0, dims[a] - 1) * strides[a] for k in (-1, 0, 1, 2)] for a, i in enumerate(i0)]
        weights = [_cubic_weights(f[..., None]) for f in frac]  # (…, 1): see the trilinear weights below
        result = None
        for kx in range(4):
            for ky in range(4):
                plane = weights[0][kx] * weights[1][ky]
                row = taps[0][kx] + taps[1][ky]
                for kz in range(4):
                    term = plane * weights[2][kz] * _gather(flat, row + taps[2][kz])
                    result = term if result is None else result + term
        return result
    # corner (cx, cy, cz) is at base + cx·dx + cy·dy + cz·dz, a step of 0 on the last voxel of an axis
    base = _flat_index(i0, strides)
    steps = [tf.cast(i < dims[a] - 1, tf.int32) * strides[a] for a, i in enumerate(i0)]
    # weights built from (…, 1) fractions: weights built in (B, x, y, z) and then expanded made XLA
    # write the integer coordinates out in three extra passes for the gathering loop to read back
    frac = [f[..., None] for f in frac]
    result = None
    for cx in (0, 1):
        for cy in (0, 1):
            for cz in (0, 1):
                index = base
                weight = 1.0
                for a, c in enumerate((cx, cy, cz)):
                    index = index + steps[a] if c else index
                    weight = weight * (frac[a] if c else 1.0 - frac[a])
                term = weight * _gather(flat, index)
                result = term if result is None else result + term
    return result


def _flat_index(index: Sequence[tf.Tensor], strides: Sequence[tf.Tensor]) -> tf.Tensor:
    return index[0] * strides[0] + index[1] * strides[1] + index[2]


def _ramps(shape: Any) -> list[tf.Tensor]:
    """Voxel indices along each axis, shaped to broadcast over ``(1, X, Y, Z)``."""
    return [tf.reshape(tf.range(shape[a], dtype=tf.float32), [1 if b != a else -1 for b in range(-1, 3)])
            for a in range(3)]


def _affine_coords(matrix: tf.Tensor, ramps: Sequence[tf.Tensor]) -> list[tf.Tensor]:
    """``matrix @ (i, j, k, 1)`` per axis, for voxel indices ``ramps`` shaped to broadcast (``(1, …)``)."""
    m = matrix[(slice(None),) * 3 + (None,) * (ramps[0].shape.rank - 1)]  # (B, 3, 4, 1, …, 1)
    return [m[:, i, 0] * ramps[0] + m[:, i, 1] * ramps[1] + m[:, i, 2] * ramps[2] + m[:, i, 3] for i in range(3)]


@tf.function(jit_compile=True, reduce_retracing=True)
def _affine(volume: tf.Tensor, matrix: tf.Tensor, order: int, subtract: bool = False) -> tf.Tensor:
    warped = interpolate(volume, _affine_coords(matrix, _ramps(tf.shape(volume)[1:4])), order)
    return warped - volume if subtract else warped


#: Edge of the cubes of output voxels a 3-D affine warp computes one after another (see _affine_blocked).
BLOCK = 8
#: Axis orders between ``(B, X/b, b, Y/b, b, Z/b, b, C)`` (rows) and ``(B, X/b, Y/b, Z/b, b, b, b, C)`` (cubes).
_TO_CUBES, _TO_ROWS = [0, 1, 3, 5, 2, 4, 6, 7], [0, 1, 4, 2, 5, 3, 6, 7]


def _to_cubes(volume: tf.Tensor) -> tf.Tensor:
    """``(B, X, Y, Z, C)`` → ``(B, X/b, Y/b, Z/b, b, b, b, C)``."""
    shape = tf.shape(volume)
    blocks = [shape[0]] + [v for a in range(3) for v in (shape[1 + a] // BLOCK, BLOCK)] + [shape[4]]
    return tf.transpose(tf.reshape(volume, blocks), _TO_CUBES)


def _from_cubes(cubes: tf.Tensor, shape: tf.Tensor) -> tf.Tensor:
    """Inverse of :func:`_to_cubes` for windows of ``shape``."""
    return tf.reshape(tf.transpose(cubes, _TO_ROWS), shape)


def _blockable(shape: tf.TensorShape, order: int) -> bool:
    """Whether a warp is computed cube by cube: nearest or trilinear, and the window's three spatial
    sizes known and multiples of :data:`BLOCK`.

    Not the cubic warp: XLA splits it into several loops that each compute the coordinates again,
    and with cube indexing their roundings disagreed near whole voxels (1-5 voxels of 128³ took
    the neighbouring tap, off by up to 2.4); the trilinear and nearest warps are one loop each.
    """
    return order in (0, 1) and all(size is not None and size % BLOCK == 0 for size in shape[1:4])


@tf.function(jit_compile=True, reduce_retracing=True)
def _affine_blocked(volume: tf.Tensor, matrix: tf.Tensor, order: int, subtract: bool = False) -> tf.Tensor:
    """:func:`_affine` computed cube by cube: ``(B, X/b, Y/b, Z/b, b, b, b, C)`` for ``b = BLOCK``.

    In row order, a row of a rotated window's output reads input rows spread over many planes, and
    the gathers miss the caches: a trilinear warp of 192³ took 24–45 ms depending on the angles
    (38–42 ms on average over angles drawn as RandomMotion draws them). The input under one 8³ cube
    of output stays in the caches: 30–33 ms on average, with 24–30 ms by angle, including about 5 ms to put
    the cubes back in row order (a transpose outside XLA: inside the same fusion, XLA visits the
    output in row order again). The coordinates match :func:`_affine`'s up to float rounding
    (about 1e-5 voxel).
    """
    ramps = []
    for a in range(3):  # voxel index i = BLOCK·block + offset, in integers (exact), shaped (1, nx, ny, nz, b, b, b)
        outer, inner = [1] * 7, [1] * 7
        outer[1 + a], inner[4 + a] = -1, -1
        index = tf.reshape(tf.range(tf.shape(volume)[1 + a] // BLOCK) * BLOCK, outer) + tf.reshape(tf.range(BLOCK), inner)
        ramps.append(tf.cast(index, tf.float32))
    warped = interpolate(volume, _affine_coords(matrix, ramps), order)
    return warped - _to_cubes(volume) if subtract else warped  # the window read cube by cube in the same loop


@tf.function(jit_compile=True, reduce_retracing=True)
def _field(volume: tf.Tensor, displacement: tf.Tensor, order: int) -> tf.Tensor:
    ramps = _ramps(tf.shape(displacement)[1:4])
    return interpolate(volume, [ramps[a] + displacement[..., a] for a in range(3)], order)


def affine_warp(volume: tf.Tensor, matrix: tf.Tensor, order: int = 1, subtract: bool = False) -> tf.Tensor:
    """Sample each window at ``matrix @ (i, j, k, 1)``; ``matrix`` is ``(B, 3, 4)`` in voxels.

    With ``subtract``, return the warped window minus the window (in the same pass).
    """
    volume = tf.cast(volume, tf.float32)
    matrix = tf.cast(matrix, tf.float32)
    if _blockable(volume.shape, order):
        warped = _from_cubes(_affine_blocked(volume, matrix, order, subtract), tf.shape(volume))
    else:
        warped = _affine(volume, matrix, order, subtract)
    # the compiled function's output shape may be relaxed (reduce_retracing): restore it
    return tf.ensure_shape(warped, volume.shape)


def field_warp(volume: tf.Tensor, displacement: tf.Tensor, order: int = 1) -> tf.Tensor:
    """Sample each window at ``(i, j, k) + displacement`` (``(B, X, Y, Z, 3)`` voxels)."""
    volume = tf.cast(volume, tf.float32)
    return tf.ensure_shape(_field(volume, tf.cast(displacement, tf.float32), order), volume.shape)


def warp(volume: tf.Tensor, displacement: tf.Tensor, order: int = 1) -> tf.Tensor:
    """Pull-warp ``volume`` by ``displacement``, in 2-D or 3-D (the module's convention).

    Args:
        volume: ``(B, X, Y[, Z], C)``.
        displacement: ``(B, X', Y'[, Z'], D)`` voxels along the array axes, ``D`` = 2 or 3 spatial
            axes; output voxel ``x`` of the ``(X', Y'[, Z'])`` grid takes ``volume`` at ``x + u(x)``
            (the two grids share voxel coordinates; usually they are one grid).
        order: 0 (nearest), 1 (linear, differentiable) or 3 (cubic).

    Returns:
        ``(B, X', Y'[, Z'], C)`` float32.
    """
    volume = tf.cast(volume, tf.float32)
    displacement = tf.cast(displacement, tf.float32)
    dims = displacement.shape[-1]
    if volume.shape.rank != dims + 2:
        raise ValueError(f"a {dims}-channel displacement warps {dims}-D volumes (B, spatial, C); "
                         f"got a volume of rank {volume.shape.rank}")
    if dims == 3:
        out = _field(volume, displacement, order)
        return tf.ensure_shape(out, [volume.shape[0], *displacement.shape[1:4], volume.shape[-1]])
    if dims != 2:
        raise ValueError(f"displacements have 2 or 3 channels, got {dims}")
    flat = tf.concat([displacement, tf.zeros_like(displacement[..., :1])], -1)[:, :, :, None]
    out = _field(volume[:, :, :, None], flat, order)[:, :, :, 0]
    return tf.ensure_shape(out, [volume.shape[0], *displacement.shape[1:3], volume.shape[-1]])


def identity_grid(shape: Sequence[Any]) -> tf.Tensor:
    """``(*shape, D)`` voxel coordinates of a grid (``ij`` indexing), float32; sizes may be tensors."""
    axes = [tf.range(n, dtype=tf.float32) for n in shape]
    return tf.stack(tf.meshgrid(*axes, indexing="ij"), axis=-1)


def affine_displacement(matrix: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
    """The displacement ``A x + t - x`` of affine maps on a grid of ``shape``.

    Args:
        matrix: ``(B, D, D + 1)`` voxel-to-voxel maps (the output voxel ``x`` → the input point
            ``A x + t``).
        shape: the grid's ``D`` spatial sizes.

    Returns:
        ``(B, *shape, D)`` float32 voxels.
    """
    grid = identity_grid(shape)
    matrix = tf.cast(matrix, tf.float32)
    moved = tf.einsum("...j,bij->b...i", grid, matrix[..., :-1]) + tf.reshape(
        matrix[..., -1], [-1, *([1] * len(shape)), len(shape)])
    return moved - grid[None]


def compose(outer: tf.Tensor, inner: tf.Tensor) -> tf.Tensor:
    """The displacement of ``x → y + outer(y)`` with ``y = x + inner(x)``: first ``inner``, then ``outer``.

    In pull terms: warping by the result equals warping by ``outer`` and then by ``inner``
    (``warp(warp(m, outer), inner)``), with one interpolation instead of two.
    """
    return inner + warp(outer, inner, 1)


def integrate_velocity(velocity: tf.Tensor, steps: int = 7) -> tf.Tensor:
    """The displacement of the flow of a stationary velocity field at time 1, by scaling and squaring.

    ``u = v / 2**steps``, then ``steps`` times ``u ← u + u∘(x + u)`` (Arsigny 2006; VoxelMorph's
    ``VecInt``, DeepReg's ``IntDVF`` and MONAI's ``DVF2DDF`` with 7 steps). The result is a
    diffeomorphism when ``v / 2**steps`` is small enough that ``x + u`` is one (a Jacobian
    determinant above 0 everywhere); its inverse is the integral of ``-v``.

    Args:
        velocity: ``(B, *spatial, D)`` voxels.
        steps: the squarings (0: the velocity itself is returned).
    """
    field = tf.cast(velocity, tf.float32) / float(2**steps)
    for _ in range(int(steps)):
        field = compose(field, field)
    return field


def rescale_field(displacement: tf.Tensor, size: Sequence[int]) -> tf.Tensor:
    """A field resized linearly to a grid of ``size`` voxels, its vectors rescaled to the new voxels.

    Both grids span the same extent with voxel centres at half-voxel offsets (``tf.image.resize``'s
    convention), so a displacement of ``d`` old voxels along axis ``a`` is ``d·size[a]/old[a]`` new ones.
    """
    from voxflow.layers.linear_resize import linear_resize  # noqa: PLC0415

    displacement = tf.cast(displacement, tf.float32)
    old = tf.cast(tf.shape(displacement)[1:-1], tf.float32)
    scale = tf.cast(tf.stack(list(size)), tf.float32) / old
    return linear_resize(displacement, list(size)) * scale

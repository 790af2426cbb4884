"""Resampling a batch of windows at new voxel coordinates (trilinear or nearest), compiled with XLA.

Coordinates are voxel indices ``(i, j, k)`` of the input window; points outside are clamped to the
nearest edge voxel (the application fetches a window large enough that this rarely matters).
XLA fuses the coordinate arithmetic and the eight gathers of trilinear interpolation into one loop:
on a CPU that is several times faster than the same ops in graph mode (see TENSORFLOW_NOTES.md).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from voxflow.augment.base import MAP_KEYS


def _gather(flat: tf.Tensor, ix: tf.Tensor, iy: tf.Tensor, iz: tf.Tensor, dims: tf.Tensor) -> tf.Tensor:
    index = (ix * dims[1] + iy) * dims[2] + iz
    size = tf.shape(index)
    values = tf.gather(flat, tf.reshape(index, [size[0], -1]), batch_dims=1)
    return tf.reshape(values, tf.concat([size, tf.shape(flat)[-1:]], 0))


def interpolate(volume: tf.Tensor, coords: tf.Tensor, order: int) -> tf.Tensor:
    """Sample ``volume`` ``(B, X, Y, Z, C)`` at ``coords`` ``(B, x, y, z, 3)``; order 0 or 1."""
    dims = tf.shape(volume)[1:4]
    flat = tf.reshape(volume, [tf.shape(volume)[0], -1, tf.shape(volume)[-1]])
    upper = tf.cast(dims - 1, coords.dtype)
    coords = tf.clip_by_value(coords, tf.zeros_like(upper), upper)
    if order == 0:
        index = tf.cast(tf.round(coords), tf.int32)
        return _gather(flat, index[..., 0], index[..., 1], index[..., 2], dims)
    low = tf.floor(coords)
    frac = coords - low
    i0 = tf.cast(low, tf.int32)
    i1 = tf.minimum(i0 + 1, dims - 1)
    result = None
    for cx in (0, 1):
        for cy in (0, 1):
            for cz in (0, 1):
                picks = [(i1 if c else i0)[..., a] for a, c in enumerate((cx, cy, cz))]
                weight = 1.0
                for a, c in enumerate((cx, cy, cz)):
                    weight = weight * (frac[..., a] if c else 1.0 - frac[..., a])
                term = weight[..., None] * _gather(flat, *picks, dims)
                result = term if result is None else result + term
    return result


def identity_grid(shape: Any) -> tf.Tensor:
    """Voxel coordinates ``(1, X, Y, Z, 3)`` of a window of spatial ``shape``."""
    axes = [tf.range(n, dtype=tf.float32) for n in (shape[0], shape[1], shape[2])]
    return tf.stack(tf.meshgrid(*axes, indexing="ij"), axis=-1)[None]


@tf.function(jit_compile=True, reduce_retracing=True)
def _affine(volume: tf.Tensor, matrix: tf.Tensor, order: int) -> tf.Tensor:
    grid = identity_grid(tf.shape(volume)[1:4])
    coords = tf.einsum("bij,bxyzj->bxyzi", matrix[:, :, :3], tf.broadcast_to(
        grid, tf.concat([tf.shape(volume)[:1], tf.shape(grid)[1:]], 0))) + matrix[:, None, None, None, :, 3]
    return interpolate(volume, coords, order)


@tf.function(jit_compile=True, reduce_retracing=True)
def _field(volume: tf.Tensor, displacement: tf.Tensor, order: int) -> tf.Tensor:
    coords = identity_grid(tf.shape(volume)[1:4]) + displacement
    return interpolate(volume, coords, order)


def affine_warp(volume: tf.Tensor, matrix: tf.Tensor, order: int = 1) -> tf.Tensor:
    """Sample each window at ``matrix @ (i, j, k, 1)``; ``matrix`` is ``(B, 3, 4)`` in voxels."""
    return _affine(tf.cast(volume, tf.float32), tf.cast(matrix, tf.float32), order)


def field_warp(volume: tf.Tensor, displacement: tf.Tensor, order: int = 1) -> tf.Tensor:
    """Sample each window at ``(i, j, k) + displacement`` (``(B, X, Y, Z, 3)`` voxels)."""
    return _field(tf.cast(volume, tf.float32), tf.cast(displacement, tf.float32), order)


def warp_maps(batch: dict[str, tf.Tensor], warp: Any, apply: tf.Tensor, label_interpolation: str = "nearest",
              num_classes: int | None = None) -> dict[str, tf.Tensor]:
    """Warp every spatial map of ``batch`` with ``warp(volume, order)``; keep samples not applied.

    Images, weight and sampler maps are interpolated linearly; labels by nearest neighbour, or, with
    ``label_interpolation="linear"``, as one-hot channels resampled linearly then argmax.
    """
    out = dict(batch)
    mask = tf.reshape(apply, [-1, 1, 1, 1, 1])
    for key in MAP_KEYS:
        if key not in batch:
            continue
        volume = tf.cast(batch[key], tf.float32)
        if key == "label" and label_interpolation == "linear":
            if not num_classes:
                raise ValueError("label_interpolation = linear needs num_classes")
            onehot = tf.one_hot(tf.cast(tf.round(volume[..., 0]), tf.int32), int(num_classes))
            warped = tf.cast(tf.argmax(warp(onehot, 1), axis=-1), tf.float32)[..., None]
        else:
            warped = warp(volume, 0 if key == "label" else 1)
        out[key] = tf.where(mask, warped, volume)
    return out

"""Small synthetic batches for the augmentation tests."""

import numpy as np


def sphere_batch(size=24, batch=2, seed=0):
    """A smooth image and a 3-class sphere label, (B, size, size, size, 1)."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(size)] * 3, indexing="ij"), -1).astype(np.float32)
    radius = np.sqrt(((grid - (size - 1) / 2) ** 2).sum(-1))
    label = np.where(radius < size / 3, 1, 0) + np.where(radius < size / 6, 1, 0)
    image = 50.0 + 40.0 * label + rng.normal(0, 2, label.shape)
    labels = np.repeat(label[None, ..., None], batch, 0).astype(np.float32)
    images = np.repeat(image[None, ..., None], batch, 0).astype(np.float32)
    seeds = np.stack([np.full(batch, 7), np.arange(batch)], 1).astype(np.int64)
    return {"image": images, "label": labels, "weight": np.ones_like(labels), "seed": seeds}

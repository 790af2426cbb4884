"""What the two generative applications (``net_autoencoder``, ``net_gan``) share.

- **The intensity range.** A VAE's means decoder ends in a sigmoid and a GAN's generator in ``tanh``,
  so their images must lie in [0, 1] and [−1, 1]. Training learns the range of the training images
  after the configured preprocessing (their minimum and maximum, or percentiles: ``[…] intensity_range``),
  saves it in ``model_dir`` (:data:`RANGE_FILE`), and maps every image into the network's range by it,
  clipping what falls outside; every image written is mapped back, so reconstructions, samples and
  simulations are in the input's units. One range for all images (not one per image) keeps the
  relative brightness of images, which a generator must learn.
- **Windows of whole images.** Both read each image whole, resized to the window (``resize``
  sampling, NiftyNet's), so a written image has the geometry of its subject's extent at the window's
  size (:func:`~voxflow.data.writers.window_affine`); generated images with no subject take that of
  the first training image (saved with the checkpoint).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from voxflow.atomic import atomic_write_json
from voxflow.errors import CheckpointError, DataError

log = logging.getLogger(__name__)

RANGE_FILE = "intensity_range.json"


def training_arrays(data: Any, role: str) -> list[np.ndarray]:
    """``role``'s arrays of every training subject of a prepared :class:`~voxflow.data.window_data.WindowData`."""
    if data.train_volumes:
        return [np.asarray(v.arrays[role]) for v in data.train_volumes]
    return [np.asarray(data.volume_cache.get(i)[role]) for i in data.train_ids]


def learn_range(arrays: list[np.ndarray], percentiles: tuple[float, float], model_dir: str, what: str) -> tuple[float, float]:
    """``(low, high)`` of the training images (the given percentiles of all their voxels), saved in
    ``model_dir/`` :data:`RANGE_FILE`.

    Raises:
        DataError: images with a single value (no range to learn).
    """
    values = np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])
    low, high = (float(v) for v in np.percentile(values, percentiles))
    if not high > low:
        raise DataError(f"The training images of {what} hold one value ({low:g}): there is no intensity range to learn.")
    os.makedirs(model_dir, exist_ok=True)
    atomic_write_json(os.path.join(model_dir, RANGE_FILE), {"low": low, "high": high, "percentiles": list(percentiles)})
    log.info("intensity range of the training images: %g .. %g (percentiles %g, %g)", low, high, *percentiles)
    return low, high


def load_range(model_dir: str) -> tuple[float, float]:
    """The range training saved.

    Raises:
        CheckpointError: it is missing or unreadable.
    """
    path = os.path.join(model_dir, RANGE_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
        return float(saved["low"]), float(saved["high"])
    except FileNotFoundError:
        raise CheckpointError(f"The intensity range of the trained model is missing: {path} (written by training). "
                              "Train first, or point model_dir at a trained model.") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"Cannot read the intensity range {path}: {err}.") from None


def to_unit(images: Any, value_range: tuple[float, float], low: float = 0.0) -> Any:
    """Images mapped from ``value_range`` to ``[low, 1]`` and clipped (a tensor or an array)."""
    import tensorflow as tf  # noqa: PLC0415

    lo, hi = value_range
    unit = tf.clip_by_value((tf.cast(images, tf.float32) - lo) / (hi - lo), 0.0, 1.0)
    return unit if low == 0.0 else low + (1.0 - low) * unit


def from_unit(images: np.ndarray, value_range: tuple[float, float], low: float = 0.0) -> np.ndarray:
    """The inverse of :func:`to_unit` (without the clipping), float32."""
    lo, hi = value_range
    unit = (np.asarray(images, np.float64) - low) / (1.0 - low)
    return (unit * (hi - lo) + lo).astype(np.float32)


def first_window_affine(data: Any, window: tuple[int, ...]) -> list[list[float]] | None:
    """The affine of the first training subject's extent resized to ``window`` (for generated images;
    ``None`` when the volumes are streamed: 1 mm voxels)."""
    from voxflow.data.writers import window_affine  # noqa: PLC0415

    if not data.train_volumes:
        return None
    return np.asarray(window_affine(data.train_volumes[0].geometry, window), np.float64).tolist()


def seeded_rng(cfg: Any, stream: int) -> np.random.Generator:
    """A NumPy generator of inference draws: ``[SYSTEM] seed`` (and the stream) make them repeatable."""
    seed = cfg.system.seed
    return np.random.default_rng(None if seed is None else [int(seed), int(stream)])


def write_strip(path: str, images: list[np.ndarray], gif: bool = True) -> list[str]:
    """A strip PNG of the middle slices of ``images`` (and an animated GIF of them), if matplotlib is
    installed (the ``plot`` extra); the paths written (none without matplotlib)."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
        from matplotlib import animation  # noqa: PLC0415
    except ImportError:
        log.info("matplotlib is not installed (the plot extra): no strip or GIF of %s", path)
        return []
    from voxflow.atomic import atomic_path  # noqa: PLC0415

    slices = [_middle(image) for image in images]
    low, high = min(float(s.min()) for s in slices), max(float(s.max()) for s in slices)
    written = []
    figure, axes = plt.subplots(1, len(slices), figsize=(1.6 * len(slices), 1.8), squeeze=False)
    for axis, picture in zip(axes[0], slices):
        axis.imshow(np.rot90(picture), cmap="gray", vmin=low, vmax=high)
        axis.axis("off")
    with atomic_path(path + ".png", suffix=".png") as tmp:
        figure.savefig(tmp, dpi=80, bbox_inches="tight")
    plt.close(figure)
    written.append(path + ".png")
    if gif:
        figure = plt.figure(figsize=(2.5, 2.5))
        shown = plt.imshow(np.rot90(slices[0]), cmap="gray", vmin=low, vmax=high)
        plt.axis("off")
        movie = animation.FuncAnimation(figure, lambda k: shown.set_data(np.rot90(slices[k])), frames=len(slices))
        try:
            with atomic_path(path + ".gif", suffix=".gif") as tmp:
                movie.save(tmp, writer=animation.PillowWriter(fps=4))
            written.append(path + ".gif")
        except (RuntimeError, ValueError, OSError) as err:  # Pillow missing or unable: the PNG is enough
            log.info("no GIF of %s: %s", path, err)
        plt.close(figure)
    return written


def _middle(image: np.ndarray) -> np.ndarray:
    """The middle axial slice of ``(X, Y, Z[, C])`` (the first channel)."""
    array = np.asarray(image, np.float32)
    if array.ndim == 4:
        array = array[..., 0]
    return array[:, :, array.shape[2] // 2]


def report(base: Any, action: str, result: dict) -> str:
    """The closing lines of both applications: the evaluation's statistics, else ``base``'s."""
    if action == "evaluation":
        return (f"evaluation of {result['subjects']} image(s) written to {result['csv']} "
                f"(statistics in {result['statistics_csv']}); over images:\n{result['statistics']}")
    return base.report(action, result)


def check_pair_ids(pairs: list[tuple[str, str]], known: list[str], where: str) -> None:
    """Every id of ``pairs`` is one of ``known``.

    Raises:
        DataError: naming the unknown id.
    """
    for pair in pairs:
        for subject in pair:
            if subject not in known:
                raise DataError(f"{where} names subject '{subject}', which has no code; the codes found are of: "
                                f"{', '.join(sorted(known)) or 'none'}.")

"""Test-time augmentation by mirroring (``[INFERENCE] tta_mirror_axes``), nnU-Net's default.

Each batch of windows is predicted once per combination of the mirror axes (the empty one
included: 2³ = 8 passes for three axes), each prediction is mirrored back with the same
parameters through :class:`~voxflow.augment.flip.RandomFlip`'s recorded inverse, and the
predictions are averaged. Axes of size 1 (2-D windows) are never mirrored, so ``0, 1, 2`` on 2-D
data gives 4 passes. The average is taken after the activation (class probabilities, not
logits), as nnU-Net and MONAI do.

Mirroring needs a network whose output window sits centred in its input window (true of every
SAME-padded network; VALID-padded ones crop an even margin): :func:`check_centred` says so
before any prediction.

Example:
    >>> tta = MirrorTTA((0, 1, 2))                                # doctest: +SKIP
    >>> averaged = tta(lambda x: tf.nn.softmax(net(x)), windows)  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import tensorflow as tf

from voxflow.augment.flip import RandomFlip


def mirror_combinations(axes: Sequence[int], window: Sequence[int]) -> list[tuple[bool, bool, bool]]:
    """Every subset of ``axes`` (those of size > 1 in ``window``) as a per-axis flag triple, the
    identity first."""
    usable = sorted({int(a) for a in axes if int(window[int(a)]) > 1})
    combos = []
    for count in range(len(usable) + 1):
        for subset in itertools.combinations(usable, count):
            combos.append(tuple(axis in subset for axis in range(3)))
    return combos


def check_centred(window: Sequence[int], output_window: Sequence[int]) -> None:
    """Raise ValueError when an output window is not centred in the input window (odd crop)."""
    odd = [axis for axis, (w, o) in enumerate(zip(window, output_window)) if (int(w) - int(o)) % 2]
    if odd:
        raise ValueError(f"the network's output window {'×'.join(map(str, output_window))} is not centred in its "
                         f"input window {'×'.join(map(str, window))} (odd crop along axes {odd}), so a mirrored "
                         "prediction would be shifted by one voxel")


class MirrorTTA:
    """Averages a window predictor over mirrored copies of its input (see the module docstring).

    Args:
        axes: spatial axes (0, 1, 2) that are mirrored.
    """

    def __init__(self, axes: Sequence[int]) -> None:
        self.axes = tuple(int(a) for a in axes)
        if any(a not in (0, 1, 2) for a in self.axes):
            raise ValueError(f"mirror axes must be among 0, 1, 2, got {self.axes!r}")
        self._flip = RandomFlip(axes=(0, 1, 2), maps={"image": "intensity"})

    def passes(self, window: Sequence[int]) -> int:
        """How many predictions one batch of ``window``-sized windows costs."""
        return len(mirror_combinations(self.axes, window))

    def __call__(self, predict: Callable[[tf.Tensor], tf.Tensor], windows: tf.Tensor) -> tf.Tensor:
        """The mean of ``predict`` over the mirrored copies of ``windows`` ``(B, X, Y, Z, C)``; the
        prediction is ``(B, X', Y', Z', K)``, mirrored back before averaging."""
        combos = mirror_combinations(self.axes, windows.shape[1:4])
        total = None
        batch = tf.shape(windows)[0]
        for combo in combos:
            if not any(combo):
                out = predict(windows)
            else:
                params = {"flips": tf.tile(tf.constant([combo]), [batch, 1]), "apply": tf.ones([batch], tf.bool)}
                mirrored = self._flip.apply({"image": windows}, params)["image"]
                out = self._flip.invert({"image": predict(mirrored)}, params)["image"]
            total = out if total is None else total + out
        return total / float(len(combos))

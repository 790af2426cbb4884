"""Benchmark: registering one 3-D brain pair at 2 mm, voxflow's network against SimpleITK's demons.

The pair is a smooth synthetic brain-sized volume (``--shape``, default 91×109×91, the MNI brain at
2 mm) and the same volume pulled by a smooth random displacement. voxflow's case is what
``net_reg inference`` does per pair once the model is loaded: the network's forward pass under
``tf.function`` (the demo's layout: ``registration_net`` with ``method = svf``, ``field_level = 1``,
the input padded to a multiple of 16), the field turned into world millimetres, and the moving
image resampled once on the fixed grid (:mod:`voxflow.data.registration_outputs`). The weights are
untrained: the time does not depend on them. The peer is SimpleITK's
``DiffeomorphicDemonsRegistrationFilter`` (``--demons-iterations``, σ 1.5 voxels) on the same pair,
plus one resampling of the moving image: the classical answer of the registration demo.

Cases: ``register_pair_<shape>`` (``s``, best of ``--repeats``; the network traced once first), and
``register_pair_refined_<shape>``: the same plus ``--instance-iterations`` steps of instance
optimisation (LNCC window 9 + the gradient regulariser, the demo's test settings).

Run: ``.venv/bin/python scripts/benchmarks/registration.py [--shape 91,109,91] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from scipy import ndimage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

SPACING = 2.0


def make_pair(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fixed, moving, affine)``: smoothed noise inside an ellipsoid, and its warp by a smooth field."""
    rng = np.random.default_rng(0)
    grid = np.indices(shape, dtype=np.float64)
    centre = (np.array(shape) - 1) / 2
    inside = sum(((grid[a] - centre[a]) / (0.42 * shape[a])) ** 2 for a in range(3)) < 1
    fixed = (ndimage.gaussian_filter(rng.normal(size=shape), 2) * inside).astype(np.float32)
    field = np.stack([ndimage.gaussian_filter(rng.normal(size=shape), 8) for _ in range(3)], 0)
    field *= 2.0 / np.abs(field).max()
    moving = ndimage.map_coordinates(fixed, grid + field, order=1, mode="nearest").astype(np.float32)
    affine = np.diag([SPACING, SPACING, SPACING, 1.0])
    affine[:3, 3] = -centre * SPACING
    return fixed, moving, affine


def run_voxflow(fixed: np.ndarray, moving: np.ndarray, affine: np.ndarray, repeats: int,
                instance_iterations: int = 0) -> float:
    import tensorflow as tf  # noqa: PLC0415

    from voxflow.applications.registration_instance import Refiner  # noqa: PLC0415
    from voxflow.data.pair_data import round_up  # noqa: PLC0415
    from voxflow.data.registration_outputs import field_on_file_grid, warp_file_data  # noqa: PLC0415
    from voxflow.losses.registration import gradient_loss, lncc_loss  # noqa: PLC0415
    from voxflow.networks.registration import RegistrationNet  # noqa: PLC0415

    net = RegistrationNet(spatial_dims=3, method="svf", field_level=1, decoder=(32, 32, 32))
    predict = tf.function(lambda pair: net(pair, training=False), reduce_retracing=True)
    refine = Refiner(True, instance_iterations, 0.05, lambda f, w: lncc_loss(f, w, 9), gradient_loss, 1.0)
    shape = fixed.shape

    def register() -> np.ndarray:
        pair = np.stack([moving, fixed], -1)
        padded = [round_up(n, net.window_divisor) for n in shape]
        pair = np.pad(pair, [(0, p - n) for p, n in zip(padded, shape, strict=True)] + [(0, 0)], mode="edge")
        outputs = predict(pair[None])
        field = outputs["displacement"] if not instance_iterations else refine(
            pair[None, ..., 1:], pair[None, ..., :1], outputs["regularised"])
        field = np.asarray(field)[0][: shape[0], : shape[1], : shape[2]]
        world = field_on_file_grid(field, affine, shape, affine)
        return warp_file_data(moving[..., None], affine, world, shape, affine, 1)

    register()  # trace
    return _common.best_time(register, repeats)


def run_demons(fixed: np.ndarray, moving: np.ndarray, iterations: int, repeats: int) -> float:
    import SimpleITK as sitk  # noqa: PLC0415

    def image(array: np.ndarray) -> sitk.Image:
        out = sitk.GetImageFromArray(np.transpose(array, (2, 1, 0)))
        out.SetSpacing((SPACING,) * 3)
        return out

    fixed_image, moving_image = image(fixed), image(moving)

    def register() -> sitk.Image:
        method = sitk.DiffeomorphicDemonsRegistrationFilter()
        method.SetNumberOfIterations(iterations)
        method.SetStandardDeviations(1.5)
        field = method.Execute(fixed_image, moving_image)
        transform = sitk.DisplacementFieldTransform(sitk.Cast(field, sitk.sitkVectorFloat64))
        return sitk.Resample(moving_image, fixed_image, transform, sitk.sitkLinear, 0.0)

    return _common.best_time(register, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="91,109,91")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--demons-iterations", type=int, default=100)
    parser.add_argument("--instance-iterations", type=int, default=20)
    args = parser.parse_args(argv)
    shape = tuple(int(n) for n in args.shape.split(","))
    fixed, moving, affine = make_pair(shape)
    start = time.perf_counter()
    ours = run_voxflow(fixed, moving, affine, args.repeats)
    device = _common.tf_device_name()
    version = _common.version("SimpleITK")  # a dependency of voxflow, not of the bench extra
    theirs = run_demons(fixed, moving, args.demons_iterations, args.repeats) if version else None
    refined = run_voxflow(fixed, moving, affine, args.repeats, args.instance_iterations)
    peer = f"SimpleITK {version} demons" if version else None
    for case, seconds in (("register_pair", ours), ("register_pair_refined", refined)):
        _common.emit(f"{case}_{'x'.join(map(str, shape))}", "s", seconds, peer, theirs, device, shape=list(shape),
                     demons_iterations=args.demons_iterations,
                     instance_iterations=args.instance_iterations if case.endswith("refined") else 0,
                     benchmark_seconds=round(time.perf_counter() - start, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

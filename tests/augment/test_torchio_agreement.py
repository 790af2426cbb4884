"""voxflow's augmentation layers against TorchIO's own deterministic transforms with the same parameters.

Skipped where torchio is not installed (CI). Each test hand-sets voxflow's parameters, runs the
deterministic TorchIO class (``tio.BiasField``, ``tio.Affine``, ...) with the equivalent ones on a
``tio.ScalarImage`` and compares voxel by voxel, and checks that the transform really changed the
image. Conventions (read from TorchIO 1.2.1's source):

- images are ``(X, Y, Z)`` arrays with an identity (or diagonal) RAS affine, so voxel axis ``i``
  is TorchIO's spatial axis ``i`` and 1 mm is one voxel unless a spacing is given;
- SimpleITK works in LPS: TorchIO's arguments that SimpleITK reads directly (``ElasticDeformation``'s
  control points) have their x and y components negated relative to voxel axes 0 and 1;
- where a warp samples outside the image, TorchIO fills with the image minimum (ITK takes the edge
  voxel within half a voxel of the edge) and voxflow repeats the edge voxel: the images here are
  non-negative with a zero border wide enough that both give 0.

Where voxflow departs from TorchIO on purpose (docs/augmentation.md says how), the inputs are
chosen so that the difference vanishes, or the test checks the departure itself.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from voxflow.augment.affine import RandomAffine
from voxflow.augment.anisotropy import RandomAnisotropy
from voxflow.augment.blur import RandomBlur
from voxflow.augment.elastic import RandomElasticDeformation
from voxflow.augment.flip import RandomFlip
from voxflow.augment.intensity import RandomBiasField, RandomGamma
from voxflow.augment.kspace import RandomGhosting, RandomSpike
from voxflow.augment.swap import RandomSwap

tio = pytest.importorskip("torchio")
torch = pytest.importorskip("torch")

SHAPE = (24, 22, 20)
LPS = np.array([-1.0, -1.0, 1.0])  # RAS <-> LPS


def _volume(seed: int = 0, border: int = 0, shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """Random values in [0.2, 1.2) inside a zero border of ``border`` voxels (float32)."""
    image = np.zeros(shape, np.float32)
    inner = tuple(slice(border, n - border) for n in shape)
    image[inner] = 0.2 + np.random.default_rng(seed).random(tuple(n - 2 * border for n in shape))
    return image


def _torchio(transform, image: np.ndarray, affine: np.ndarray | None = None) -> np.ndarray:
    """``transform`` applied to a one-channel ``tio.ScalarImage`` of ``image``; the ``(X, Y, Z)`` result."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)[None])
    subject = tio.Subject(t1=tio.ScalarImage(tensor=tensor, affine=np.eye(4) if affine is None else affine))
    return transform(subject).t1.data[0].numpy()


def _batch(image: np.ndarray) -> tf.Tensor:
    return tf.constant(image[None, ..., None])


def _intensity(layer, image: np.ndarray, params: dict) -> np.ndarray:
    return np.asarray(layer.apply_image(_batch(image), params))[0, ..., 0]


def _spatial(layer, image: np.ndarray, params: dict) -> np.ndarray:
    params = dict(params, apply=tf.constant([True]))
    return np.asarray(layer.apply({"image": _batch(image)}, params)["image"])[0, ..., 0]


def _assert_agrees(out: np.ndarray, expected: np.ndarray, image: np.ndarray, tolerance: float,
                   changed: float = 0.05) -> None:
    """``out`` within ``tolerance`` (relative to the largest value) of TorchIO's ``expected``, which
    differs from ``image`` by more than ``changed`` somewhere (the comparison is not trivial)."""
    assert np.abs(expected - image).max() > changed, "TorchIO's transform left the image unchanged"
    scale = max(1.0, float(np.abs(expected).max()))
    error = float(np.abs(out - expected).max())
    assert error <= tolerance * scale, f"max |voxflow - TorchIO| = {error:.3g}"


# ---------------------------------------------------------------------------------------- intensity


@pytest.mark.parametrize("shape", [SHAPE, (23, 21, 19)], ids=["even", "odd"])
def test_bias_field_matches_torchio(shape):
    """``tio.BiasField(coefficients, order)``: TorchIO lists the coefficients with the x power outermost
    and the z power innermost over ``i + j + k <= order``; voxflow holds them in an
    ``(o+1, o+1, o+1)`` array. Both put the coordinates on [-1, 1] over voxel centres (TorchIO's
    ``generate_bias_field``: half-voxel offsets divided by their maximum, the meshgrid transposed
    back to ``(X, Y, Z)``), so non-cubic and odd sizes agree too."""
    order = 3
    rng = np.random.default_rng(1)
    coefficients = np.zeros((order + 1,) * 3, np.float32)
    listed = []
    for i in range(order + 1):
        for j in range(order + 1 - i):
            for k in range(order + 1 - i - j):
                coefficients[i, j, k] = rng.uniform(-0.5, 0.5)
                listed.append(float(coefficients[i, j, k]))
    image = _volume(0, shape=shape)
    expected = _torchio(tio.BiasField(coefficients=listed, order=order), image)
    out = _intensity(RandomBiasField(order=order), image, {"coefficients": tf.constant(coefficients[None])})
    _assert_agrees(out, expected, image, 1e-6)


@pytest.mark.parametrize("gamma", [0.7, 1.6])
@pytest.mark.parametrize("offset", [0.0, -0.7], ids=["positive", "signed"])
def test_gamma_matches_torchio(gamma, offset):
    """``tio.Gamma(gamma)``: ``x**γ``, or ``sign(x)|x|**γ`` when the image has negative values (TorchIO's
    ``power``); voxflow always takes the signed power, which is the same thing."""
    image = _volume(2) + np.float32(offset)
    expected = _torchio(tio.Gamma(gamma=gamma), image)
    out = _intensity(RandomGamma(), image, {"gamma": tf.constant([gamma], tf.float32)})
    assert np.abs(expected - image).max() > 0.05
    assert np.allclose(out, expected, rtol=5e-6, atol=1e-7)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.5, 1.0, 2.0)], ids=["1mm", "anisotropic"])
def test_blur_matches_torchio(spacing):
    """``tio.Blur(std)``: ``scipy.ndimage.gaussian_filter`` with σ in mm divided by the spacing, mirrored
    (``reflect``) borders, truncated at ``int(4σ + 0.5)`` voxels. voxflow truncates at 3× the top of
    its σ range (``ceil``), so the range here is wide enough (2.7 mm for σ ≤ 2 mm) that its kernel
    reaches as far as scipy's (4σ); voxflow's default kernel stops at 3σ of the range's top by design, 0.27%
    of the kernel's mass (docs/augmentation.md)."""
    std = (0.8, 1.3, 2.0)
    image = _volume(0)
    expected = _torchio(tio.Blur(std=std), image, np.diag([*spacing, 1.0]))
    layer = RandomBlur(std=(0.0, 2.7 / min(spacing)), spacing=spacing)
    out = _intensity(layer, image, {"std": tf.constant([std], tf.float32)})
    _assert_agrees(out, expected, image, 2e-5)


# ---------------------------------------------------------------------------------------- k-space


@pytest.mark.parametrize("num_ghosts", [3, 4])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_ghosting_matches_torchio(axis, num_ghosts):
    """``tio.Ghosting(num_ghosts, axis, intensity, restore=None)``: every ``num_ghosts``-th plane of the
    centred (``fftshift``-ed) spectrum along ``axis`` times ``1 - intensity``, the central plane
    restored (``restore=None``, the default of both). Along axis 0
    (24 planes, centre 12) the central plane is one of the attenuated ones for both ghost counts."""
    image = _volume(0, border=4)
    expected = _torchio(tio.Ghosting(num_ghosts=num_ghosts, axis=axis, intensity=0.8, restore=None), image)
    params = {"num_ghosts": tf.constant([num_ghosts], tf.int32), "axis": tf.constant([axis], tf.int32),
              "intensity": tf.constant([0.8], tf.float32),
              "restore": tf.constant([0.0], tf.float32)}
    out = _intensity(RandomGhosting(), image, params)
    _assert_agrees(out, expected, image, 1e-5)


@pytest.mark.parametrize(("restore", "num_ghosts"), [(0.25, 3), (0.1, 4), (0.3, 2)])
def test_ghosting_with_a_restored_fraction_matches_torchio(restore, num_ghosts):
    """A restored fraction ``r`` keeps TorchIO's window of ``2 · (round(r N) // 2)`` planes from
    ``N // 2 - round(r N) // 2`` (one fewer above the centre than below). voxflow departs from TorchIO
    only when ``round(r N) < 2``: TorchIO then restores nothing, not even the central plane, which it
    keeps with ``restore=None``; voxflow always keeps it. Not tested here, by design."""
    image = _volume(0, border=4)
    expected = _torchio(tio.Ghosting(num_ghosts=num_ghosts, axis=0, intensity=0.8, restore=restore), image)
    params = {"num_ghosts": tf.constant([num_ghosts], tf.int32), "axis": tf.constant([0], tf.int32),
              "intensity": tf.constant([0.8], tf.float32), "restore": tf.constant([restore], tf.float32)}
    out = _intensity(RandomGhosting(restore=restore), image, params)
    _assert_agrees(out, expected, image, 1e-5)


def _spike(image: np.ndarray, positions: np.ndarray, intensity: float) -> np.ndarray:
    params = {"positions": tf.constant(positions[None], tf.float32),
              "intensity": tf.constant(np.full((1, len(positions)), intensity), tf.float32)}
    return _intensity(RandomSpike(num_spikes=len(positions)), image, params)


@pytest.mark.parametrize(("positions", "intensity"), [
    ([[0.1, 0.7, 0.35]], 2.0),
    ([[0.93, 0.02, 0.5]], 0.5),
    ([[0.1, 0.7, 0.35], [0.8, 0.2, 0.6]], 0.3),
], ids=["one", "one-weak", "two-weak"])
def test_spike_matches_torchio(positions, intensity):
    """``tio.Spike(spikes_positions, intensity)``: ``intensity × max|F|`` added at ``floor(position × shape)``
    of the centred spectrum. voxflow uses ``|F(0)| = |Σx|``, which is the maximum for a non-negative
    image (documented), so the image is non-negative. With two spikes the amplitudes are small enough
    that TorchIO's maximum, taken again after each spike, stays ``|F(0)|``. With strong spikes it does
    not: TorchIO's later spikes grow with the earlier ones (``r^k``); voxflow's are each ``r |F(0)|``, by
    design (docs/augmentation.md)."""
    positions = np.asarray(positions)
    image = _volume(0, border=4)
    expected = _torchio(tio.Spike(spikes_positions=positions, intensity=intensity), image)
    _assert_agrees(_spike(image, positions, intensity), expected, image, 1e-5)


# ---------------------------------------------------------------------------------------- spatial


@pytest.mark.parametrize("axes", [(0,), (1,), (2,), (0, 2), (0, 1, 2)])
def test_flip_matches_torchio(axes):
    image = _volume(0)
    expected = _torchio(tio.Flip(axes=axes), image)
    flips = tf.constant([[axis in axes for axis in range(3)]])
    out = _spatial(RandomFlip(), image, {"flips": flips})
    assert not np.array_equal(expected, image)
    assert np.array_equal(out, expected)


def _affine_params(degrees, scales, translation) -> dict:
    return {"degrees": tf.constant([degrees], tf.float32), "scales": tf.constant([scales], tf.float32),
            "translation": tf.constant([translation], tf.float32)}


@pytest.mark.parametrize(("degrees", "scales", "translation", "spacing", "interpolation"), [
    ((0, 0, 12.0), (1, 1, 1), (0, 0, 0), (1, 1, 1), "linear"),
    ((0, 0, 0), (1, 1, 1), (1.5, -2.25, 0.75), (1, 1, 1), "linear"),
    ((0, 0, 12.0), (1, 1, 1), (1.5, -2.25, 0.75), (1, 1, 1), "linear"),
    ((9.0, 0, 0), (1, 1, 1), (0, 0, 0), (1, 1, 1), "linear"),
    ((0, -7.0, 0), (1, 1, 1), (0, 0, 0), (1, 1, 1), "linear"),
    ((0, 0, 0), (1.2, 0.9, 1.1), (0, 0, 0), (1, 1, 1), "linear"),
    ((0, 0, 14.0), (1, 1, 1), (1.2, -0.9, 1.6), (0.8, 1.0, 1.5), "linear"),
    ((0, 0, 14.0), (1, 1, 1), (1.2, -0.9, 1.6), (0.8, 1.0, 1.5), "nearest"),
], ids=["rotate-z", "translate", "rotate-z-translate", "rotate-x", "rotate-y", "scale", "spacing", "nearest"])
def test_affine_matches_torchio(degrees, scales, translation, spacing, interpolation):
    """``tio.Affine(scales, degrees, translation)`` about the image centre (``center="image"``). Its
    arguments describe how the content moves in RAS (it converts them to LPS for SimpleITK and inverts
    the transform for resampling), as voxflow's do, so they are passed unchanged; angles, shifts and
    scales act in mm (the ``spacing`` case has voxels of 0.8 × 1 × 1.5 mm and an origin far from 0).
    One rotation axis at a time, and scaling without rotation or translation; the next test composes
    them. Fill values agree through the zero border (TorchIO's ``default_pad_value`` is
    the image minimum, 0)."""
    image = _volume(0, border=5)
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = (40.0, -75.0, 12.0)
    transform = tio.Affine(scales=scales, degrees=degrees, translation=translation, image_interpolation=interpolation)
    expected = _torchio(transform, image, affine)
    layer = RandomAffine(spacing=spacing, image_interpolation=interpolation)
    out = _spatial(layer, image, _affine_params(degrees, scales, translation))
    _assert_agrees(out, expected, image, 1e-5, changed=0.3)


@pytest.mark.parametrize(("degrees", "scales", "translation"), [
    ((9.0, -7.0, 12.0), (1, 1, 1), (0, 0, 0)),
    ((0, 0, 12.0), (1.2, 0.9, 1.0), (0, 0, 0)),
    ((0, 0, 0), (1.2, 1.2, 1.2), (1.5, -2.25, 0.75)),
], ids=["rotation-order", "scale-after-rotation", "scaled-translation"])
def test_affine_compositions_match_torchio(degrees, scales, translation):
    """Rotations about three axes (SimpleITK's Euler order), scaling after rotation along the window's
    axes, and a translation that is scaled too: TorchIO's ``CompositeTransform([scaling, rotation])``."""
    image = _volume(0, border=5)
    expected = _torchio(tio.Affine(scales=scales, degrees=degrees, translation=translation), image)
    out = _spatial(RandomAffine(), image, _affine_params(degrees, scales, translation))
    _assert_agrees(out, expected, image, 1e-5, changed=0.3)


class _Anisotropy(tio.RandomAnisotropy):
    """TorchIO's ``RandomAnisotropy`` with its draw fixed (``sample_uniform(f, f)`` is ``f``): it has
    no deterministic class; its ``apply_transform`` is two ``tio.Resample`` calls (to the coarser
    spacing by nearest neighbour, then back to the original grid linearly)."""

    def __init__(self, axis: int, factor: float) -> None:
        super().__init__(axes=axis, downsampling=(factor, factor))


def _anisotropy(image: np.ndarray, axis: int, factor: float) -> np.ndarray:
    params = {"axis": tf.constant([axis], tf.int32), "factor": tf.constant([factor], tf.float32)}
    return _intensity(RandomAnisotropy(), image, params)


@pytest.mark.parametrize(("axis", "factor"), [(0, 3.0), (0, 2.5), (1, 5.0), (1, 2.5), (2, 3.0), (2, 1.5)])
def test_anisotropy_matches_torchio(axis, factor):
    """TorchIO (``Resample.get_reference_image``) keeps ``n = floor(N / f)`` thick slices centred in the
    field of view, the first at voxel ``o = ((N - 1) - (n - 1) f) / 2``, takes each by nearest neighbour
    (halves round up: f = 2.5 on axis 0 and f = 1.5 on axis 2 put slices halfway between voxels) and
    interpolates linearly back; so does voxflow. Voxels more than half a slice beyond the outer slices
    (grid place ``(i - o) / f`` below -1/2 or from ``n - 1/2``: planes 0 and 23 for f = 2.5 on axis 0)
    are 0 in TorchIO (SimpleITK's default pixel value) and repeat the outer slice in voxflow, by design."""
    image = _volume(0)
    size = SHAPE[axis]
    count = math.floor(size / factor)
    offset = ((size - 1) - (count - 1) * factor) / 2
    place = (np.arange(size) - offset) / factor
    inside = (place >= -0.5) & (place < count - 0.5)
    expected = np.moveaxis(_torchio(_Anisotropy(axis, factor), image), axis, 0)
    out = np.moveaxis(_anisotropy(image, axis, factor), axis, 0)
    source = np.moveaxis(image, axis, 0)
    _assert_agrees(out[inside], expected[inside], source[inside], 1e-5)
    assert np.all(expected[~inside] == 0)
    first, last = np.floor(offset + np.array([0, count - 1]) * factor + 0.5).astype(int)
    edge = np.where((place < 0)[~inside, None, None], source[first], source[last])
    assert np.array_equal(out[~inside], edge)


def _swap(image: np.ndarray, locations, patch_size) -> np.ndarray:
    corners = tf.constant(np.asarray(locations, np.int32)[None])
    return _spatial(RandomSwap(patch_size=patch_size, num_iterations=len(locations)), image, {"corners": corners})


def test_swap_matches_torchio():
    """``tio.Swap(patch_size, locations)`` with ``locations`` = voxflow's ``corners``: pairs in order, a
    later pair reading patches an earlier one wrote (pair 2's first patch overlaps pair 1's second)."""
    patch = (6, 5, 4)
    locations = [((0, 0, 0), (10, 12, 9)), ((12, 14, 10), (2, 1, 15)), ((15, 3, 14), (7, 7, 7))]
    image = _volume(0)
    expected = _torchio(tio.Swap(patch_size=patch, locations=locations), image)
    out = _swap(image, locations, patch)
    assert not np.array_equal(expected, image)
    assert np.array_equal(out, expected)


def test_swap_of_overlapping_patches_matches_torchio():
    """Where the two patches of a pair overlap, the second patch's values are kept, as TorchIO's ``_swap``
    writes the first patch into the second place and then the second into the first. (When the second
    place lies after the first in memory, TorchIO's uncloned first patch is partly overwritten while it
    is copied, an aliasing bug of its own; this pair avoids it.)"""
    patch = (6, 5, 4)
    locations = [((7, 6, 5), (4, 4, 4))]
    image = _volume(0)
    expected = _torchio(tio.Swap(patch_size=patch, locations=locations), image)
    assert np.array_equal(_swap(image, locations, patch), expected)


def _elastic(image: np.ndarray, control_voxels: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    layer = RandomElasticDeformation(num_control_points=control_voxels.shape[:3], spacing=spacing)
    return _spatial(layer, image, {"control": tf.constant(control_voxels[None], tf.float32)})


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (0.8, 1.0, 1.5)], ids=["1mm", "anisotropic"])
def test_elastic_shift_matches_torchio(spacing):
    """``tio.ElasticDeformation(control_points, max_displacement)`` with every control point moved by the
    same ``d`` mm: inside the image a cubic B-spline grid of equal coefficients is that constant in
    both (TorchIO's unnormalised spline sums to 1 there; voxflow normalises its weights), so both shift
    the sampling points by ``d``. TorchIO's control points are LPS mm (x and y negated), voxflow's
    voxels along the array axes. This checks units, signs, direction and interpolation; the next test
    checks the placement of the control grid."""
    shift = np.array([1.3, -0.7, 0.4])
    n = 7
    image = _volume(0, border=5)
    control_points = np.broadcast_to(shift * LPS, (n, n, n, 3)).copy()
    transform = tio.ElasticDeformation(control_points=control_points, max_displacement=(2.0, 2.0, 2.0))
    expected = _torchio(transform, image, np.diag([*spacing, 1.0]))
    control = np.broadcast_to(shift / np.asarray(spacing), (n, n, n, 3)).copy()
    _assert_agrees(_elastic(image, control, spacing), expected, image, 1e-5, changed=0.3)


def test_elastic_field_matches_torchio():
    """A random control grid, mapped to voxflow's convention: voxels along the array axes, x and y
    components negated (LPS) and the grid's x and y index reversed (TorchIO's grid runs along +L, +P).
    Both place the grid as ``sitk.BSplineTransformInitializer(image, n - 3)`` does."""
    n = 7
    rng = np.random.default_rng(4)
    control_points = rng.uniform(-2.0, 2.0, (n, n, n, 3))
    free = np.zeros((n, n, n, 1))
    free[2:-2, 2:-2, 2:-2] = 1.0
    control_points *= free
    image = _volume(0, border=5)
    transform = tio.ElasticDeformation(control_points=control_points, max_displacement=(2.0, 2.0, 2.0))
    expected = _torchio(transform, image)
    control = np.ascontiguousarray(control_points[::-1, ::-1] * LPS)
    _assert_agrees(_elastic(image, control), expected, image, 1e-5, changed=0.3)

"""Intensity and k-space layers: images only, properties of each artifact."""

import numpy as np
import pytest
import tensorflow as tf

from voxflow.augment.anisotropy import RandomAnisotropy
from voxflow.augment.blur import RandomBlur
from voxflow.augment.intensity import (
    RandomBiasField,
    RandomGamma,
    RandomIntensityScale,
    RandomIntensityShift,
    RandomNoise,
)
from voxflow.augment.kspace import RandomGhosting, RandomMotion, RandomSpike

INTENSITY = [RandomBiasField(), RandomGamma(), RandomNoise(), RandomIntensityScale(), RandomIntensityShift(),
             RandomBlur(), RandomAnisotropy(), RandomMotion(), RandomGhosting(), RandomSpike()]


@pytest.mark.parametrize("layer", INTENSITY, ids=lambda layer: type(layer).__name__)
def test_images_change_labels_do_not(layer, batch):
    out = layer(batch)
    assert out["image"].shape == batch["image"].shape and out["image"].dtype.name == "float32"
    assert not np.allclose(np.asarray(out["image"]), batch["image"])
    assert np.array_equal(np.asarray(out["label"]), batch["label"])


def test_probability_zero_is_identity(batch):
    out = RandomMotion(p=0.0)(batch)
    assert np.array_equal(np.asarray(out["image"]), batch["image"])


def test_bias_field_multiplies_and_keeps_sign(batch):
    signed = dict(batch, image=batch["image"] - 70.0)
    layer = RandomBiasField(coefficients=0.5, order=3)
    params = layer.sample(signed)
    out = np.asarray(layer.apply(signed, params)["image"])
    field = np.asarray(layer.field((24, 24, 24), params))
    assert np.allclose(out, signed["image"] * field, rtol=1e-5, atol=1e-4)
    assert np.array_equal(np.sign(out), np.sign(signed["image"]))


@pytest.mark.parametrize("interpolation", ["linear", "cubic", "nearest"])
def test_motion_without_motion_is_identity(batch, interpolation):
    out = RandomMotion(degrees=0, translation=0, num_transforms=3, image_interpolation=interpolation)(batch)
    assert np.array_equal(np.asarray(out["image"]), batch["image"])  # no movement, no change at all


def test_motion_resamples_with_the_chosen_interpolation(batch):
    """A whole-voxel shift moves the image identically under every interpolation; half a voxel does not."""
    params = {"degrees": tf.zeros([2, 1, 3]), "translation": tf.constant([[[0.0, 0.0, 0.5]]] * 2),
              "times": tf.fill([2, 1], 0.5), "apply": tf.constant([True, True])}
    outputs = {name: np.asarray(RandomMotion(num_transforms=1, image_interpolation=name).apply(batch, params)["image"])
               for name in ("linear", "cubic", "nearest")}
    assert not np.allclose(outputs["linear"], outputs["nearest"], atol=1e-3)
    assert not np.allclose(outputs["linear"], outputs["cubic"], atol=1e-3)
    whole = dict(params, translation=tf.constant([[[0.0, 0.0, 1.0]]] * 2))
    moved = [np.asarray(RandomMotion(num_transforms=1, image_interpolation=name).apply(batch, whole)["image"])
             for name in ("linear", "cubic", "nearest")]
    assert np.allclose(moved[0], moved[1], atol=1e-4) and np.allclose(moved[0], moved[2], atol=1e-4)


def test_ghosting_attenuates_every_nth_kspace_plane(batch):
    layer = RandomGhosting(num_ghosts=(4, 4), axes=0, intensity=(0.75, 0.75))
    out = np.asarray(layer(batch)["image"])[0, ..., 0]
    before = np.abs(np.fft.fftshift(np.fft.fft(batch["image"][0, ..., 0], axis=0), axes=0))
    after = np.abs(np.fft.fftshift(np.fft.fft(out, axis=0), axes=0))
    ratio = after.sum(axis=(1, 2)) / before.sum(axis=(1, 2))
    hit = (np.arange(24) % 4 == 0) & (np.arange(24) != 12)  # the centre is always kept
    assert np.allclose(ratio[~hit], 1.0, atol=1e-3)
    assert np.allclose(ratio[hit], 0.25, atol=1e-2)


def test_ghosting_reads_ranges_as_torchio_does(batch):
    """One number ``d`` is ``U{0..d}`` ghosts, ``U(0, d)`` intensity and restored fraction; no ghosts or no
    intensity leaves the image as it is; the default restores the central plane only."""
    import tensorflow as tf

    layer = RandomGhosting(num_ghosts=3, intensity=0.4, restore=0.3)
    assert (layer.num_ghosts, layer.intensity, layer.restore) == ((0, 3), (0.0, 0.4), (0.0, 0.3))
    many = {"image": np.zeros((300, 4, 4, 4, 1), np.float32)}
    params = {k: np.asarray(v) for k, v in layer.sample(many).items()}
    assert set(params["num_ghosts"]) == {0, 1, 2, 3}
    assert 0.0 <= params["intensity"].min() < 0.05 and 0.35 < params["intensity"].max() <= 0.4
    assert 0.0 <= params["restore"].min() < 0.03 and 0.27 < params["restore"].max() <= 0.3
    assert RandomGhosting().restore is None
    image = tf.constant(batch["image"])
    for ghosts, strength in ((0, 0.8), (4, 0.0)):
        none = {"num_ghosts": tf.constant([ghosts]), "axis": tf.constant([0]), "intensity": tf.constant([strength]),
                "restore": tf.constant([0.0])}
        np.testing.assert_array_equal(np.asarray(RandomGhosting().apply_image(image[:1], none)), batch["image"][:1])
    with pytest.raises(ValueError, match="intensity"):
        RandomGhosting(intensity=(-0.5, 1.0))
    with pytest.raises(ValueError, match="restore"):
        RandomGhosting(restore=1.5)


def test_spike_reads_ranges_as_torchio_does():
    """One number ``d`` of spikes is ``U{0..d}``; one intensity per sample, shared by its spikes."""
    layer = RandomSpike(num_spikes=3, intensity=(1.0, 3.0))
    assert layer.num_spikes == (0, 3)
    params = layer.sample({"image": np.zeros((300, 4, 4, 4, 1), np.float32)})
    intensity = np.asarray(params["intensity"])  # (B, 3): r for the drawn spikes, 0 for the others
    count = (intensity != 0).sum(axis=1)
    assert set(count) == {0, 1, 2, 3}
    for row, n in zip(intensity, count, strict=True):
        assert np.all(row[:n] == row[0]) and np.all(row[n:] == 0) and (n == 0 or 1.0 <= row[0] <= 3.0)
    image = np.random.default_rng(0).random((1, 4, 4, 4, 1)).astype(np.float32)
    none = RandomSpike(num_spikes=0)
    assert np.array_equal(np.asarray(none(dict(image=image))["image"]), image)


def test_spike_changes_one_fourier_coefficient(batch):
    layer = RandomSpike(num_spikes=(1, 1), intensity=2.0)
    params = layer.sample(batch)
    out = np.asarray(layer.apply(batch, params)["image"])[0, ..., 0]
    before = np.fft.fftn(batch["image"][0, ..., 0])
    after = np.fft.fftn(out)
    changed = np.abs(after - before) > 1e-2 * np.abs(before).max()
    # the real part of one added coefficient is two coefficients (k and -k), each of half amplitude
    assert 1 <= changed.sum() <= 2
    jump = np.abs(after - before)[changed].sum()
    expected = abs(float(params["intensity"][0, 0])) * np.abs(before).max()
    assert np.isclose(jump, expected, rtol=1e-3)


def test_noise_is_standard_normal_scaled_and_reproducible():
    image = np.zeros((1, 32, 32, 32, 1), np.float32)
    layer = RandomNoise(mean=(0.5, 0.5), std=(2.0, 2.0), seed=3)
    params = layer.sample({"image": image})
    out = np.asarray(layer.apply({"image": image}, params)["image"])
    again = np.asarray(layer.apply({"image": image}, params)["image"])
    assert np.array_equal(out, again) and np.isfinite(out).all()
    assert abs(out.mean() - 0.5) < 0.05 and abs(out.std() - 2.0) < 0.05
    assert abs(np.mean(((out - 0.5) / 2.0) ** 4) - 3.0) < 0.15  # Gaussian kurtosis


def test_noise_passes_a_normality_test_and_skips_unapplied_samples():
    from scipy import stats

    image = np.full((2, 64, 64, 64, 1), 3.0, np.float32)
    layer = RandomNoise(std=(1.0, 1.0), p=0.5)
    batch = {"image": image, "seed": np.array([[1, 0], [1, 1]])}
    params = layer.sample(batch)
    out = np.asarray(layer.apply(batch, params)["image"])
    applied = np.asarray(params["apply"])
    assert applied.tolist() in ([True, False], [False, True])
    assert np.array_equal(out[~applied], image[~applied])  # exactly: mean and std are 0 there
    noise = (out[applied] - 3.0 - float(np.asarray(params["mean"])[applied][0])).ravel().astype(np.float64)
    assert stats.kstest(noise, "norm").pvalue > 1e-3  # 262,144 values
    both = np.asarray(RandomNoise.noise(image, params))  # the cosine and the sine halves are independent
    assert abs(np.corrcoef(both[0].ravel()[: 64**3 // 2], both[0].ravel()[64**3 // 2:])[0, 1]) < 0.01


def test_gamma_is_signed_power():
    image = np.random.default_rng(0).normal(0, 3, (2, 10, 9, 8, 1)).astype(np.float32)
    image[0, 0, 0, 0, 0] = 0.0
    layer = RandomGamma(log_gamma=0.4)
    params = layer.sample({"image": image})
    out = np.asarray(layer.apply({"image": image}, params)["image"]).astype(np.float64)
    gamma = np.asarray(params["gamma"], np.float64).reshape(-1, 1, 1, 1, 1)
    expected = np.sign(image) * np.abs(image.astype(np.float64)) ** gamma
    assert np.allclose(out, expected, rtol=2e-6, atol=1e-30) and out[0, 0, 0, 0, 0] == 0.0


def test_spike_in_image_space_equals_fft_route():
    rng = np.random.default_rng(1)
    image = rng.random((3, 12, 10, 9, 2)).astype(np.float32)  # odd and even sizes, two channels
    layer = RandomSpike(num_spikes=(1, 3), intensity=(1.0, 3.0), p=0.6)
    batch = {"image": image, "seed": np.stack([np.full(3, 4), np.arange(3)], 1)}
    params = layer.sample(batch)
    out = np.asarray(layer.apply(batch, params)["image"])
    positions, intensity = np.asarray(params["positions"]), np.asarray(params["intensity"])
    applied = np.asarray(params["apply"])
    assert 0 < applied.sum() < 3 and (intensity != 0).sum(axis=1).min() >= 1
    for b in range(3):
        for c in range(2):
            volume = image[b, ..., c].astype(np.float64)
            if not applied[b]:
                assert np.array_equal(out[b, ..., c], image[b, ..., c])
                continue
            spectrum = np.fft.fftshift(np.fft.fftn(volume))  # TorchIO's route: centred spectrum
            peak = np.abs(volume.sum())
            for position, ratio in zip(positions[b], intensity[b], strict=True):
                spectrum[tuple(np.floor(position * volume.shape).astype(int))] += ratio * peak
            expected = np.fft.ifftn(np.fft.ifftshift(spectrum)).real
            assert np.abs(out[b, ..., c] - expected).max() <= 1e-5 * np.abs(expected).max()


def _torchio_mixing(volumes: list[np.ndarray], times: np.ndarray) -> np.ndarray:
    """TorchIO's ``Motion.add_artifact`` on ``(X, Y, Z)`` volumes ``[still, moved_1, …]``, in NumPy."""
    spectra = [np.fft.fftshift(np.fft.fftn(v.astype(np.float64))) for v in volumes]
    index = np.where(times > 0.5)[0].min() if np.any(times > 0.5) else len(spectra) - 1
    spectra[0], spectra[index] = spectra[index], spectra[0]  # the still image fills the centre
    size = spectra[0].shape[2]
    result = np.empty_like(spectra[0])
    start = 0
    for spectrum, end in zip(spectra, [int(v) for v in size * times] + [size], strict=True):
        result[..., start:end] = spectrum[..., start:end]
        start = end
    return np.fft.ifftn(np.fft.ifftshift(result)).real


@pytest.mark.parametrize("times", [None, [0.2, 0.3, 0.4], [0.6, 0.7, 0.8], [0.1, 0.5, 0.55]])
def test_motion_equals_torchio_mixing_of_moved_images(times):
    """Half spectra along one axis with symmetric masks give TorchIO's full complex 3-D route,
    wherever the centre of k-space falls (before, inside or after the movements; a time of exactly 1/2)."""
    import tensorflow as tf

    from voxflow.augment.affine import sampling_matrix
    from voxflow.augment.warp import affine_warp

    image = np.random.default_rng(2).random((2, 12, 10, 9, 1)).astype(np.float32)  # odd k-space axis
    layer = RandomMotion(degrees=10, translation=3, num_transforms=3)
    params = layer.sample({"image": image})
    if times is not None:
        params["times"] = tf.constant([times, times[::-1]], tf.float32)
        params["times"] = tf.sort(params["times"], axis=-1)
    out = np.asarray(layer.apply_image(tf.constant(image), params))
    volumes = [image[..., 0]]
    for t in range(3):
        move = {"degrees": params["degrees"][:, t], "translation": params["translation"][:, t],
                "scales": tf.ones_like(params["degrees"][:, t])}
        volumes.append(np.asarray(affine_warp(image, sampling_matrix(move, (12, 10, 9), (1, 1, 1))))[..., 0])
    for b in range(2):
        expected = _torchio_mixing([v[b] for v in volumes], np.asarray(params["times"][b]))
        assert np.abs(out[b, ..., 0] - expected).max() <= 1e-5 * np.abs(expected).max()
        assert np.abs(out[b, ..., 0] - image[b, ..., 0]).max() > 1e-3  # k-space really is mixed


def test_motion_matches_torchio_motion():
    """TorchIO's own ``Motion`` with the same movements and times (skipped without the bench extra).

    TorchIO's parameters say where each output voxel samples from, in LPS mm (``P = diag(-1, -1, 1)``),
    rotating about the physical origin (here the window centre) by SimpleITK's Euler matrix ``E(θ)``;
    voxflow's say how the content moves in RAS. So voxflow's rotation is ``(P E(θ) P)ᵀ``, whose angles
    in its own (the same Euler) order are read back from the matrix, and its shift is ``-R P t``.
    The zero border makes TorchIO's fill value (the minimum) and voxflow's edge clamping agree.
    """
    tio = pytest.importorskip("torchio")
    import SimpleITK as sitk
    import tensorflow as tf
    import torch

    from voxflow.augment.affine import rotation_matrices

    shape = (24, 22, 20)
    image = np.zeros(shape, np.float32)
    image[5:-5, 5:-5, 5:-5] = np.random.default_rng(3).random((14, 12, 10))
    affine = np.eye(4)
    affine[:3, 3] = -(np.array(shape) - 1) / 2
    degrees, translation = np.array([[7.0, -5.0, 8.0], [-6.0, 9.0, -4.0]]), np.array([[1.5, -1.0, 2.0], [-2.0, 1.25, -0.5]])
    times = np.array([0.3, 0.62])
    subject = tio.Subject(t1=tio.ScalarImage(tensor=torch.from_numpy(image[None]), affine=affine))
    expected = tio.Motion(degrees=degrees, translation=translation, times=times,
                          image_interpolation="linear")(subject).t1.data[0].numpy()
    lps = np.diag([-1.0, -1.0, 1.0])
    angles, shifts = [], []
    for theta, shift in zip(degrees, translation, strict=True):
        euler = sitk.Euler3DTransform()
        euler.SetRotation(*np.radians(theta).tolist())
        rotation = (lps @ np.array(euler.GetMatrix()).reshape(3, 3) @ lps).T
        angle = np.degrees([np.arcsin(rotation[2, 1]), np.arctan2(-rotation[2, 0], rotation[2, 2]),
                            np.arctan2(-rotation[0, 1], rotation[1, 1])])
        assert np.allclose(np.asarray(rotation_matrices(tf.constant(angle[None], tf.float32)))[0], rotation, atol=1e-6)
        angles.append(angle)
        shifts.append(-rotation @ lps @ shift)
    params = {"degrees": tf.constant(np.array(angles)[None], tf.float32),
              "translation": tf.constant(np.array(shifts)[None], tf.float32), "times": tf.constant(times[None], tf.float32)}
    out = np.asarray(RandomMotion(num_transforms=2).apply_image(tf.constant(image[None, ..., None]), params))
    assert np.abs(expected - image).max() > 0.1  # TorchIO's motion does change the image
    assert np.abs(out[0, ..., 0] - expected).max() <= 1e-5


def test_motion_times_are_drawn_as_torchio_draws_them():
    """Movement i happens at i / (T + 1) ± perturbation / (T + 1): sorted, spread over the acquisition."""
    layer = RandomMotion(num_transforms=3, perturbation=0.3)
    times = np.asarray(layer.sample({"image": np.zeros((400, 4, 4, 4, 1), np.float32)})["times"])
    centres = np.array([0.25, 0.5, 0.75])
    assert np.all(np.abs(times - centres) <= 0.3 * 0.25 + 1e-6)
    assert np.all(np.diff(times, axis=1) > 0)
    spread = times - centres  # uniform over ±0.075: its quartiles near ±0.0375
    assert np.allclose(np.percentile(spread, [25, 75]), [-0.0375, 0.0375], atol=0.01)
    with pytest.raises(ValueError, match="perturbation"):
        RandomMotion(perturbation=0.7)


def test_anisotropy_antialias_smooths_the_axis_before_downsampling():
    from scipy import ndimage

    from voxflow.augment.anisotropy import antialias_sigma

    image = np.random.default_rng(6).random((3, 14, 12, 10, 1)).astype(np.float32)
    plain, smooth = RandomAnisotropy(downsampling=(2.0, 4.0)), RandomAnisotropy(downsampling=(2.0, 4.0), antialias=True)
    params = plain.sample({"image": image})
    out = np.asarray(smooth.apply_image(image, params))
    radius = int(np.ceil(3 * antialias_sigma(4.0)))
    for b in range(3):
        axis, factor = int(params["axis"][b]), float(params["factor"][b])
        sigma = antialias_sigma(factor)
        # Gaussian with mirrored borders ("reflect": d c b a | a b c d), truncated at the same radius
        blurred = ndimage.gaussian_filter1d(image[b].astype(np.float64), sigma, axis=axis, mode="reflect",
                                            truncate=(radius + 0.25) / sigma)
        expected = np.asarray(plain.apply_image(blurred[None].astype(np.float32), {k: v[b:b + 1] for k, v in params.items()}))
        assert np.abs(out[b] - expected[0]).max() < 1e-5
    constant = np.full((1, 14, 12, 10, 1), 2.5, np.float32)  # weights sum to one, borders mirrored
    assert np.allclose(np.asarray(smooth.apply_image(constant, {k: v[:1] for k, v in params.items()})), 2.5, atol=1e-5)


@pytest.mark.parametrize(("shape", "std"), [((2, 20, 17, 15, 2), (0.5, 1.5)), ((1, 9, 7, 6, 1), (0.5, 1.5)),
                                            ((2, 20, 17, 15, 1), (0.2, 0.4, 1.0, 1.5, 0.6, 0.7))],
                         ids=["interior", "short-axes", "per-axis-ranges"])
def test_blur_equals_scipy_gaussian_with_mirrored_borders(shape, std):
    from scipy import ndimage

    image = np.random.default_rng(8).random(shape).astype(np.float32)
    layer = RandomBlur(std=std)
    params = layer.sample({"image": image, "seed": np.stack([np.full(shape[0], 2), np.arange(shape[0])], 1)})
    sigmas = np.asarray(params["std"])
    if len(std) == 6:  # TorchIO's (a1, b1, a2, b2, a3, b3): one range per axis
        assert np.all((sigmas >= np.array(std[0::2])) & (sigmas <= np.array(std[1::2])))
    out = np.asarray(layer.apply_image(image, params))
    radius = int(np.ceil(3 * max(std[1::2])))  # the kernel reaches 3 of the largest σ, past short axes' ends
    for b in range(shape[0]):
        expected = image[b].astype(np.float64)
        for axis, sigma in enumerate(np.asarray(params["std"])[b]):
            expected = ndimage.gaussian_filter1d(expected, sigma, axis=axis, mode="reflect",
                                                 truncate=(radius + 0.25) / sigma)
        assert np.abs(out[b] - expected).max() < 1e-5


@pytest.mark.parametrize("layer", [RandomMotion(p=0.5), RandomSpike(p=0.5), RandomNoise(p=0.5)],
                         ids=lambda layer: type(layer).__name__)
def test_samples_not_drawn_keep_even_non_finite_images(layer):
    """These layers choose between changed and kept samples inside their compiled pass: check it is exact."""
    image = np.random.default_rng(9).random((4, 10, 9, 8, 1)).astype(np.float32)
    image[:, 2, 3, 4, 0] = np.nan
    image[:, 5, 1, 2, 0] = -0.0
    batch = {"image": image, "seed": np.stack([np.full(4, 3), np.arange(4)], 1)}
    params = layer.sample(batch)
    applied = np.asarray(params["apply"])
    assert 0 < applied.sum() < 4
    out = np.asarray(layer.apply(batch, params)["image"])
    assert np.array_equal(out[~applied].view(np.uint32), image[~applied].view(np.uint32))  # bit for bit


@pytest.mark.parametrize("gamma", [0.3, 0.74, 1.0, 1.35, 3.0])
def test_signed_power_matches_float64_over_the_float32_range(gamma):
    from voxflow.augment.intensity import signed_power

    rng = np.random.default_rng(3)
    finite = np.concatenate([10.0 ** rng.uniform(-30, 30, 200000), rng.uniform(0, 2, 100000),
                             np.arange(1, 1000), 2.0 ** np.arange(-126, 100), [1.0, 2.0, 0.5]])
    magnitudes = np.concatenate([finite, [0.0, np.inf, np.nan]]).astype(np.float32)
    for signs in (1.0, -1.0):
        values = (signs * magnitudes).astype(np.float32)
        for power in (tf.function(signed_power, jit_compile=True), signed_power):  # as in the layer, and eagerly
            got = np.asarray(power(tf.constant(values), tf.constant(gamma)))
            expected = signs * magnitudes.astype(np.float64) ** gamma
            normal = (np.abs(expected) > 1.2e-38) & (np.abs(expected) < 3e38)
            # float32 rounding of gamma * log2|x| (|.| up to ~128) bounds the relative error, as for exp(gamma log x)
            np.testing.assert_allclose(got[normal], expected[normal], rtol=2e-5)
            assert np.all(got[:-3][np.abs(expected[:-3]) >= 3.5e38] == signs * np.inf)
            assert np.all(got[:-3][np.abs(expected[:-3]) < 1e-38] == 0.0)  # underflow flushed
            assert np.array_equal(np.signbit(got[:-1]), np.signbit(values[:-1]))  # -0 stays -0
            assert got[-3] == 0.0 and got[-2] == signs * np.inf and np.isnan(got[-1])
            assert np.all(got[np.abs(values) == 1.0] == values[np.abs(values) == 1.0])  # 1 ** gamma is exactly 1


def test_noise_of_different_samples_and_neighbours_is_independent_and_normal():
    from scipy import stats

    image = np.zeros((3, 96, 96, 96, 1), np.float32)
    layer = RandomNoise(std=(1.0, 1.0))
    params = layer.sample({"image": image, "seed": np.array([[7, 0], [7, 1], [8, 0]])})
    noise = np.asarray(RandomNoise.noise(image, params)).reshape(3, -1).astype(np.float64)
    for sample in noise:  # 884,736 values each
        assert stats.kstest(sample, "norm").pvalue > 1e-4
        assert abs(sample.mean()) < 0.005 and abs(sample.std() - 1.0) < 0.005
        assert abs(stats.kurtosis(sample)) < 0.03  # normal tails (excess kurtosis 0)
        for lag in (1, 2, 96, 96 * 96):  # neighbours along every axis
            assert abs(np.corrcoef(sample[:-lag], sample[lag:])[0, 1]) < 0.005
    correlations = np.corrcoef(noise)[np.triu_indices(3, 1)]
    assert np.all(np.abs(correlations) < 0.005)  # different seeds, independent noise


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_ghosting_equals_the_real_part_of_the_fft_route(axis, channels):
    rng = np.random.default_rng(axis)
    image = rng.random((2, 13, 10, 9, channels)).astype(np.float32)  # odd and even sizes
    layer = RandomGhosting(num_ghosts=(3, 7), axes=axis, intensity=(0.3, 0.9), restore=0.2)
    batch = {"image": image, "seed": np.array([[2, axis], [3, axis]])}
    params = layer.sample(batch)
    out = np.asarray(layer.apply(batch, params)["image"])
    size = image.shape[1 + axis]
    position = (np.arange(size) + size // 2) % size  # place of frequency k in the centred spectrum
    for b in range(2):
        ghosts, strength = int(params["num_ghosts"][b]), float(params["intensity"][b])
        half = int(np.round(float(params["restore"][b]) * size)) // 2  # TorchIO's window, and the centre
        kept = ((position >= size // 2 - half) & (position < size // 2 + half)) | (position == size // 2)
        hit = (position % ghosts == 0) & ~kept
        factor = np.where(hit, 1.0 - strength, 1.0).reshape([-1 if a == axis else 1 for a in range(3)] + [1])
        spectrum = np.fft.fft(image[b].astype(np.float64), axis=axis) * factor
        expected = np.real(np.fft.ifft(spectrum, axis=axis))
        applied = bool(params["apply"][b])
        np.testing.assert_allclose(out[b], expected if applied else image[b], atol=2e-6)

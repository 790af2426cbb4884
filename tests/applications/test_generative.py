"""net_autoencoder and net_gan: their losses, networks, steps and every inference mode on tiny data."""

import csv
import textwrap

import nibabel as nib
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from voxflow.cli.main import main
from voxflow.losses.generative import bernoulli_nll, gaussian_nll, generator_loss, kl_divergence
from voxflow.networks.gan import SimpleGAN, SimulatorGAN
from voxflow.networks.vae import VAE

AFFINE = np.diag([4.0, 4.0, 4.0, 1.0])


# ----------------------------------------------------------------------------- losses
def test_kl_term_matches_the_closed_form_and_the_likelihood_scipy():
    rng = np.random.default_rng(0)
    mean, logvar = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    # KL(N(m, s²) || N(0, 1)) = log(1/s) + (s² + m²)/2 − 1/2, summed over the code, averaged over the batch
    s = np.exp(0.5 * logvar)
    closed = np.mean(np.sum(np.log(1.0 / s) + (s ** 2 + mean ** 2) / 2.0 - 0.5, axis=1))
    assert float(kl_divergence(mean, logvar)) == pytest.approx(closed, rel=1e-5)
    assert float(kl_divergence(np.zeros((2, 4)), np.zeros((2, 4)))) == pytest.approx(0.0, abs=1e-7)
    x, mu, lv = rng.uniform(size=(2, 4, 4, 1)), rng.uniform(size=(2, 4, 4, 1)), rng.normal(size=(2, 4, 4, 1))
    expected = -np.mean(np.sum(stats.norm.logpdf(x, mu, np.exp(0.5 * lv)).reshape(2, -1), axis=1))
    assert float(gaussian_nll(x, mu, lv)) == pytest.approx(expected, rel=1e-5)
    binary = -np.mean(np.sum(stats.bernoulli.logpmf(1, mu).reshape(2, -1) * x.reshape(2, -1)
                             + stats.bernoulli.logpmf(0, mu).reshape(2, -1) * (1 - x.reshape(2, -1)), axis=1))
    assert float(bernoulli_nll(x, mu)) == pytest.approx(binary, rel=1e-4)


def test_generator_loss_is_non_saturating_cross_entropy():
    logits = np.array([[0.0], [2.0]], np.float32)
    assert float(generator_loss("cross_entropy", logits)) == pytest.approx(np.mean(np.log1p(np.exp(-logits))), rel=1e-6)


# ----------------------------------------------------------------------------- networks
def test_vae_encodes_deterministically_and_decodes_into_the_unit_range():
    vae = VAE((16, 16), 1, conv_channels=(4, 8), fc_sizes=(16,), shared_fc=(8,), latent_size=3, seed=1)
    images = np.random.default_rng(1).uniform(size=(2, 16, 16, 1)).astype(np.float32)
    first, second = vae(images, training=False), vae(images, training=False)
    assert np.array_equal(first["code"], first["posterior_mean"])  # outside training the code is the mean
    assert np.array_equal(first["data_mean"], second["data_mean"])
    assert 0.0 <= float(tf.reduce_min(first["data_mean"])) and float(tf.reduce_max(first["data_mean"])) <= 1.0
    drawn = vae(images, training=True)
    assert not np.allclose(drawn["code"], drawn["posterior_mean"])  # training draws μ + σ·ε
    with pytest.raises(ValueError, match="multiple of 4"):
        VAE((18, 16), 1, conv_channels=(4, 8))


def test_gan_pairs_take_network_args_per_model_and_conditioning_at_every_level():
    generator, discriminator = SimpleGAN((16, 16), 1, 5, generator_channels=(8, 4), discriminator_channels=(4, 8)).build()
    images = generator(np.zeros((2, 5), np.float32))
    assert images.shape == (2, 16, 16, 1) and discriminator(images).shape == (2, 1)
    generator, discriminator = SimulatorGAN((16, 16), 1, 5, conditioning_channels=3, generator_channels=(8, 4),
                                            discriminator_channels=(4, 8)).build()
    maps = np.random.default_rng(2).normal(size=(2, 16, 16, 3)).astype(np.float32)
    noise = np.zeros((2, 5), np.float32)
    out, other = generator([noise, maps]), generator([noise, maps[::-1]])
    assert not np.allclose(out[0], other[0])  # the maps change the image
    with pytest.raises(ValueError, match="conditioned on 3"):
        generator(noise)
    frequencies = [w for w in generator.non_trainable_weights if "fourier" in w.path]  # fixed, saved with the model
    assert len(frequencies) == 1 and tuple(frequencies[0].shape) == (3, 64)
    assert [layer.name for layer in generator.pixel_layers] == ["pixel_0", "pixel_1"]


# ----------------------------------------------------------------------------- projects
def _slices(folder, count=8, size=16):
    """2-D images and three coordinate maps per case (a plane through a smooth pattern)."""
    rng = np.random.default_rng(3)
    folder.mkdir()
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    for case in range(count):
        angle = rng.uniform(-1.0, 1.0)
        x, y, z = (xx - 8) * np.cos(angle), yy - 8.0 + 0 * xx, (xx - 8) * np.sin(angle)
        maps = {"img": np.sin(x / 3) + np.cos(z / 4) + y / 10, "coordX": x, "coordY": y, "coordZ": z}
        for name, array in maps.items():
            nib.save(nib.Nifti1Image(array.astype(np.float32)[..., None], AFFINE), str(folder / f"c{case}_{name}.nii.gz"))


def _volumes(folder, count=5):
    rng = np.random.default_rng(4)
    folder.mkdir()
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in (12, 12, 12)], indexing="ij"), -1)
    for case in range(count):
        volume = (np.linalg.norm(grid - rng.uniform(5, 7, 3), axis=-1) < rng.uniform(3, 5)) * rng.uniform(50, 100)
        nib.save(nib.Nifti1Image(volume.astype(np.float32), AFFINE), str(folder / f"s{case}_T1.nii.gz"))


GAN_CONFIG = """\
[img]
path_to_search = slices
filename_contains = img
spatial_window_size = 16, 16, 1
{maps}
[SYSTEM]
model_dir = {model}
seed = 2
num_threads = 1
[NETWORK]
name = {name}
batch_size = 4
network_args = generator_channels=(8, 4), discriminator_channels=(4, 8){extra}
[TRAINING]
lr = 0.001
max_iter = 2
save_every_n = 2
[INFERENCE]
save_seg_dir = {model}/out
[GAN]
image = img
noise_size = 6
num_samples = 2
n_interpolations = 3
{conditioning}
"""
MAPS = "\n".join(f"[c{axis}]\npath_to_search = slices\nfilename_contains = coord{axis.upper()}\nspatial_window_size = 16, 16, 1"
                 for axis in "xyz")


def _gan_config(tmp_path, conditional, model="model", extra=""):
    text = GAN_CONFIG.format(maps=MAPS if conditional else "", model=model,
                             name="simulator_gan" if conditional else "simple_gan",
                             extra=", generator_condition_levels=2" if conditional else "",
                             conditioning="conditioning = cx, cy, cz" if conditional else "") + extra
    path = tmp_path / f"{model}.ini"
    path.write_text(text, encoding="utf-8")
    return path


def _run(action, config, *extra, app="gan"):
    return main([action, "-c", str(config), "-a", app, *extra], prog="net_run", application=None)


def test_a_seeded_gan_run_repeats_and_each_phase_updates_only_its_model(tmp_path):
    _slices(tmp_path / "slices")
    first, second = _gan_config(tmp_path, False, "a"), _gan_config(tmp_path, False, "b")
    assert _run("train", first) == 0 and _run("train", second) == 0
    reader = [tf.train.load_checkpoint(str(tmp_path / m / "models" / "ckpt-2" / "ckpt")) for m in ("a", "b")]
    names = [n for n in reader[0].get_variable_to_shape_map() if n.endswith("VARIABLE_VALUE")]
    assert len(names) > 20 and all(np.array_equal(reader[0].get_tensor(n), reader[1].get_tensor(n)) for n in names)

    from voxflow import registry
    from voxflow.config import load_config
    from voxflow.engine.steps import AdversarialStep

    app_class = registry.resolve("application", "gan")
    app_class.register()
    cfg = load_config(str(first), app_section="GAN", action="train")
    app = app_class(cfg, "train")
    app.prepare()
    models = app.build_models()
    optimizers = {n: tf.keras.optimizers.Adam(0.01) for n in models}
    trainable = {n: m.trainable_variables for n, m in models.items()}
    step = AdversarialStep(app, models, optimizers, trainable, tf.distribute.get_strategy())
    batch = next(iter(app.training_dataset(0).batch(4)))

    def weights(name):
        return [v.numpy().copy() for v in models[name].trainable_variables]

    before = {n: weights(n) for n in models}
    step._update("discriminator", app.discriminator_losses, batch)
    after_d = {n: weights(n) for n in models}
    assert all(np.array_equal(a, b) for a, b in zip(before["generator"], after_d["generator"]))
    assert not all(np.array_equal(a, b) for a, b in zip(before["discriminator"], after_d["discriminator"]))
    step._update("generator", app.generator_losses, batch)
    assert all(np.array_equal(a, b) for a, b in zip(after_d["discriminator"], weights("discriminator")))
    assert not all(np.array_equal(a, b) for a, b in zip(after_d["generator"], weights("generator")))
    grids = [app.summary_images(batch, None), app.summary_images(dict(batch, noise_g=batch["noise_g"] * 0), None)]
    assert len(grids[0]["generated"]) == len(grids[0]["real"]) == 4  # TensorBoard: generated next to real
    assert all(np.array_equal(a, b) for a, b in zip(grids[0]["generated"], grids[1]["generated"]))  # fixed noise


def test_conditional_gan_generates_per_input_with_its_geometry_exports_and_evaluates(tmp_path, capsys):
    _slices(tmp_path / "slices")
    config = _gan_config(tmp_path, True)
    assert _run("train", config, "--reconstruction_weight", "10") == 0
    shown = capsys.readouterr().err
    assert "g_adversarial=" in shown and "g_reconstruction=" in shown  # pix2pix's L1 term, shown on its own
    assert _run("inference", config) == 0
    with open(tmp_path / "model" / "out" / "inferred.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16 and {r["subject_id"] for r in rows} == {f"c{k}" for k in range(8)}  # 2 per input
    image = nib.load(rows[0]["path"])
    assert image.shape[:2] == (16, 16) and np.allclose(image.affine, AFFINE)  # the input's grid (same size here)
    assert _run("evaluation", config, "--save_csv_dir", str(tmp_path / "ev")) == 0
    assert (tmp_path / "ev" / "evaluation.csv").read_text().count("\n") == 17
    assert _run("export", config, "--output", str(tmp_path / "export")) == 0
    served = tf.saved_model.load(str(tmp_path / "export" / "saved_model")).signatures["serving_default"]
    assert served(windows=tf.zeros((1, 16, 16, 3)))["image"].shape == (1, 16, 16, 1)


def test_gan_refuses_what_it_cannot_train_in_one_line(tmp_path, capsys):
    _slices(tmp_path / "slices")
    config = _gan_config(tmp_path, False)
    assert _run("train", config, "--loss_type", "Dice") == 2
    assert "not a GAN loss" in capsys.readouterr().err
    assert _run("train", config, "--name", "simulator_gan") == 2
    assert "is conditional: set `conditioning`" in capsys.readouterr().err


VAE_CONFIG = """\
[T1]
path_to_search = volumes
filename_contains = T1
spatial_window_size = 8, 8, 8
[codes]
path_to_search = model/codes
filename_contains = _code_generated
spatial_window_size = 1, 1, 1
[SYSTEM]
model_dir = model
seed = 3
num_threads = 1
[NETWORK]
batch_size = 2
network_args = conv_channels=(4, 8), fc_sizes=(16,), shared_fc=(16,), latent_size=4
[TRAINING]
lr = 0.001
max_iter = 2
save_every_n = 2
[INFERENCE]
save_seg_dir = model/out
dataset_to_infer = all
[AUTOENCODER]
image = T1
feature = codes
n_interpolations = 3
num_samples = 2
"""


def test_autoencoder_every_inference_mode_and_evaluation(tmp_path, capsys):
    _volumes(tmp_path / "volumes")
    config = tmp_path / "vae.ini"
    config.write_text(VAE_CONFIG, encoding="utf-8")
    assert _run("train", config, "--likelihood", "bernoulli", app="autoencoder") == 0
    shown = capsys.readouterr().err
    assert "reconstruction=" in shown and "kl=" in shown  # the loss's two terms on the progress bar
    assert _run("inference", config, "--inference_type", "encode", "--save_seg_dir", str(tmp_path / "model" / "codes"),
                app="autoencoder") == 0
    codes = tmp_path / "model" / "codes"
    first = nib.load(str(codes / "s0_code_generated.nii.gz")).get_fdata().ravel()
    with open(codes / "codes_generated.csv", newline="") as handle:
        table = {row["subject_id"]: row for row in csv.DictReader(handle)}
    assert np.allclose(first, [float(table["s0"][f"mean_{k}"]) for k in range(4)], atol=1e-6)  # the posterior mean
    assert _run("inference", config, "--inference_type", "encode", "--save_seg_dir", str(tmp_path / "again"),
                app="autoencoder") == 0
    assert np.array_equal(first, nib.load(str(tmp_path / "again" / "s0_code_generated.nii.gz")).get_fdata().ravel())
    assert _run("inference", config, app="autoencoder") == 0  # encode-decode: one reconstruction per subject
    out = tmp_path / "model" / "out"
    assert sorted(p.name for p in out.glob("*.nii.gz")) == [f"s{k}_generated.nii.gz" for k in range(5)]
    assert _run("evaluation", config, "--save_csv_dir", str(tmp_path / "ev"), app="autoencoder") == 0
    assert "psnr" in (tmp_path / "ev" / "evaluation.csv").read_text()
    assert _run("inference", config, "--inference_type", "sample", "--save_seg_dir", str(tmp_path / "samples"),
                app="autoencoder") == 0
    assert sorted(p.name for p in (tmp_path / "samples").glob("*.nii.gz")) == ["sample_0_generated.nii.gz",
                                                                              "sample_1_generated.nii.gz"]
    assert _run("inference", config, "--inference_type", "linear_interpolation", "--interpolation_pairs", "s0:s3",
                "--save_seg_dir", str(tmp_path / "line"), app="autoencoder") == 0
    line = sorted((tmp_path / "line").glob("s0_s3_*_generated.nii.gz"))
    assert len(line) == 3
    ends = [nib.load(str(p)).get_fdata() for p in (line[0], line[-1])]
    recon = [nib.load(str(out / f"s{k}_generated.nii.gz")).get_fdata() for k in (0, 3)]
    assert np.allclose(ends[0], recon[0], atol=1e-3) and np.allclose(ends[1], recon[1], atol=1e-3)  # ends = the codes
    assert _run("inference", config, "--inference_type", "linear_interpolation", "--interpolation_pairs", "s0:s9",
                "--save_seg_dir", str(tmp_path / "bad"), app="autoencoder") == 2
    assert "names subject 's9'" in capsys.readouterr().err


def test_segmentation_refuses_the_autoencoder_loss(tmp_path, capsys):
    _volumes(tmp_path / "volumes")
    config = tmp_path / "seg.ini"
    config.write_text(textwrap.dedent("""\
        [T1]
        path_to_search = volumes
        filename_contains = T1
        spatial_window_size = 8, 8, 8
        [SYSTEM]
        model_dir = model
        [NETWORK]
        name = toynet
        batch_size = 1
        [TRAINING]
        loss_type = VariationalLowerBound
        max_iter = 1
        [SEGMENTATION]
        image = T1
        label = T1
        num_classes = 2
        """), encoding="utf-8")
    assert _run("train", config, app="segmentation") == 2
    assert "autoencoder's loss" in capsys.readouterr().err


def test_autoencoder_takes_a_plugin_loss_of_its_outputs_and_refuses_another_tasks_loss(tmp_path, capsys):
    _volumes(tmp_path / "volumes")
    config = tmp_path / "vae.ini"
    config.write_text(VAE_CONFIG, encoding="utf-8")
    (tmp_path / "vae_losses.py").write_text(
        "import tensorflow as tf\n\n\ndef l1(labels, logits, weight=None):\n"
        "    return tf.reduce_mean(tf.abs(labels - logits['data_mean'])) * 1000.0\n", encoding="utf-8")
    assert _run("train", config, "--loss_type", "Dice", app="autoencoder") == 2
    assert "Dice is not an autoencoder loss" in capsys.readouterr().err
    assert _run("train", config, "--loss_type", "vae_losses.l1", "--max_iter", "1", app="autoencoder") == 0
    shown = capsys.readouterr().err
    assert "loss=" in shown and "kl=" not in shown  # the plugin's one loss


def test_inference_needs_no_files_for_a_role_it_does_not_read(tmp_path):
    """A conditional GAN infers from conditioning maps alone: its `image` section may name no folder (a zoo
    entry's config), while training still requires one."""
    from voxflow import registry
    from voxflow.config import load_config
    from voxflow.errors import ConfigError

    _slices(tmp_path / "slices")
    config = _gan_config(tmp_path, True)
    text = config.read_text(encoding="utf-8").replace("[img]\npath_to_search = slices\n", "[img]\n")
    config.write_text(text, encoding="utf-8")
    registry.resolve("application", "gan").register()
    assert load_config(str(config), app_section="GAN", action="inference").app.image == ("img",)
    with pytest.raises(ConfigError, match=r"Missing `path_to_search`.* in \[img\]"):
        load_config(str(config), app_section="GAN", action="train")


def test_evaluation_of_generated_images_refuses_label_metrics_naming_the_task(tmp_path, capsys):
    _slices(tmp_path / "slices")
    config = _gan_config(tmp_path, True)
    assert _run("evaluation", config, "--evaluations", "dice") == 2
    assert "a generated image is evaluated with continuous metrics" in capsys.readouterr().err

"""Every application — built in or the plugin example — through one harness on tiny data.

From nothing but an application's declarations (its roles and their kinds, its required keys) the
harness writes tiny images and a config, then runs it as a user would: train one step (build,
update, checkpoint), train on from that checkpoint (restore), infer, and checks that each output
lies on its input's grid. A new application gets these checks by being registered.
"""

import shutil
import sys
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from voxflow import registry
from voxflow.cli.main import main
from voxflow.config.values import IntType
from voxflow.roles import Kind

REPO = Path(__file__).resolve().parents[2]
SHAPE = (14, 12, 10)
AFFINE = np.diag([1.5, 1.0, 2.0, 1.0])


#: Plugin applications run by the harness: the documented example, and a test application with a
#: per-subject value role whose inference writes a table (tests/applications/plugins).
PLUGINS = {"my_denoising.Denoising": REPO / "configs" / "plugin_example",
           "toy_score.MeanScore": Path(__file__).parent / "plugins"}


def applications():
    """The built-in applications (one per class) and the plugin applications."""
    classes = {}
    for name in registry.names("application"):
        app = registry.resolve("application", name)
        classes.setdefault(app, name)
    return [*sorted(classes.values()), *PLUGINS]


def _file(kind, rng):
    if kind is Kind.LABEL:
        return (rng.uniform(size=SHAPE) > 0.5).astype(np.uint8)
    if kind is Kind.WEIGHT:
        return rng.uniform(0.5, 1.0, SHAPE).astype(np.float32)
    if kind is Kind.FIELD:
        return rng.normal(0.0, 1.0, (*SHAPE, 3)).astype(np.float32)
    return rng.normal(10.0, 2.0, SHAPE).astype(np.float32)


def _value(key):
    if key.default is not None:
        return key.default
    if isinstance(key.type, IntType):
        return key.type.minimum if key.type.minimum is not None else 1
    raise AssertionError(f"the harness cannot make a value for required key `{key.name}`; extend it")


#: Small ``network_args`` for applications whose default network is not the toynet of the others
#: (``[NETWORK] name`` in their SHARED_DEFAULTS), so a window of 8 voxels fits it.
SMALL_NETWORKS = {"registration_net": "encoder=(4, 8), decoder=(8, 8), full_resolution=(4)",
                  "vae": "conv_channels=(4, 8), fc_sizes=(16,), shared_fc=(16,), latent_size=4",
                  "simple_gan": "generator_channels=(16, 8), discriminator_channels=(8, 16)"}
WINDOW = (8, 8, 8)


def window_affine():
    """The affine of a whole input resized to the window (generative outputs: voxel i of the window is
    centred at (i + 1/2)·s − 1/2 input voxels, s = SHAPE / WINDOW)."""
    scale = np.asarray(SHAPE, float) / np.asarray(WINDOW, float)
    inner = np.eye(4)
    inner[:3, :3], inner[:3, 3] = np.diag(scale), (scale - 1.0) / 2.0
    return AFFINE @ inner


def write_project(app, folder: Path) -> Path:
    """Tiny images for every role the application reads for training or inference, and a config."""
    data = folder / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    read = [r for r in app.ROLES if r.required is True or (isinstance(r.required, tuple) and "train" in r.required)]
    inputs, section = [], [f"[{app.SECTION}]"]
    for role in read:
        if role.kind is Kind.VALUE:  # one row of numbers per subject
            rows = "".join(f"s{i},{i % 2}\n" for i in range(3))  # numbers that are also classes
            (data / f"{role.name}.csv").write_text(f"subject_id,{role.name}\n{rows}", encoding="utf-8")
            inputs.append(f"[in_{role.name}]\ncsv_data_file = data/{role.name}.csv\n")
        else:
            for i in range(3):
                nib.save(nib.Nifti1Image(_file(role.kind, rng), AFFINE), str(data / f"s{i}_{role.name}.nii.gz"))
            inputs.append(f"[in_{role.name}]\npath_to_search = data\nfilename_contains = _{role.name}\n"
                          f"spatial_window_size = 8,8,8\n")
        section.append(f"{role.name} = in_{role.name}")
    for key in app.KEYS:
        if key.required_for("train"):
            section.append(f"{key.name} = {_value(key)}")
    network = app.SHARED_DEFAULTS.get(("NETWORK", "name"), "toynet")
    args = f"network_args = {SMALL_NETWORKS[network]}" if network in SMALL_NETWORKS else ""
    config = folder / "config.ini"
    config.write_text("\n".join(inputs) + textwrap.dedent(f"""
        [SYSTEM]
        model_dir = model
        seed = 1
        num_threads = 1
        [NETWORK]
        name = {network}
        {args}
        batch_size = 2
        [TRAINING]
        lr = 0.001
        save_every_n = 1
        [INFERENCE]
        output_postfix = _out
        dataset_to_infer = all
        """) + "\n".join(section) + "\n", encoding="utf-8")
    return config


@pytest.mark.parametrize("name", applications())
def test_build_train_checkpoint_restore_infer(name, tmp_path, monkeypatch):
    if name in PLUGINS:  # a plugin, found next to its config
        monkeypatch.delitem(sys.modules, name.split(".")[0], raising=False)
        shutil.copy(PLUGINS[name] / f"{name.split('.')[0]}.py", tmp_path)
        app = registry.resolve("application", name, search_dirs=(str(tmp_path),))
    else:
        app = registry.resolve("application", name)
    config = write_project(app, tmp_path)

    def net_run(action, *extra):
        return main([action, "-c", str(config), "-a", name, *extra], prog="net_run", application=None)

    assert net_run("train", "--max_iter", "1") == 0
    assert (tmp_path / "model" / "models" / "ckpt-1" / "meta.json").is_file()
    assert net_run("train", "--starting_iter", "-1", "--max_iter", "2") == 0  # restored, one more step
    assert (tmp_path / "model" / "models" / "ckpt-2" / "meta.json").is_file()
    assert net_run("inference") == 0
    listing = (tmp_path / "model" / "output" / "inferred.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in listing[1:]]  # the id, then the output files (registration: several)
    if app.STEP == "adversarial":  # an unconditional GAN generates from noise alone: no subject
        assert sorted({r[0].split("_")[0] for r in rows}) == ["interpolation", "sample"]
        for path in (r[1] for r in rows):  # each on the grid of the first training image resized to the window
            assert nib.load(path).shape[:3] == WINDOW and np.allclose(nib.load(path).affine, window_affine())
        return
    assert listing[0].split(",")[0] in ("subject_id", "pair_id") and sorted(r[0] for r in rows) == ["s0", "s1", "s2"]
    paths = [cell for row in rows for cell in row[1:] if cell.endswith((".nii.gz", ".csv", ".npy"))]
    assert len(paths) >= len(rows)
    for path in paths:  # each listed output exists; images lie on their input's grid
        assert Path(path).is_file() and Path(path).name.split(".")[0].endswith("_out")
        if path.endswith(".nii.gz"):
            image = nib.load(path)
            on_grid = image.shape[:3] == SHAPE and np.allclose(image.affine, AFFINE)
            resized = image.shape[:3] == WINDOW and np.allclose(image.affine, window_affine())  # whole input, resized
            assert on_grid or resized

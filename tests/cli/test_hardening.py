"""Hostile and careless input to the shipped commands: one line, exit 2, and nothing lost.

Each test here reproduces a defect found by probing the commands (see docs/reliability.md) and
fails on the code before its fix.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from cli_data import make_subject, write_config

from voxflow.atomic import temp_prefix
from voxflow.cli.main import main

CLI = "import sys; from voxflow.cli.main import net_segment; sys.argv[0] = 'net_segment'; net_segment()"


def run(*argv):
    return main([str(a) for a in argv], prog="net_segment", application="segmentation")


def one_error_line(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "error:" in line]
    assert len(errors) == 1 and not any("Traceback" in line for line in err), err
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def make_project(folder, count=4, **keys):
    (folder / "data").mkdir(parents=True)
    for i in range(count):
        make_subject(str(folder / "data"), f"sub{i:02d}", seed=i)
    return write_config(folder, **keys)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project trained for 2 iterations (toynet), copied fresh by each test that uses it."""
    root = tmp_path_factory.mktemp("trained") / "project"
    config = make_project(root)
    assert run("train", "-c", config, "--max_iter", 2, "--validation_every_n", -1) == 0
    return root


@pytest.fixture
def project(trained, tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(trained, copy)
    return copy


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------------ 1, 2: what a model folder may do
def test_a_model_folder_cannot_swap_its_network_in_behind_the_config(project, capsys):
    """The zoo attack: config.ini says toynet, the settings inside the weights name hidden code."""
    (project / "install.json").write_text(json.dumps({"entry_id": "toy"}), encoding="utf-8")
    (project / "model" / "evilnet.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('PWNED').write_text('x')\nEvilNet = None\n",
        encoding="utf-8")
    settings = project / "model" / "settings_train.ini"
    settings.write_text(settings.read_text(encoding="utf-8").replace("name = toynet", "name = model.evilnet.EvilNet"),
                        encoding="utf-8")
    assert run("inference", "-c", project / "config.ini") == 2
    one_error_line(capsys, "toynet", "model.evilnet.EvilNet", "settings_train.ini")
    assert not (project / "model" / "PWNED").exists()
    # Named by the config itself, the downloaded module still needs the user's consent.
    assert run("inference", "-c", project / "config.ini", "--name", "model.evilnet.EvilNet") == 2
    one_error_line(capsys, "--trust-downloaded-code", "model.evilnet.EvilNet", "would import code")
    assert not (project / "model" / "PWNED").exists()


def test_model_files_follow_a_moved_project(tmp_path, capsys):
    """Histogram landmarks are read from the model_dir the model is in now, not where it was trained."""
    old = tmp_path / "old"
    config = make_project(old, count=3)
    text = open(config, encoding="utf-8").read().replace("whitening = True", "whitening = True\nnormalisation = True")
    open(config, "w", encoding="utf-8").write(text)
    assert run("train", "-c", config, "--max_iter", 1, "--validation_every_n", -1) == 0
    new = tmp_path / "moved"
    shutil.move(str(old), str(new))
    assert run("inference", "-c", new / "config.ini") == 0, capsys.readouterr().err
    assert (new / "model" / "output" / "sub00_out.nii.gz").is_file()


# ------------------------------------------------------------------------- 7: inputs are never replaced
def test_inference_never_replaces_an_input(project, capsys):
    image = project / "data" / "sub00_T1.nii.gz"
    before = image.read_bytes()
    assert run("inference", "-c", project / "config.ini", "--save_seg_dir", project / "data",
               "--output_postfix", "_T1") == 2
    one_error_line(capsys, "sub00_T1.nii.gz", "would replace the input")
    assert image.read_bytes() == before


def test_an_output_folder_that_is_a_file(project, capsys):
    (project / "out").write_text("a file", encoding="utf-8")
    assert run("inference", "-c", project / "config.ini", "--save_seg_dir", project / "out") == 2
    one_error_line(capsys, "save_seg_dir", "not a folder")


# ------------------------------------------------------------------ 5, SIGTERM, logs: one writer per model_dir
def test_a_second_training_on_a_busy_model_dir_is_refused_and_sigterm_saves(tmp_path, capsys):
    config = make_project(tmp_path)
    # PYTHONFAULTHANDLER: should the process ever crash (it once died of SIGSEGV on a loaded machine,
    # with nothing on stderr), the failure shows where
    env = {**os.environ, "VOXFLOW_PROGRESS_SECONDS": "0", "PYTHONFAULTHANDLER": "1"}
    first = subprocess.Popen([sys.executable, "-c", CLI, "train", "-c", config, "--max_iter", "100000",
                              "--save_every_n", "100000", "--validation_every_n", "-1"],
                             stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = first.stderr.readline()
            lines.append(line)
            if line.startswith("train: 3/"):
                break
        assert lines[-1].startswith("train: 3/"), "".join(lines)
        assert run("train", "-c", config, "--starting_iter", -1) == 2
        one_error_line(capsys, "model_dir", "in use by another voxflow run", str(first.pid))
        first.send_signal(signal.SIGTERM)  # what a scheduler sends at the end of a job's time
        rest = first.communicate(timeout=120)[1]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 143, "".join(lines[-5:]) + rest
    assert "saved checkpoint of iteration" in rest and rest.rstrip().endswith("net_segment: terminated")
    checkpoints = [n for n in os.listdir(tmp_path / "model" / "models") if n.startswith("ckpt-")]
    assert len(checkpoints) == 1 and int(checkpoints[0][5:]) >= 3
    assert "\r" not in "".join(lines) + rest  # a log file gets plain lines, not redraws
    assert not (tmp_path / "model" / ".voxflow.lock").exists()


def test_a_config_error_leaves_no_model_dir_behind(tmp_path, capsys):
    config = make_project(tmp_path)
    os.remove(tmp_path / "data" / "sub02_seg.nii.gz")
    assert run("train", "-c", config) == 2
    one_error_line(capsys, "sub02")
    assert not (tmp_path / "model").exists()


# --------------------------------------------------------------------- 6: never keep non-finite weights
NAN_GRADIENT_LOSS = textwrap.dedent("""\
    import tensorflow as tf

    def loss(labels, logits, weight=None):
        # finite (0) itself, but its gradient is NaN: the weights after the first update are NaN
        return tf.reduce_mean(tf.sqrt(tf.abs(logits - tf.stop_gradient(logits))))
    """)


def test_non_finite_weights_stop_training_before_any_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.delitem(sys.modules, "vx_nan_loss", raising=False)
    config = make_project(tmp_path)
    (tmp_path / "vx_nan_loss.py").write_text(NAN_GRADIENT_LOSS, encoding="utf-8")
    assert run("train", "-c", config, "--loss_type", "vx_nan_loss.loss", "--save_every_n", 1,
               "--validation_every_n", -1) == 2
    one_error_line(capsys, "iteration 1", "NaN or Inf", "lr")
    models = tmp_path / "model" / "models"
    assert not models.exists() or not [n for n in os.listdir(models) if n.startswith("ckpt")]


# ------------------------------------------------------------ 11: checkpoints, outputs, windows, plugins
def test_a_truncated_checkpoint_is_named(project, capsys):
    data = [p for p in (project / "model" / "models" / "ckpt-2").iterdir() if p.name.startswith("ckpt.data")][0]
    data.write_bytes(data.read_bytes()[:40])
    assert run("inference", "-c", project / "config.ini") == 2
    one_error_line(capsys, "ckpt-2")


@pytest.mark.parametrize("name, content, selector", [
    ("meta.json", "{not json", "latest"),
    ("meta.json", '{"model_variables": 3}', "latest"),
    ("best.json", "[1, 2]", "best"),
    ("best.json", '{"iteration": "two"}', "best"),
])
def test_malformed_checkpoint_records_are_named(project, capsys, name, content, selector):
    folder = project / "model" / "models"
    target = folder / ("ckpt-2" if name == "meta.json" else "") / name
    target.write_text(content, encoding="utf-8")
    assert run("inference", "-c", project / "config.ini", "--inference_iter", selector) == 2
    one_error_line(capsys, name)


def test_a_failed_checkpoint_write_names_it_and_keeps_the_previous(tmp_path, capsys, monkeypatch):
    import tensorflow as tf

    config = make_project(tmp_path)
    real_write = tf.train.Checkpoint.write
    calls = []

    def write(self, prefix, *args, **kwargs):
        calls.append(prefix)
        if len(calls) == 2:
            raise tf.errors.ResourceExhaustedError(None, None, f"{prefix}.data; No space left on device")
        return real_write(self, prefix, *args, **kwargs)

    monkeypatch.setattr(tf.train.Checkpoint, "write", write)
    assert run("train", "-c", config, "--max_iter", 4, "--save_every_n", 2, "--validation_every_n", -1) == 2
    line = one_error_line(capsys, "iteration 4", "No space left on device", "ckpt-2 is kept")
    assert "vxtmp" not in line
    assert sorted(os.listdir(tmp_path / "model" / "models")) == ["ckpt-2"]


def test_a_window_larger_than_memory_is_refused_before_any_work(tmp_path, capsys):
    config = make_project(tmp_path)
    assert run("train", "-c", config, "--spatial_window_size", "60000,60000,60000") == 2
    one_error_line(capsys, "spatial_window_size", "GiB")
    # the margin a spatial augmentation fetches around each window counts too
    with open(config, "a", encoding="utf-8") as handle:
        handle.write("\n[AUGMENTATION]\nrandom_affine = translation=100000\n")
    assert run("train", "-c", config) == 2
    one_error_line(capsys, "augmentation margin", "GiB")


def test_an_inference_window_whose_batch_cannot_fit_is_refused_before_any_output(project, capsys):
    """NiftyNet's DeepMedic config infers 128 windows of 195³ at a time: the process was killed for
    memory after minutes, with no message. The network's largest activation decides it at once."""
    config = project / "config.ini"
    assert run("inference", "-c", config, "--INFERENCE.spatial_window_size", "400,400,400", "--batch_size", 64) == 2
    one_error_line(capsys, "inference window 400×400×400", "batch_size 64", "GiB", "spatial_window_size")
    assert not list(project.rglob("*_niftynet_out.nii.gz"))
    assert run("inference", "-c", config) == 0  # the trained window fits


PLUGIN_NETWORKS = textwrap.dedent("""\
    import keras
    from voxflow.networks.toynet import ToyNet

    def NotAModel(num_classes, spatial_dims, **kwargs):
        return object()

    class WrongShape(ToyNet):
        def call(self, inputs, training=None):
            return super().call(inputs, training=training)[:, ::2]

    class Exploding(ToyNet):
        def __init__(self, *args, **kwargs):
            raise RuntimeError("cannot build me")
    """)


@pytest.mark.parametrize("network, needles", [
    ("vx_bad_nets.NotAModel", ["vx_bad_nets.NotAModel", "keras.Model"]),
    ("vx_bad_nets.WrongShape", ["vx_bad_nets.WrongShape", "logits of shape", "expected"]),
    ("vx_bad_nets.Exploding", ["vx_bad_nets.Exploding", "RuntimeError", "cannot build me"]),
    (".Net", ["'.Net'", "dotted import path"]),
])
def test_a_broken_network_plugin_is_one_line(tmp_path, capsys, monkeypatch, network, needles):
    monkeypatch.delitem(sys.modules, "vx_bad_nets", raising=False)
    config = make_project(tmp_path, count=3)
    (tmp_path / "vx_bad_nets.py").write_text(PLUGIN_NETWORKS, encoding="utf-8")
    assert run("train", "-c", config, "--name", network, "--max_iter", 1) == 2
    one_error_line(capsys, *needles)


def test_a_plugin_that_exits_at_import_does_not_end_the_run_with_success(tmp_path, capsys, monkeypatch):
    monkeypatch.delitem(sys.modules, "vx_exiting", raising=False)
    config = make_project(tmp_path, count=3)
    (tmp_path / "vx_exiting.py").write_text("import sys\nsys.exit(0)\n", encoding="utf-8")
    assert run("train", "-c", config, "--name", "vx_exiting.Net") == 2
    one_error_line(capsys, "vx_exiting", "sys.exit(0)")


# ----------------------------------------------------------------- 12: leftovers of a killed run
def test_leftovers_of_a_killed_run_are_removed_by_the_next_run_of_that_command(project, capsys):
    pid = dead_pid()
    host = temp_prefix("x").split("-")[1]
    models = project / "model" / "models"
    stale_ckpt = models / f".ckpt-4.vxtmp-{host}-{pid}-abc"
    stale_ckpt.mkdir()
    (stale_ckpt / "ckpt.data-00000-of-00001").write_bytes(b"\0" * 1000)
    live = models / f"{temp_prefix('ckpt-9')}live"  # this (live) process's: never touched
    live.mkdir()
    output = project / "model" / "output"
    output.mkdir()
    stale_output = output / f".tmp.vxtmp-{host}-{pid}-xyz"
    stale_output.mkdir()
    assert run("train", "-c", project / "config.ini", "--starting_iter", -1, "--max_iter", 3,
               "--validation_every_n", -1) == 0
    assert not stale_ckpt.exists() and live.exists() and stale_output.exists()
    assert run("inference", "-c", project / "config.ini") == 0
    assert not stale_output.exists()
    assert np.all([not n.startswith(".tmp") for n in os.listdir(output)])
    stale_export = project / f".export.vxtmp-{host}-{pid}-e1"
    (stale_export / "saved_model").mkdir(parents=True)
    assert run("export", "-c", project / "config.ini", "--output", project / "exported") == 0
    assert not stale_export.exists() and (project / "exported" / "saved_model").is_dir()


def test_a_packed_and_downloaded_model_with_normalisation_finds_its_landmarks(tmp_path, capsys):
    from voxflow.zoo import install
    from voxflow.zoo.pack import pack

    config = make_project(tmp_path / "project", count=3)
    text = open(config, encoding="utf-8").read().replace("whitening = True", "whitening = True\nnormalisation = True")
    open(config, "w", encoding="utf-8").write(text)
    assert run("train", "-c", config, "--max_iter", 1, "--validation_every_n", -1) == 0
    pack(config, "normalised", tmp_path / "zoo", checkpoint="latest")
    installed = install("normalised", str(tmp_path / "zoo"), models=tmp_path / "home" / "models", progress=False)
    shutil.rmtree(tmp_path / "project" / "model")  # nothing may be read from the training folder
    assert run("inference", "-c", installed.config, "--path_to_search", tmp_path / "project" / "data",
               "--save_seg_dir", tmp_path / "seg") == 0, capsys.readouterr().err
    assert (tmp_path / "seg" / "sub00_out.nii.gz").is_file()


def test_net_evaluate_names_the_csv_it_cannot_write(tmp_path, capsys):
    import nibabel as nib

    from voxflow.cli.evaluate import run as net_evaluate

    for folder in ("ref", "seg"):
        (tmp_path / folder).mkdir()
        nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.uint8), np.eye(4)), str(tmp_path / folder / "a.nii.gz"))
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    assert net_evaluate(["--ref", str(tmp_path / "ref"), "--seg", str(tmp_path / "seg"), "--metrics", "dice",
                         "--csv", str(tmp_path / "afile" / "eval.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "afile/eval.csv" in err[0] and "vxtmp" not in err[0] and ".tmp" not in err[0], err


def test_a_file_with_other_channels_than_its_section_names_both_files(tmp_path, capsys):
    import nibabel as nib

    config = make_project(tmp_path, count=5)
    path = tmp_path / "data" / "sub03_T1.nii.gz"
    image = nib.load(str(path))
    data = np.asarray(image.dataobj)
    nib.save(nib.Nifti1Image(np.stack([data, data], axis=-1), image.affine), str(path))
    assert run("train", "-c", config) == 2
    one_error_line(capsys, "sub03_T1.nii.gz", "sub00_T1.nii.gz", "channel")


def test_a_network_name_in_another_case_is_the_same_network(project, capsys):
    assert run("inference", "-c", project / "config.ini", "--name", "ToyNet") == 0, capsys.readouterr().err

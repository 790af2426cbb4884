"""The shipped plugin application (configs/plugin_example/my_denoising.py) from its own config."""

import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from voxflow.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def test_denoising_plugin_trains_infers_and_denoises(tmp_path, monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "my_denoising", raising=False)
    example = tmp_path / "plugin_example"
    shutil.copytree(REPO / "configs" / "plugin_example", example, ignore=shutil.ignore_patterns("__pycache__"))
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(24)] * 3, indexing="ij"), -1)
    for i in range(4):  # smooth blobs: structure a denoiser can keep while removing noise
        image = 100.0 * np.exp(-np.sum(((grid - 12 + rng.uniform(-3, 3, 3)) / 6.0) ** 2, axis=-1))
        nib.save(nib.Nifti1Image(image.astype(np.float32), np.eye(4)), str(data / f"s{i}_T1.nii.gz"))
    argv = ["-a", "my_denoising.Denoising", "-c", str(example / "denoising.ini"), "--path_to_search", str(data),
            "--model_dir", str(tmp_path / "model"), "--dataset_split_file", str(tmp_path / "split.csv"),
            "--spatial_window_size", "16,16,16", "--network_args", "base_features=4, depth=2"]
    assert main(["train", *argv, "--max_iter", "60", "--validation_every_n", "60",
                 "--exclude_fraction_for_validation", "0.25"], prog="net_run", application=None) == 0
    out = capsys.readouterr().err
    line = [entry for entry in out.splitlines() if entry.startswith("validation @ 60")][-1]
    values = dict(part.split("=") for part in line.split(": ", 1)[1].split(", "))
    assert float(values["mean_absolute_error"]) < float(values["noisy_mean_absolute_error"])  # it denoises
    assert main(["inference", *argv, "--dataset_to_infer", "all"], prog="net_run", application=None) == 0
    written = sorted((tmp_path / "model" / "output").glob("*_denoised.nii.gz"))  # the application's own postfix
    assert len(written) == 4 and nib.load(str(written[0])).shape == (24, 24, 24)

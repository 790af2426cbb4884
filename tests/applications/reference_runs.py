"""Two seeded tiny CPU runs of segmentation whose every output is recorded in ``reference/``.

Run ``python tests/applications/reference_runs.py`` to record them again (only when an output is
*meant* to change, and say why in the commit). ``test_segmentation_reference.py`` reruns them and
compares: bit for bit on the machine kind they were recorded on (same TensorFlow, NumPy and CPU
flags), to float tolerance elsewhere.

- ``three_d``: image + label + weight + sampler roles, the weighted sampler, spatial and intensity
  augmentation, histogram standardisation, whitening, label normalisation (labels 0/10/64),
  validation, grid inference with a border, evaluation.
- ``two_d``: 2-D windows (16×16×1), the uniform sampler, probabilities written (``output_prob``;
  no evaluation of probabilities).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import sys
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"
sys.path.insert(0, str(HERE.parent / "cli"))

from cli_data import make_subject  # noqa: E402

CONFIGS = {
    "three_d": """\
        [T1]
        path_to_search = data
        filename_contains = T1
        spatial_window_size = 16,16,8
        interp_order = 1
        [label]
        path_to_search = data
        filename_contains = seg
        spatial_window_size = 16,16,8
        interp_order = 0
        [weight]
        path_to_search = data
        filename_contains = wgt
        spatial_window_size = 16,16,8
        [map]
        path_to_search = data
        filename_contains = map
        spatial_window_size = 16,16,8
        [SYSTEM]
        model_dir = model
        seed = 3
        num_threads = 1
        [NETWORK]
        name = unet
        network_args = base_features=4, depth=2
        batch_size = 2
        window_sampling = weighted
        normalisation = True
        whitening = True
        volume_padding_size = 2
        [TRAINING]
        lr = 0.01
        loss_type = DicePlusXEnt
        sample_per_volume = 2
        max_iter = 4
        save_every_n = 2
        validation_every_n = 2
        exclude_fraction_for_validation = 0.2
        random_flipping_axes = 0
        rotation_angle = -10, 10
        [AUGMENTATION]
        random_gamma = log_gamma=0.2
        random_bias_field = coefficients=0.2
        [INFERENCE]
        border = 2,2,1
        output_postfix = _out
        dataset_to_infer = all
        [EVALUATION]
        evaluations = dice,jaccard,hausdorff95,average_distance
        [SEGMENTATION]
        image = T1
        label = label
        weight = weight
        sampler = map
        num_classes = 3
        label_normalisation = True
        """,
    "two_d": """\
        [T1]
        path_to_search = data
        filename_contains = T1
        spatial_window_size = 16,16,1
        [label]
        path_to_search = data
        filename_contains = seg
        spatial_window_size = 16,16,1
        interp_order = 0
        [SYSTEM]
        model_dir = model
        seed = 5
        num_threads = 1
        [NETWORK]
        name = toynet
        batch_size = 4
        whitening = True
        [TRAINING]
        lr = 0.01
        loss_type = Dice
        max_iter = 3
        save_every_n = 3
        [INFERENCE]
        output_postfix = _prob
        dataset_to_infer = all
        [EVALUATION]
        evaluations = dice
        [SEGMENTATION]
        image = T1
        label = label
        num_classes = 3
        output_prob = True
        """,
}


def make_data(folder: Path, label_values: tuple[int, int, int] = (0, 10, 64)) -> None:
    """Five subjects with labels ``label_values``, a weight map and a sampling map each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(5):
        _, label, affine = make_subject(str(folder), f"sub{i:02d}", seed=i)
        values = np.asarray(label_values, np.int16)[label]
        nib.save(nib.Nifti1Image(values, affine), str(folder / f"sub{i:02d}_seg.nii.gz"))
        nib.save(nib.Nifti1Image((label > 0).astype(np.float32) + 0.5, affine), str(folder / f"sub{i:02d}_wgt.nii.gz"))
        nib.save(nib.Nifti1Image((label == 2).astype(np.float32) + 0.2, affine), str(folder / f"sub{i:02d}_map.nii.gz"))


def run(name: str, root: Path) -> dict:
    """Train, infer and evaluate ``name`` in ``root``; returns every output as arrays and text."""
    from voxflow.cli.main import main  # noqa: PLC0415

    make_data(root / "data", (0, 10, 64) if name == "three_d" else (0, 1, 2))
    config = root / "config.ini"
    config.write_text(textwrap.dedent(CONFIGS[name]), encoding="utf-8")
    actions = ("train", "inference", "evaluation") if name == "three_d" else ("train", "inference")
    for action in actions:
        status = main([action, "-c", str(config)], prog="net_segment", application="segmentation")
        assert status == 0, f"{name}: {action} exited {status}"
    return collect(root / "model")


def collect(model_dir: Path) -> dict:
    """Weights of every checkpoint, every inferred image, the evaluation CSV and the state files."""
    import tensorflow as tf  # noqa: PLC0415

    arrays: dict[str, np.ndarray] = {}
    for ckpt in sorted((model_dir / "models").glob("ckpt-*")):
        reader = tf.train.load_checkpoint(str(ckpt / "ckpt"))
        for key in sorted(reader.get_variable_to_shape_map()):
            if key.startswith("model/") and key.endswith("VARIABLE_VALUE"):
                arrays[f"{ckpt.name}/{key}"] = reader.get_tensor(key)
    for path in sorted((model_dir / "output").glob("*.nii.gz")):
        image = nib.load(str(path))
        arrays[f"output/{path.name}"] = np.asarray(image.dataobj)
        arrays[f"output/{path.name}/affine"] = image.affine
    texts = {}
    for name in ("evaluation/evaluation.csv", "evaluation/evaluation_statistics.csv", "label_map.json",
                 "histogram_ref_file.json", "models/best.json", "dataset_split.csv"):
        if (model_dir / name).is_file():
            texts[name] = (model_dir / name).read_text(encoding="utf-8")
    return {"arrays": arrays, "texts": texts}


def fingerprint() -> dict:
    """What decides bit-identity: library versions, the CPU's instruction sets and whether TensorFlow runs
    its oneDNN kernels (voxflow turns them on; TensorFlow alone does so only on some Intel CPUs)."""
    import tensorflow as tf  # noqa: PLC0415
    from tensorflow.python.util import _pywrap_util_port  # noqa: PLC0415

    flags = ""
    if os.path.isfile("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.startswith("flags"):
                wanted = ("avx", "avx2", "avx512f", "avx512_vnni", "avx512_bf16", "fma", "amx_tile")
                flags = " ".join(f for f in line.split(":", 1)[1].split() if f in wanted)
                break
    return {"tensorflow": tf.__version__, "numpy": np.__version__, "machine": platform.machine(), "cpu": flags,
            "onednn": bool(_pywrap_util_port.IsMklEnabled())}


def save(name: str, outputs: dict) -> None:
    folder = REFERENCE / name
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k.replace("/", "|"): v for k, v in outputs["arrays"].items()})
    (folder / "arrays.npz").write_bytes(buffer.getvalue())
    (folder / "texts.json").write_text(json.dumps(outputs["texts"], indent=1, sort_keys=True) + "\n", encoding="utf-8")
    digest = {k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()[:16] for k, v in outputs["arrays"].items()}
    (folder / "fingerprint.json").write_text(json.dumps({**fingerprint(), "arrays": digest}, indent=1) + "\n",
                                             encoding="utf-8")


def load(name: str) -> dict:
    folder = REFERENCE / name
    with np.load(folder / "arrays.npz") as data:
        arrays = {k.replace("|", "/"): data[k] for k in data.files}
    texts = json.loads((folder / "texts.json").read_text(encoding="utf-8"))
    return {"arrays": arrays, "texts": texts, "fingerprint": json.loads((folder / "fingerprint.json").read_text())}


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


if __name__ == "__main__":
    import tempfile

    for run_name in CONFIGS:
        with tempfile.TemporaryDirectory() as tmp:
            save(run_name, run(run_name, Path(tmp)))
            print(f"recorded {run_name} in {REFERENCE / run_name}")

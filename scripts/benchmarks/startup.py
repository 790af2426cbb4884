"""Benchmark: start-up and one brain end to end, as a user meets them (whole processes, CPU).

Cases (one JSON line each, see ``_common``):

* ``import_<module>``: seconds of ``python -c "import <module>"`` for the modules each command loads
  before it reads a file (``voxflow.cli.main``: every ``net_*`` application command before TensorFlow;
  ``voxflow.cli.evaluate`` + ``voxflow.evaluation.evaluator``: ``net_evaluate``; ``tensorflow``, plain and as
  voxflow imports it, without what Keras loads for features voxflow does not use), best of
  ``--repeats``, with the five slowest imports ``python -X importtime`` reports (cumulative, ms);
* ``net_segment_inference_one_brain_1mm``: wall-clock seconds of ``net_segment inference`` of the zoo
  entry ``brain_tissue_unet`` (installed from this checkout's ``model_zoo/`` into a temporary
  ``VOXFLOW_HOME``) on one 1 mm brain (the ICBM 2009a T1, 197×233×189, from the nilearn wheel the
  demos use), start-up included; the target is under 10 s on 2 cores.

Run: ``.venv/bin/python scripts/benchmarks/startup.py [--repeats 3] [--no-brain]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODULES = {
    "voxflow.cli.main": "import voxflow.cli.main",
    "net_evaluate": "import voxflow.cli.evaluate, voxflow.evaluation.evaluator, voxflow.evaluation.files",
    "tensorflow": "import tensorflow",
    "tensorflow_as_voxflow_does": "from voxflow.engine.quiet import import_tensorflow_quietly; import_tensorflow_quietly()",
}


def _seconds(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def slowest_imports(statement: str, count: int = 5) -> dict[str, float]:
    """The ``count`` top-level-most slow imports of ``statement`` (cumulative ms, ``-X importtime``)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True,
                            check=True)
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.split("|"))
        if cumulative.isdigit():
            rows.append((int(cumulative) / 1000.0, name))
    return {name: round(ms, 1) for ms, name in sorted(rows, reverse=True)[:count]}


def one_brain(repeats: int) -> dict:
    """The end-to-end inference case."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import nibabel as nib  # noqa: PLC0415

    import build_demo_data as demo  # noqa: PLC0415 - the demos' template reader

    t1, gm, wm, affine = demo.read_template(demo.fetch_wheel())
    brain = (t1 * demo.brain_mask_from_tissue(gm, wm)).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="voxflow-bench-") as tmp:
        env = {**os.environ, "VOXFLOW_HOME": str(Path(tmp, "home")), "TF_CPP_MIN_LOG_LEVEL": "2"}
        folder = Path(tmp, "in")
        folder.mkdir()
        nib.save(nib.Nifti1Image(brain, affine), folder / "brain_T1.nii.gz")
        subprocess.run([sys.executable, "-m", "voxflow.cli.zoo", "download", "--quiet", "brain_tissue_unet"],
                       env=env, check=True, capture_output=True)
        config = Path(tmp, "home", "models", "brain_tissue_unet", "config.ini")
        command = [sys.executable, "-c", "from voxflow.cli.main import net_segment; net_segment()", "inference",
                   "-c", str(config), "--path_to_search", str(folder), "--save_seg_dir", str(Path(tmp, "out"))]
        best = min(_seconds(command, env) for _ in range(repeats))
    return {"case": "net_segment_inference_one_brain_1mm", "unit": "s", "voxflow": round(best, 2), "peer": None,
            "peer_value": None, "speedup": None, "device": "cpu", "shape": list(brain.shape), "target_s": 10.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-brain", action="store_true", help="skip the one-brain inference case")
    parser.add_argument("--modules", default=",".join(MODULES), help=f"import cases to run (default: {','.join(MODULES)})")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.modules.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(MODULES))
    if unknown:
        parser.error(f"--modules: unknown {', '.join(unknown)}; expected some of {', '.join(MODULES)}")
    for name in chosen:
        statement = MODULES[name]
        best = min(_seconds([sys.executable, "-c", statement]) for _ in range(args.repeats))
        print(json.dumps({"case": f"import_{name}", "unit": "s", "voxflow": round(best, 3), "peer": None,
                          "peer_value": None, "speedup": None, "device": "cpu",
                          "slowest_imports_ms": slowest_imports(statement)}), flush=True)
    if not args.no_brain:
        print(json.dumps(one_brain(args.repeats)), flush=True)


if __name__ == "__main__":
    main()

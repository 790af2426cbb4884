"""net_zoo pack → net_download (file:// and http://) → net_segment inference, with a tiny model."""

import functools
import http.server
import shutil
import tarfile
import threading

import nibabel as nib
import pytest
from zoo_data import make_tiny_data

from voxflow.cli.main import main
from voxflow.zoo import install, installed_problem, verify_zoo
from voxflow.zoo.index import read_index_file, record_file
from voxflow.zoo.pack import pack


def test_pack_writes_entry_with_checksums_and_relative_paths(trained, zoo):
    config, _ = trained
    entry = read_index_file(zoo).entries["tiny"]
    assert set(entry.files) == {"README.md", "config.ini", "weights.tar.gz"}
    for name, record in entry.files.items():
        assert record_file(zoo / "tiny", name) == record
    assert verify_zoo(zoo) == []
    machine_root = str(zoo.parent)
    text = (zoo / "tiny" / "config.ini").read_text(encoding="utf-8")
    assert machine_root not in text and "model_dir = model\n" in text
    assert "dataset_to_infer = all" in text and "inference_iter = 2" in text
    assert "path_to_search =\n" in text
    with tarfile.open(zoo / "tiny" / "weights.tar.gz", encoding="utf-8") as tar:
        names = tar.getnames()
        settings = tar.extractfile("settings_train.ini").read().decode()
    assert "models/ckpt-2/meta.json" in names and "settings_train.ini" in names
    assert machine_root not in settings
    readme = (zoo / "tiny" / "README.md").read_text(encoding="utf-8")
    assert "toynet" in readme and "Checkpoint: iteration 2" in readme


def test_repacking_keeps_readme_edits_and_bumps_version_only_on_change(trained, tmp_path):
    config, _ = trained
    first = pack(config, "tiny", tmp_path, checkpoint="latest")
    readme = tmp_path / "tiny" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("TODO (author): one paragraph", "Blobs, hand-written"),
                      encoding="utf-8")
    second = pack(config, "tiny", tmp_path, checkpoint="latest", force=True)
    assert "Blobs, hand-written" in readme.read_text(encoding="utf-8")
    assert (first.entry.version, second.entry.version) == (1, 2)
    third = pack(config, "tiny", tmp_path, checkpoint="latest", force=True)
    assert third.entry.version == 2 and verify_zoo(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_pack_refuses_to_overwrite_without_force(trained, zoo):
    assert main_zoo(["pack", "-c", trained[0], "--id", "tiny", "--zoo", str(zoo), "--checkpoint", "latest"]) == 2


def main_zoo(argv):
    from voxflow.cli.zoo import net_zoo

    with pytest.raises(SystemExit) as exit_info:
        net_zoo(argv)
    return exit_info.value.code


def _infer(config, data, out):
    return main(["inference", "-c", str(config), "--path_to_search", str(data), "--save_seg_dir", str(out)],
                prog="net_segment", application="segmentation")


def test_download_from_file_url_installs_verified_and_infers(zoo, home, tmp_path):
    result = install("tiny", zoo.as_uri(), progress=False)
    assert result.status == "installed" and result.path == home / "tiny"
    assert installed_problem(result.path) is None
    config_text = result.config.read_text(encoding="utf-8")
    assert f"model_dir = {home / 'tiny' / 'model'}" in config_text
    assert (home / "tiny" / "model" / "models" / "ckpt-2" / "meta.json").is_file()
    assert install("tiny", zoo.as_uri(), progress=False).status == "up to date"
    assert install("tiny", zoo.as_uri(), force=True, progress=False).status == "reinstalled"
    assert sorted(p.name for p in home.iterdir()) == ["tiny"]  # no temporary folder left
    data = make_tiny_data(tmp_path / "new_images", count=2)
    assert _infer(result.config, data, tmp_path / "seg") == 0
    segmentation = nib.load(str(tmp_path / "seg" / "sub01_out.nii.gz"))
    assert segmentation.shape == nib.load(str(data / "sub01_T1.nii.gz")).shape


def test_changed_install_is_downloaded_again(zoo, home):
    result = install("tiny", str(zoo), progress=False)
    (result.path / "config.ini").write_text("[SYSTEM]\n", encoding="utf-8")
    assert installed_problem(result.path) is not None
    assert install("tiny", str(zoo), progress=False).status == "reinstalled"
    assert installed_problem(result.path) is None


@pytest.fixture
def http_zoo(zoo):
    """``zoo`` served by http.server on 127.0.0.1 from a thread; yields the URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(zoo))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_over_http_then_infer(http_zoo, home, tmp_path):
    from voxflow.cli.zoo import net_download

    with pytest.raises(SystemExit) as exit_info:
        net_download(["--zoo-url", http_zoo, "--quiet", "tiny"])
    assert exit_info.value.code == 0
    data = make_tiny_data(tmp_path / "images", count=1)
    assert _infer(home / "tiny" / "config.ini", data, tmp_path / "seg") == 0
    assert (tmp_path / "seg" / "sub00_out.nii.gz").is_file()
    with pytest.raises(SystemExit) as exit_info:
        net_download(["--zoo-url", http_zoo, "nothing_here"])
    assert exit_info.value.code == 2


def test_copy_of_zoo_is_independent(zoo, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(zoo, copy)
    assert verify_zoo(copy) == []


def test_packed_checkpoint_leaves_the_optimiser_state_out_and_infers_alike(trained, zoo, home, tmp_path):
    """Inference and fine-tuning start a fresh optimiser: the entry holds the model variables only (Adam's
    moments are two thirds of a checkpoint), and the installed entry labels images exactly as the
    training folder's checkpoint does."""
    import json
    from pathlib import Path

    import numpy as np

    config, data = trained
    trained_ckpt = Path(config).parent / "model" / "models" / "ckpt-2"
    assert json.loads((trained_ckpt / "meta.json").read_text())["optimizer_variables"] > 0
    with tarfile.open(zoo / "tiny" / "weights.tar.gz", encoding="utf-8") as tar:
        meta = json.load(tar.extractfile("models/ckpt-2/meta.json"))
        packed_size = tar.getmember("models/ckpt-2/ckpt.data-00000-of-00001").size
    assert meta["optimizer_variables"] == 0 and meta["iteration"] == 2
    assert meta["model_variables"] == json.loads((trained_ckpt / "meta.json").read_text())["model_variables"]
    assert packed_size < 0.6 * (trained_ckpt / "ckpt.data-00000-of-00001").stat().st_size
    result = install("tiny", zoo.as_uri(), progress=False)
    assert _infer(result.config, data, tmp_path / "zoo_seg") == 0
    assert _infer(config, data, tmp_path / "own_seg") == 0
    for name in ("sub00_out.nii.gz", "sub01_out.nii.gz"):
        ours, theirs = (np.asarray(nib.load(str(tmp_path / f / name)).dataobj) for f in ("zoo_seg", "own_seg"))
        assert np.array_equal(ours, theirs)


def test_training_resumes_from_a_packed_checkpoint_with_a_fresh_optimiser(trained, zoo, home, tmp_path):
    """The zoo's fine-tuning recipe: copy the entry's checkpoint into a new model_dir and train on from it."""
    config, _ = trained
    result = install("tiny", zoo.as_uri(), progress=False)
    shutil.copytree(result.path / "model" / "models", tmp_path / "finetune" / "models")
    assert main(["train", "-c", config, "--model_dir", str(tmp_path / "finetune"), "--starting_iter", "2",
                 "--max_iter", "3", "--dataset_split_file", str(tmp_path / "finetune" / "split.csv")],
                prog="net_segment", application="segmentation") == 0
    assert (tmp_path / "finetune" / "models" / "ckpt-3" / "meta.json").is_file()

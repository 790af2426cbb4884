"""NiftyNet's histogram file (`standardisation_models.txt`) is read as is and never written.

The file below is written by hand in NiftyNet's format (niftynet/utilities/histogram_standardisation.py
writes `<name> v1 ... vN` per line; niftynet/layer/discrete_label_normalisation.py stores label
mappings as `<role>_<section>-from` / `-to`). voxflow used to read only its own JSON and, finding
another format, learnt landmarks again and wrote its JSON over the user's file.
"""

import json

import nibabel as nib
import numpy as np
import pytest
from pre_helpers import blob_labels, make_cfg, oblique_affine, save, subject

from voxflow.data.preprocessing import Preprocessor, histogram, state
from voxflow.errors import CheckpointError, DataError

AFFINE = oblique_affine(spacing=(1.0, 1.2, 2.0))
SHAPE = (12, 10, 8)
T1 = (0.0, 8.25, 15.5, 19.0, 22.75, 29.5, 37.25, 45.875, 55.0, 60.5, 66.0, 79.75, 100.0)
T2 = (0.0, 3.125, 7.875, 10.5, 13.375, 19.875, 27.5, 36.75, 48.0, 54.625, 61.875, 78.375, 100.0)
NIFTYNET_FILE = (
    "T1 " + " ".join(map(str, T1)) + "\n"
    "T2 " + " ".join(map(str, T2)) + "\n"
    "\n"
    "label_label-from 0.0 10.0 64.0\n"
    "label_label-to 0 1 2\n"
)
ROLES = {"image": ("T1", "T2"), "label": ("label",)}


def _subjects(tmp_path, count=2):
    rng = np.random.default_rng(0)
    subjects = []
    for i in range(count):
        t1 = rng.gamma(2.0 + i, 30.0, SHAPE).astype(np.float32)
        t2 = rng.normal(500.0 * (i + 1), 80.0, SHAPE).astype(np.float32)
        labels = blob_labels(SHAPE, (0, 10, 64))
        subjects.append(subject(f"s{i}", T1=save(tmp_path, f"t1_{i}.nii.gz", t1, AFFINE),
                                T2=save(tmp_path, f"t2_{i}.nii.gz", t2, AFFINE),
                                label=save(tmp_path, f"lab_{i}.nii.gz", labels, AFFINE)))
    return subjects


def _cfg(tmp_path, histogram_file, num_classes=3):
    return make_cfg(tmp_path, {"T1": {}, "T2": {}, "label": {}},
                    network=dict(normalisation=True, histogram_ref_file=str(histogram_file)),
                    app=dict(label_normalisation=True, num_classes=num_classes))


def _niftynet_file(tmp_path, text=NIFTYNET_FILE):
    path = tmp_path / "standardisation_models.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_is_read_with_landmarks_per_modality_and_the_label_mapping(tmp_path):
    content = state.read_histogram_file(str(_niftynet_file(tmp_path)))
    assert content.format == "niftynet" and content.percentiles is None
    assert sorted(content.landmarks) == ["T1", "T2"]
    np.testing.assert_array_equal(content.landmarks["T1"][0], T1)
    np.testing.assert_array_equal(content.landmarks["T2"][0], T2)
    assert content.label_map("label", "label").values == (0, 10, 64)
    assert content.label_map("label", "other") is None


def test_a_niftynet_trained_file_is_used_as_is_and_stays_byte_identical(tmp_path):
    path = _niftynet_file(tmp_path)
    before = path.read_bytes()
    subjects = _subjects(tmp_path)
    cfg = _cfg(tmp_path, path)
    Preprocessor(cfg, ROLES).fit(subjects)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "standardisation" in p.name) == [path.name]
    # the label map came from the file and is kept with the model
    saved = json.loads((tmp_path / "model" / "label_map.json").read_text(encoding="utf-8"))
    assert saved["values"] == [0, 10, 64]
    pre = Preprocessor(cfg, ROLES)
    pre.load_state()
    assert pre.label_map.values == (0, 10, 64) and pre.landmark_files["T2"] == str(path)
    volume = pre.load(subjects[1])
    percentiles = histogram.landmark_percentiles(cfg.network.cutoff)  # NiftyNet's file: the configured cutoff
    for channel, (section, reference) in enumerate((("T1", T1), ("T2", T2))):
        original = np.asarray(nib.load(subjects[1].files[section]).dataobj, np.float32)
        expected = histogram.standardise(original, np.array(reference), percentiles)
        np.testing.assert_allclose(volume.arrays["image"][..., channel], expected, rtol=1e-5, atol=1e-4)
    assert set(np.unique(volume.arrays["label"])) == {0.0, 1.0, 2.0}


def test_missing_modalities_are_learnt_into_voxflows_own_file_beside_it(tmp_path):
    path = _niftynet_file(tmp_path, NIFTYNET_FILE.replace("T2 ", "FLAIR "))
    before = path.read_bytes()
    cfg = _cfg(tmp_path, path)
    Preprocessor(cfg, ROLES).fit(_subjects(tmp_path))
    assert path.read_bytes() == before
    own = tmp_path / "standardisation_models.voxflow.json"
    assert sorted(json.loads(own.read_text(encoding="utf-8"))["landmarks"]) == ["T2"]
    pre = Preprocessor(cfg, ROLES)
    pre.load_state()  # T1 from NiftyNet's file, T2 from voxflow's
    assert pre.landmark_files == {"T1": str(path), "T2": str(own)}
    np.testing.assert_array_equal(pre.landmarks["T1"][0], T1)


def test_a_voxflow_file_that_is_replaced_is_backed_up(tmp_path):
    path = tmp_path / "landmarks.json"
    state.save_landmarks(str(path), histogram.landmark_percentiles((0.01, 0.99)), {"T1": [np.array(T1)]})
    before = path.read_bytes()
    Preprocessor(_cfg(tmp_path, path), ROLES).fit(_subjects(tmp_path))  # T2 is missing: learnt
    assert (tmp_path / "landmarks.json.backup").read_bytes() == before
    content = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(content["landmarks"]) == ["T1", "T2"] and content["landmarks"]["T1"][0] == list(T1)


def test_voxflow_never_writes_over_a_file_in_another_format(tmp_path):
    path = _niftynet_file(tmp_path)
    with pytest.raises(CheckpointError, match="never writes over.*standardisation_models.voxflow.json"):
        state.save_landmarks(str(path), np.zeros(13), {})
    assert path.read_text(encoding="utf-8") == NIFTYNET_FILE


def test_a_niftynet_mapping_can_keep_classes_the_training_labels_lack(tmp_path):
    path = _niftynet_file(tmp_path, NIFTYNET_FILE.replace("-from 0.0 10.0 64.0", "-from 0.0 10.0 64.0 71.0")
                          .replace("-to 0 1 2", "-to 0 1 2 3"))
    pre = Preprocessor(_cfg(tmp_path, path, num_classes=4), ROLES)
    pre.fit(_subjects(tmp_path, 1))
    assert pre.label_map.values == (0, 10, 64, 71)
    with pytest.raises(DataError, match=r"standardisation_models\.txt.*4 distinct values.*num_classes = 3"):
        Preprocessor(_cfg(tmp_path / "other", path, num_classes=3), ROLES).fit(_subjects(tmp_path, 1))


@pytest.mark.parametrize("text, message", [
    ("T1 0.0 1.0 two\n", r"line 1 should be a name followed by numbers"),
    ("T1 0.0 1.0 2.0\n", r"line 1 \(T1\) should hold 13 finite landmarks"),
    ("label_label-from 0 1 2\n", r"`label_label-to` is missing"),
])
def test_malformed_files_name_the_file_and_line(tmp_path, text, message):
    path = _niftynet_file(tmp_path, text)
    with pytest.raises(CheckpointError, match=r"standardisation_models\.txt.*" + message):
        state.read_histogram_file(str(path))


BRATS_MAPPING = "labellabelfrom 0 1 2 4\nlabellabelto 0 1 1 1\n"  # NiftyNet's demos/BRATS17 file, as shipped


def test_the_brats_demos_unhyphenated_merging_mapping_is_a_label_mapping(tmp_path):
    """NiftyNet's BRATS17 demo names its mapping `labellabelfrom` / `labellabelto` and sends the three
    tumour labels to one class; voxflow read the lines as landmarks ("should hold 13 landmarks")."""
    content = state.read_histogram_file(str(_niftynet_file(tmp_path, BRATS_MAPPING)))
    label_map = content.label_map("label", "label")
    assert content.landmarks == {}
    assert label_map.values == (0, 1, 2, 4) and label_map.num_labels == 2 and label_map.merges
    labels = np.array([[0, 1], [2, 4]])
    np.testing.assert_array_equal(label_map.to_indices(labels), [[0, 1], [1, 1]])
    np.testing.assert_array_equal(label_map.to_original(np.array([0, 1, 1])), [0, 1, 1])  # classes written
    # a map that keeps one value per class still writes the original values, in the class order given
    swapped = state.read_histogram_file(str(_niftynet_file(tmp_path, "labellabelfrom 0 7 3\nlabellabelto 0 1 2\n")))
    np.testing.assert_array_equal(swapped.label_map("label", "label").to_original(np.array([0, 1, 2])), [0, 7, 3])


def test_a_merging_map_is_saved_with_its_classes_and_read_back(tmp_path):
    label_map = state.read_histogram_file(str(_niftynet_file(tmp_path, BRATS_MAPPING))).label_map("label", "label")
    path = str(tmp_path / "label_map.json")
    state.save_label_map(path, "label", label_map)
    assert json.load(open(path, encoding="utf-8"))["classes"] == [0, 1, 1, 1]
    assert state.load_label_map(path) == ("label", label_map)


def test_a_landmark_line_whose_name_ends_in_to_stays_a_landmark_line(tmp_path):
    text = "photo " + " ".join(map(str, T1)) + "\n"  # a modality [photo]: no `phofrom` line beside it
    content = state.read_histogram_file(str(_niftynet_file(tmp_path, text)))
    assert list(content.landmarks) == ["photo"] and content.label_mappings == {}


@pytest.mark.parametrize("text, message", [
    ("labellabelfrom 0 1 2\nlabellabelto 0 2 2\n", r"every class 0\.\.K-1"),
    ("labellabelfrom 0 1 1\nlabellabelto 0 1 1\n", r"distinct integer label values"),
])
def test_a_mapping_that_skips_a_class_or_repeats_a_value_is_refused(tmp_path, text, message):
    content = state.read_histogram_file(str(_niftynet_file(tmp_path, text)))
    with pytest.raises(CheckpointError, match=message):
        content.label_map("label", "label")

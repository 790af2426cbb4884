"""Post-processing of label maps (nnU-Net's connected-component steps, islands, holes) and its choice."""

import json

import numpy as np
import pytest

from voxflow.data import postprocessing as pp
from voxflow.errors import DataError

SPACING = (1.0, 1.0, 1.0)


def _blob(shape=(20, 20, 20)):
    labels = np.zeros(shape, dtype=np.int16)
    labels[2:10, 2:10, 2:10] = 1  # big: 512 voxels
    labels[15:17, 15:17, 15:17] = 1  # island: 8 voxels
    return labels


def test_largest_component_removes_an_island_and_keeps_the_big_blob():
    labels = _blob()
    for out in (pp.largest_component_foreground(labels), pp.largest_component_per_class(labels)):
        assert (out[15:17, 15:17, 15:17] == 0).all()
        assert (out[2:10, 2:10, 2:10] == 1).all()
        assert (out == 1).sum() == 512


def test_connectivity_decides_whether_diagonal_voxels_touch():
    labels = np.zeros((6, 6, 6), dtype=np.int16)
    labels[1:3, 1:3, 1:3] = 1
    labels[3, 3, 3] = 1  # touches the cube only by a corner
    assert pp.largest_component_foreground(labels, connectivity=1)[3, 3, 3] == 0
    assert pp.largest_component_foreground(labels, connectivity=3)[3, 3, 3] == 1
    with pytest.raises(ValueError, match="connectivity"):
        pp.largest_component_foreground(labels, connectivity=4)


def test_per_class_keeps_each_class_largest_and_foreground_keeps_touching_classes_together():
    labels = np.zeros((20, 20, 20), dtype=np.int16)
    labels[2:8, 2:8, 2:8] = 1  # 216 voxels of class 1 ...
    labels[8:12, 2:8, 2:8] = 2  # ... touching 144 voxels of class 2: one 360-voxel foreground component
    labels[14:19, 14:19, 14:19] = 2  # separate class-2 blob of 125 voxels
    labels[0, 19, 19] = 1  # class-1 island
    per_class = pp.largest_component_per_class(labels)
    assert (per_class == 1).sum() == 216 and per_class[0, 19, 19] == 0
    assert (per_class == 2).sum() == 144 and (per_class[14:19, 14:19, 14:19] == 0).all()
    foreground = pp.largest_component_foreground(labels)
    assert (foreground == 1).sum() == 216 and (foreground == 2).sum() == 144  # both classes kept together
    only_two = pp.largest_component_per_class(labels, classes=[2])
    assert only_two[0, 19, 19] == 1  # class 1 untouched


def test_remove_islands_respects_spacing():
    labels = _blob()  # island of 8 voxels, blob of 512
    kept = pp.remove_islands(labels, min_volume_mm3=50.0, spacing=(2.0, 2.0, 2.0))  # island 64 mm3
    removed = pp.remove_islands(labels, min_volume_mm3=50.0, spacing=(1.0, 1.0, 1.0))  # island 8 mm3
    assert (kept == labels).all()
    assert (removed[15:17, 15:17, 15:17] == 0).all() and (removed == 1).sum() == 512
    with pytest.raises(ValueError, match="spacing"):
        pp.remove_islands(labels, 1.0, spacing=(1.0, 1.0))


def test_fill_holes_fills_enclosed_cavity_only_and_never_overwrites_another_class():
    labels = np.zeros((12, 12, 12), dtype=np.int16)
    labels[1:6, 1:6, 1:6] = 1
    labels[3, 3, 3] = 0  # enclosed cavity
    labels[2, 2, 2] = 2  # another class inside the shell
    labels[6:11, 6:11, 6:11] = 1
    labels[8, 8, 8:11] = 0  # tunnel open to the outside
    out = pp.fill_holes(labels)
    assert out[3, 3, 3] == 1
    assert out[2, 2, 2] == 2 and pp.fill_holes(labels, classes=[1])[2, 2, 2] == 2
    assert (out[8, 8, 8:11] == 0).all()
    assert np.argwhere(out != labels).tolist() == [[3, 3, 3]]


def test_fill_holes_gives_a_nested_cavity_to_the_innermost_class():
    labels = np.zeros((11, 11), dtype=np.int16)
    labels[1:10, 1:10] = 2
    labels[3:8, 3:8] = 1
    labels[5, 5] = 0  # enclosed by class 1, which is enclosed by class 2
    assert pp.fill_holes(labels)[5, 5] == 1


def test_apply_runs_steps_in_order_and_rejects_unknown_steps_before_any_work():
    labels = np.zeros((10, 10), dtype=np.int16)
    labels[1:4, 1:4] = 1
    labels[6:9, 6:9] = 1
    labels[7, 7] = 0  # the second square has a hole, so fill first makes it the largest
    fill_first = pp.apply(labels, ["fill_holes", "largest_component_foreground"], spacing=(1.0, 1.0))
    largest_first = pp.apply(labels, ["largest_component_foreground", "fill_holes"], spacing=(1.0, 1.0))
    # 9 vs 8 voxels before filling: largest-first keeps the full square; fill-first ties 9 vs 9 and keeps both
    assert (largest_first == 1).sum() == 9 and largest_first[7, 7] == 0
    assert (fill_first == 1).sum() == 18
    with pytest.raises(ValueError, match="'fill_hole'.*largest_component_foreground.*fill_holes"):
        pp.apply(labels, ["largest_component_foreground", "fill_hole"], spacing=(1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        pp.apply(labels, ["remove_islands"])


def test_no_step_modifies_its_input():
    labels = _blob()
    labels[5, 5, 5] = 0
    copy = labels.copy()
    pp.apply(labels, list(pp.STEPS), spacing=SPACING, min_island_mm3=100.0)
    pp.largest_component_per_class(labels)
    pp.remove_islands(labels, 100.0, SPACING)
    pp.fill_holes(labels)
    assert (labels == copy).all()


def test_dice_convention():
    empty = np.zeros(4, dtype=bool)
    assert pp.dice(empty, empty) == 1.0
    assert pp.dice(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool)) == pytest.approx(2 / 3)


def _case(with_island_in_prediction, second_true_component):
    ref = np.zeros((20, 20, 20), dtype=np.int16)
    ref[2:10, 2:10, 2:10] = 1
    if second_true_component:
        ref[14:18, 14:18, 14:18] = 1
    pred = ref.copy()
    if with_island_in_prediction:
        pred[0:2, 16:19, 0:2] = 1
    return pred, ref, SPACING


def test_choose_keeps_largest_component_when_predictions_have_spurious_islands():
    cases = [_case(True, False), _case(True, False)]
    choice = pp.choose(cases, num_classes=2)
    assert choice.steps == ("largest_component_foreground",)
    assert choice.dice_after > choice.dice_before
    assert choice.dice_after == pytest.approx(1.0)
    # the per-class step, tried on top of the foreground step, changes nothing, so is not kept
    assert choice.per_step["largest_component_per_class"] == (pytest.approx(1.0), pytest.approx(1.0))
    gain = choice.dice_after - choice.dice_before
    assert pp.choose(cases, num_classes=2, tolerance=gain * 2).steps == ()  # a gain within tolerance is refused


def test_choose_refuses_largest_component_when_it_would_delete_true_structure():
    cases = [_case(False, True), _case(False, True)]
    choice = pp.choose(cases, num_classes=2)
    assert choice.steps == ()
    assert choice.dice_before == choice.dice_after == pytest.approx(1.0)
    before, after = choice.per_step["largest_component_foreground"]
    assert after < before


def test_choose_refuses_a_step_that_hurts_one_class_even_if_the_mean_rises():
    # class 1: a spurious island that the step removes; class 2: two true parts, the small one would go
    ref = np.zeros((30, 30, 30), dtype=np.int16)
    ref[2:12, 2:12, 2:12] = 1
    ref[15:25, 15:25, 15:25] = 2
    ref[27:29, 0:2, 0:2] = 2
    pred = ref.copy()
    pred[0:3, 20:29, 0:3] = 1  # 81-voxel false positive of class 1
    choice = pp.choose([(pred, ref, SPACING)], num_classes=3, candidates=["largest_component_per_class"])
    before, after = choice.per_step["largest_component_per_class"]
    assert after > before and choice.steps == ()


def test_choice_json_round_trip(tmp_path):
    choice = pp.choose([_case(True, False)], num_classes=2)
    path = str(tmp_path / "model" / "postprocessing.json")
    pp.save_choice(choice, path)
    assert pp.load_choice(path) == choice
    assert json.loads(open(path, encoding="utf-8").read())["steps"] == ["largest_component_foreground"]
    assert pp.PostprocessingChoice.from_json(choice.to_json()) == choice


@pytest.mark.parametrize("text, problem", [
    ("{not json", "Expecting property name"),
    ('["a list"]', "JSON object"),
    ('{"steps": ["largest_component"], "dice_before": 0.5, "dice_after": 0.6, "per_step": {}}',
     "Unknown postprocessing step 'largest_component'"),
    ('{"steps": [], "dice_before": "high", "dice_after": 0.6, "per_step": {}}', "'dice_before' must be a number"),
    ('{"steps": []}', "missing key"),
])
def test_malformed_choice_file_is_a_one_line_data_error(tmp_path, text, problem):
    path = tmp_path / "postprocessing.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        pp.load_choice(str(path))
    message = str(info.value)
    assert str(path) in message and problem in message and "\n" not in message


def test_missing_choice_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="Cannot read postprocessing file .*missing.json"):
        pp.load_choice(str(tmp_path / "missing.json"))

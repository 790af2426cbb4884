"""The data fingerprint, the nnU-Net-style planner and the rendering of its recipe (voxflow.planning)."""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from voxflow.errors import ConfigError, DataError
from voxflow.planning import (
    Case,
    ChannelStats,
    Fingerprint,
    cases_from_config,
    compute_fingerprint,
    estimate_memory,
    load_fingerprint,
    plan,
    planned_keys,
    pool_sizes,
    render_config,
    render_table,
    save_fingerprint,
)
from voxflow.planning.fingerprint import left_right_axis
from voxflow.planning.planner import (
    CPU_MIN_ITER,
    CPU_TRAIN_SECONDS,
    CPU_VOXELS_PER_CORE,
    CPU_VOXELS_PER_SECOND_PER_CORE,
    GIB,
    GPU_RESERVE_GB,
)

PLATFORM = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "platform")
CT_Z_SPACINGS = (3.0, 3.5, 4.0, 4.0, 4.5, 5.0)


def _write(path, data, spacing):
    nib.save(nib.Nifti1Image(data, np.diag([*spacing, 1.0])), str(path))
    return str(path)


def _ct_cases(folder, shape=(40, 40, 12)):
    """Anisotropic CT-like cases: air at -1000 HU, a body, a foreground box of -200..1500 HU."""
    rng = np.random.default_rng(0)
    cases, foreground = [], []
    for i, z in enumerate(CT_Z_SPACINGS):
        image = np.full(shape, -1000, np.int16)
        image[5:35, 5:35, :] = rng.integers(-100, 100, (30, 30, shape[2]))
        label = np.zeros(shape, np.uint8)
        label[10 + i:20 + i, 12:22, 3:7] = 1
        image[label > 0] = rng.integers(-200, 1500, int(label.sum()))
        foreground.append(image[label > 0].astype(np.float64))
        cases.append(Case(f"ct{i}", [_write(folder / f"ct{i}_ct.nii.gz", image, (0.8, 0.8, z))],
                          _write(folder / f"ct{i}_seg.nii.gz", label, (0.8, 0.8, z))))
    return cases, np.concatenate(foreground)


def _mr_cases(folder, masked=False, labels=(1,)):
    """Isotropic MR-like cases: non-negative float intensities, whole image non-zero unless ``masked``."""
    rng = np.random.default_rng(1)
    cases = []
    for i in range(6):
        image = rng.uniform(100, 400, (40, 40, 40)).astype(np.float32)
        if masked:
            image[:, :, :] = 0
            image[12:28, 12:28, 12:28] = rng.uniform(100, 400, (16, 16, 16))
        label = np.zeros((40, 40, 40), np.uint8)
        for n, value in enumerate(labels):
            label[14 + 4 * n:18 + 4 * n, 15:25, 15:25] = value
        cases.append(Case(f"mr{i}", [_write(folder / f"mr{i}_t1.nii.gz", image, (1.0, 1.0, 1.0))],
                          _write(folder / f"mr{i}_seg.nii.gz", label, (1.0, 1.0, 1.0))))
    return cases


@pytest.fixture(scope="module")
def ct(tmp_path_factory):
    cases, foreground = _ct_cases(tmp_path_factory.mktemp("ct"))
    return compute_fingerprint(cases, image_sections=["CT"], label_section="seg"), foreground


@pytest.fixture(scope="module")
def mr(tmp_path_factory):
    return compute_fingerprint(_mr_cases(tmp_path_factory.mktemp("mr")), image_sections=["T1"], label_section="seg")


def _synthetic(shape, spacing, cases=10, channels=1):
    """A fingerprint of large images without files (for the window and batch rules)."""
    stats = ChannelStats("T1", 200.0, 50.0, 0.0, 400.0, 200.0, 10.0, 390.0, 200.0, 48.0, False, "test")
    return Fingerprint([f"s{i}" for i in range(cases)], [list(spacing)] * cases, [list(shape)] * cases,
                       [[10, 10, 10]] * cases, [1.0] * cases, [stats] * channels, {0: 10**6, 1: 10**4, 2: 10**3})


def test_ct_fingerprint_statistics_and_detection(ct):
    fp, foreground = ct
    assert fp.num_cases == 6 and fp.shapes[0] == [40, 40, 12]
    assert np.allclose(fp.spacings[2], [0.8, 0.8, 4.0])
    channel = fp.channels[0]
    assert channel.section == "CT" and channel.ct_like, channel.ct_reason
    span = foreground.max() - foreground.min()
    assert abs(channel.p00_5 - np.percentile(foreground, 0.5)) < 0.02 * span
    assert abs(channel.p99_5 - np.percentile(foreground, 99.5)) < 0.02 * span
    assert abs(channel.mean - foreground.mean()) < 0.02 * span
    assert abs(channel.std - foreground.std()) < 0.02 * span
    clipped = np.clip(foreground, channel.p00_5, channel.p99_5)
    assert abs(channel.clipped_mean - clipped.mean()) < 0.02 * span
    assert channel.clipped_std < channel.std  # the tails beyond the percentiles were clipped
    assert fp.class_voxels == {0: 6 * 40 * 40 * 12 - 6 * 400, 1: 6 * 400}
    assert fp.foreground_boxes[0] == [10, 10, 4]


def test_fingerprint_is_reproducible(tmp_path):
    cases, _ = _ct_cases(tmp_path)
    first, second = compute_fingerprint(cases[:3]), compute_fingerprint(cases[:3])
    assert first == second
    other = compute_fingerprint(cases[:3], seed=7)
    assert other.channels[0].mean != first.channels[0].mean


def test_anisotropic_ct_plan(ct):
    fp, _ = ct
    recipe = plan(fp, device="cpu")
    assert recipe.target_spacing[:2] == pytest.approx((0.8, 0.8))
    assert recipe.target_spacing[2] == pytest.approx(np.percentile(CT_Z_SPACINGS, 10))  # not the median 4.0
    assert recipe.pool_sizes[0] == (2, 2, 1)
    assert recipe.pool_sizes[-1] == (2, 2, 2)
    norm = recipe.channels[0]
    assert norm.ct_like
    assert norm.clip == (fp.channels[0].p00_5, fp.channels[0].p99_5)
    assert norm.whitening == (fp.channels[0].clipped_mean, fp.channels[0].clipped_std)
    keys = {k.key: k.value for k in recipe.keys}
    assert keys["whitening"] is False and keys["num_classes"] == 2


def test_isotropic_mr_plan_uses_zscore_and_equal_pooling(mr):
    assert not mr.channels[0].ct_like
    recipe = plan(mr, device="cpu")
    assert recipe.target_spacing == pytest.approx((1.0, 1.0, 1.0))
    assert all(level == (2, 2, 2) for level in recipe.pool_sizes)
    assert recipe.channels[0].clip is None
    keys = {k.key: k.value for k in recipe.keys}
    assert keys["whitening"] is True and keys["normalise_foreground_only"] is False
    # A CPU plan mirrors the left-right axis only (world x of the affines: axis 0 here), in training and at
    # test time, with batch norm, one output and no rotation/zoom; a GPU plan is nnU-Net's.
    assert keys["random_flipping_axes"] == keys["tta_mirror_axes"] == (0,)
    assert keys["rotation_angle"] is None and keys["random_affine"] is None
    assert "norm=batch" in keys["network_args"] and "deep_supervision=False" in keys["network_args"]
    gpu = {k.key: k.value for k in plan(mr, device="gpu").keys}
    assert gpu["random_affine"] == "degrees=(-15, 15, -15, 15, -15, 15), scales=(0.85, 1.25), p=0.2"
    assert gpu["random_flipping_axes"] == gpu["tta_mirror_axes"] == (0, 1, 2)
    assert "norm=instance" in gpu["network_args"] and "deep_supervision=True" in gpu["network_args"]


@pytest.mark.parametrize("columns, expected", [
    (np.diag([2.0, 2.0, 2.0]), 0),
    (np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 2),  # sagittal slices: x along axis 2
    (np.array([[0.3, 0.0, 0.95], [0.95, 0.0, -0.3], [0.0, 2.0, 0.0]]), 2),  # oblique, y scaled by 2 mm
])
def test_the_left_right_axis_is_the_array_axis_closest_to_world_x(columns, expected):
    affine = np.eye(4)
    affine[:3, :3] = columns
    assert left_right_axis(affine) == expected


def test_a_cpu_plan_mirrors_the_recorded_left_right_axis_and_none_outside_2d_slices():
    fp = dataclasses.replace(_synthetic((64, 64, 64), (1.0, 1.0, 1.0)), left_right_axes=[2, 2, 1])
    assert {k.key: k.value for k in plan(fp, device="cpu").keys}["random_flipping_axes"] == (2,)
    flat = {k.key: k.value for k in plan(fp, device="cpu", spatial_dims=2).keys}
    assert flat["random_flipping_axes"] is None and flat["tta_mirror_axes"] is None


def test_masked_mr_normalises_inside_the_non_zero_mask(tmp_path):
    fp = compute_fingerprint(_mr_cases(tmp_path, masked=True))
    keys = {k.key: k.value for k in plan(fp).keys}
    assert keys["normalise_foreground_only"] is True and keys["foreground_type"] == "threshold_plus"


def test_ct_detection_can_be_overridden(tmp_path):
    cases = _mr_cases(tmp_path)[:2]
    assert compute_fingerprint(cases, ct_channels=[True]).channels[0].ct_like
    with pytest.raises(DataError, match="ct_channels"):
        compute_fingerprint(cases, ct_channels=[True, False])


def test_non_contiguous_labels_plan_label_normalisation(tmp_path):
    fp = compute_fingerprint(_mr_cases(tmp_path, labels=(2, 5))[:2])
    assert fp.label_values == [0, 2, 5] and fp.num_classes == 3
    keys = {k.key: k.value for k in plan(fp).keys}
    assert keys["label_normalisation"] is True


@pytest.mark.parametrize("device, memory", [("gpu", 8.0), ("gpu", 3.0), ("cpu", None)])
def test_window_fits_the_budget_and_the_pooling(device, memory):
    fp = _synthetic((512, 512, 300), (0.7, 0.7, 1.0))
    recipe = plan(fp, device=device, memory_gb=memory)
    window = recipe.window
    for axis in range(3):
        assert window[axis] % int(np.prod([p[axis] for p in recipe.pool_sizes])) == 0
    used = estimate_memory(window, recipe.batch_size, recipe.pool_sizes, recipe.base_features, recipe.max_features,
                           1, fp.num_classes)
    assert used == pytest.approx(recipe.memory_bytes) and used <= recipe.budget_bytes
    assert window[0] < 512  # the budget, not the image, limits the window
    assert recipe.batch_size >= 2 and not recipe.notes
    if device == "gpu":
        assert recipe.budget_bytes == pytest.approx((memory - GPU_RESERVE_GB) * GIB)
    else:
        assert recipe.batch_size * np.prod(window) <= 2 * CPU_VOXELS_PER_CORE


def test_more_gpu_memory_gives_a_window_and_batch_at_least_as_large():
    fp = _synthetic((512, 512, 300), (0.7, 0.7, 1.0))
    small, large = plan(fp, device="gpu", memory_gb=8), plan(fp, device="gpu", memory_gb=40)
    assert all(a >= b for a, b in zip(large.window, small.window))
    assert np.prod(large.window) * large.batch_size > np.prod(small.window) * small.batch_size


def test_batch_grows_but_stays_within_five_percent_of_the_dataset():
    many = plan(_synthetic((64, 64, 64), (1.0, 1.0, 1.0), cases=400), device="gpu", memory_gb=80)
    few = plan(_synthetic((64, 64, 64), (1.0, 1.0, 1.0), cases=10), device="gpu", memory_gb=80)
    assert few.batch_size == 2
    assert many.batch_size > 2
    assert many.batch_size * np.prod(many.window) <= 0.05 * 64**3 * 400


def test_thin_windows_rotate_in_plane_only():
    recipe = plan(_synthetic((512, 512, 60), (0.8, 0.8, 5.0)), device="gpu")
    assert max(recipe.window) > 3 * recipe.window[2]
    keys = {k.key: k.value for k in recipe.keys}
    assert keys["rotation_angle"] is None
    assert keys["random_affine"].startswith("degrees=(0, 0, 0, 0, -15, 15),")  # about the coarse axis only


def test_two_dimensional_plan(mr):
    recipe = plan(mr, device="gpu", spatial_dims=2)
    assert recipe.window[2] == 1 and all(len(level) == 2 for level in recipe.pool_sizes)
    assert recipe.max_features == 512
    keys = {k.key: k.value for k in recipe.keys}
    assert keys["random_flipping_axes"] == (0, 1)
    with pytest.raises(ConfigError, match="spatial_dims"):
        plan(mr, spatial_dims=4)


def test_pooling_rule():
    assert pool_sizes((0.8, 0.8, 4.0), (160, 160, 32))[:2] == ((2, 2, 1), (2, 2, 1))
    assert pool_sizes((1.0, 1.0, 1.0), (64, 64, 64)) == ((2, 2, 2),) * 4  # stops at a 4-voxel edge
    assert pool_sizes((1.0, 1.0, 1.0), (64, 64, 1), spatial_dims=2) == ((2, 2),) * 4


def test_plan_errors(mr):
    with pytest.raises(ConfigError, match="device"):
        plan(mr, device="tpu")
    with pytest.raises(ConfigError, match="memory_gb"):
        plan(mr, device="gpu", memory_gb=0.5)
    with pytest.raises(DataError, match="too small"):
        plan(_synthetic((6, 6, 6), (1.0, 1.0, 1.0)))


def test_rendered_ini_parses_and_holds_every_planned_key(ct):
    fp, _ = ct
    recipe = plan(fp, device="gpu")
    sections = {"image": ["CT"], "label": ["seg"]}
    text = render_config(recipe, fp, image_sections=sections)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    expected = planned_keys(recipe, fp, sections)
    assert {k.key for k in expected} >= {"pixdim", "spatial_window_size", "intensity_clip", "fixed_whitening",
                                         "network_args", "optimiser", "num_classes", "foreground_oversampling"}
    for key in expected:
        if key.value is None:
            assert not parser.has_option(key.section, key.key), key
        else:
            assert parser.has_option(key.section, key.key), key
    assert parser["seg"]["interp_order"] == "0" and parser["CT"]["interp_order"] == "1"
    low, high = (float(v) for v in parser["CT"]["intensity_clip"].split(","))
    assert low == pytest.approx(fp.channels[0].p00_5, abs=1e-3) and high == pytest.approx(fp.channels[0].p99_5, abs=1e-3)
    assert "pool_sizes=((2, 2, 1), (2, 2, 1), (2, 2, 2))" in parser["NETWORK"]["network_args"]
    assert parser["SEGMENTATION"]["image"] == "CT" and parser["SEGMENTATION"]["num_classes"] == "2"
    lines = text.splitlines()
    assert lines[lines.index("optimiser = sgd_nesterov") - 1].startswith("# voxflow plan:")


USER_CONFIG = """\
# my liver experiment
[CT]
path_to_search = ./data
filename_contains = _ct
spatial_window_size = 96, 96,
    96
; window from last year

[seg]
path_to_search = ./data
filename_contains = _seg

[NETWORK]
# a heavier net
name = highres3dnet
queue_length = 20

[TRAINING]
lr = 0.1
rotation_angle = -10, 10

[INFERENCE]
border = 4
"""


def test_rendering_into_a_user_config_keeps_its_comments_and_keys(ct):
    fp, _ = ct
    recipe = plan(fp, device="cpu")
    text = render_config(recipe, fp, image_sections={"image": ["CT"], "label": ["seg"]}, base_text=USER_CONFIG)
    for line in ("# my liver experiment", "; window from last year", "# a heavier net", "queue_length = 20",
                 "filename_contains = _ct", "[INFERENCE]", "border = 4"):
        assert line in text.splitlines()
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert parser["NETWORK"]["name"] == "unet" and parser["TRAINING"]["lr"] == "0.003"
    assert parser["CT"]["spatial_window_size"] == ", ".join(str(v) for v in recipe.window)
    assert text.count("spatial_window_size") == 2  # CT's replaced (continuation line too), seg's added
    assert parser["INFERENCE"]["border"] == "4"
    again = render_config(recipe, fp, image_sections={"image": ["CT"], "label": ["seg"]}, base_text=text)
    assert again == text


def test_a_key_the_plan_leaves_unset_is_commented_out(ct):
    fp, _ = ct
    recipe = plan(fp)
    keys = [dataclasses.replace(k, value=None) if k.key == "rotation_angle" else k for k in recipe.keys]
    recipe = dataclasses.replace(recipe, keys=keys)
    text = render_config(recipe, fp, image_sections={"image": ["CT"], "label": ["seg"]}, base_text=USER_CONFIG)
    assert "# rotation_angle = -10, 10" in text.splitlines()
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert not parser.has_option("TRAINING", "rotation_angle")


def test_invalid_user_config_is_a_config_error(ct):
    fp, _ = ct
    with pytest.raises(ConfigError, match="not a valid INI"):
        render_config(plan(fp), fp, image_sections={"image": ["CT"]}, base_text="[A]\nx = 1\nx = 2\n")


def test_table_lists_the_fingerprint_and_every_planned_value(ct):
    fp, _ = ct
    recipe = plan(fp)
    table = render_table(recipe, fp)
    assert "CT" in table and "cases" in table
    for item, value, _ in recipe.rows():
        assert item in table and value in table


def test_fingerprint_json_round_trip(ct, tmp_path):
    fp, _ = ct
    path = tmp_path / "out" / "fingerprint.json"
    save_fingerprint(fp, path)
    assert load_fingerprint(path) == fp
    assert Fingerprint.from_json(fp.to_json()).class_voxels == fp.class_voxels
    path.write_text('{"version": 99}')
    with pytest.raises(DataError, match="fingerprint"):
        load_fingerprint(path)


def test_plan_to_json_and_no_tensorflow(mr):
    data = json.loads(plan(mr).to_json())
    assert data["pool_sizes"] and data["keys"]
    code = "import sys, voxflow.planning; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": PLATFORM}).returncode == 0


def test_cases_from_config(tmp_path):
    from types import SimpleNamespace

    data = tmp_path / "data"
    data.mkdir()
    _mr_cases(data)
    section = dict(filename_not_contains=(), filename_removefromid="", csv_file="", csv_data_file="",
                   path_to_search=(str(data),))
    cfg = SimpleNamespace(inputs={"T1": SimpleNamespace(filename_contains=("_t1",), **section),
                                  "seg": SimpleNamespace(filename_contains=("_seg",), **section)},
                          system=SimpleNamespace(dataset_split_file=str(tmp_path / "split.csv")))
    cases = cases_from_config(cfg, ["T1"], "seg")
    assert [c.subject_id for c in cases] == [f"mr{i}" for i in range(6)]
    (tmp_path / "split.csv").write_text("".join(f"mr{i},{'training' if i < 4 else 'validation'}\n" for i in range(6)))
    assert [c.subject_id for c in cases_from_config(cfg, ["T1"], "seg")] == ["mr0", "mr1", "mr2", "mr3"]
    (data / "mr0_seg.nii.gz").rename(data / "mr9_seg.nii.gz")
    with pytest.raises(DataError, match="no file in \\[T1\\]"):
        cases_from_config(cfg, ["T1"], "seg")


def test_a_gpu_plan_trains_with_nnunets_sgd_and_a_cpu_plan_with_adam(tmp_path):
    fp = _synthetic((64, 64, 64), (1.0, 1.0, 1.0))
    gpu = {k.key: k.value for k in plan(fp, device="gpu").keys}
    cpu = {k.key: k.value for k in plan(fp, device="cpu").keys}
    assert (gpu["optimiser"], gpu["lr"], gpu["max_iter"]) == ("sgd_nesterov", 0.01, 250_000)
    assert (cpu["optimiser"], cpu["lr"]) == ("adam", 0.003)
    assert gpu["lr_schedule"] == cpu["lr_schedule"] == "poly"
    assert gpu["random_flipping_axes"] == gpu["tta_mirror_axes"] == (0, 1, 2)


@pytest.mark.parametrize("cores", [1, 2, 8])
def test_a_cpu_plan_trains_as_many_iterations_as_its_time_budget_allows(cores):
    recipe = plan(_synthetic((96, 96, 96), (1.0, 1.0, 1.0)), device="cpu", cpu_cores=cores)
    keys = {k.key: k.value for k in recipe.keys}
    seconds = recipe.batch_size * np.prod(recipe.window) / (CPU_VOXELS_PER_SECOND_PER_CORE * cores)
    steps = keys["max_iter"]
    assert steps % 50 == 0 and steps >= CPU_MIN_ITER
    assert steps * seconds <= CPU_TRAIN_SECONDS < (steps + 50) * seconds
    assert keys["validation_every_n"] == keys["save_every_n"] == steps // 4

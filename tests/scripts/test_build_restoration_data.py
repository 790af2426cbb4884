"""The restoration demo's degradation and report, offline (no package is fetched)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from script_loader import load_script

builder = load_script("build_restoration_data")
report = load_script("restoration_report")


def test_thick_slices_average_each_slab_and_interpolate_through_the_slab_centres():
    rng = np.random.default_rng(0)
    volume = rng.random((3, 4, 20)).astype(np.float32)
    thick = builder.thick_slices(volume, 5)
    slabs = volume.reshape(3, 4, 4, 5).mean(axis=3)
    np.testing.assert_allclose(thick[:, :, 2::5], slabs, rtol=1e-5)  # the spline passes through the slabs
    # a ramp along the slices is kept exactly between the first and last slab centre (box average of a
    # line = the line at the centre), and held constant beyond them
    ramp = np.broadcast_to(np.arange(20, dtype=np.float32), (2, 2, 20)).copy()
    out = builder.thick_slices(ramp, 5)
    np.testing.assert_allclose(out[0, 0, 2:18], np.arange(2, 18), atol=1e-4)
    assert out[0, 0, 0] == pytest.approx(2.0) and out[0, 0, 19] == pytest.approx(17.0)
    with pytest.raises(ValueError, match="multiple of the slab thickness 5"):
        builder.thick_slices(volume[..., :19], 5)


def test_a_crop_keeps_world_positions_and_grows_the_slices_to_whole_slabs():
    image = np.zeros((30, 30, 30), np.float32)
    image[10:20, 8:22, 5:18] = 1.0
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (-15, -10, 4)
    cropped, mask, grid = builder.crop_to_brain(image, image > 0, affine, thickness=5)
    assert cropped.shape[2] % 5 == 0 and cropped.sum() == image.sum()
    first = np.argwhere(mask)[0]
    np.testing.assert_allclose(grid @ [*first, 1], affine @ [10, 8, 5, 1])  # the same voxel, the same place


def test_a_pair_is_scaled_by_the_degraded_images_brain_percentile():
    rng = np.random.default_rng(1)
    truth = rng.gamma(4.0, 30.0, (8, 8, 20)).astype(np.float32)
    mask = np.ones_like(truth, np.uint8)
    thick, target, scale = builder.degrade_pair(truth, mask, 5)
    assert np.percentile(thick, 99.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(target * scale, truth, rtol=1e-5)


def _table(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["SUBJECT", "LABEL", "psnr", "ssim", "mae"])
        writer.writerows(rows)


def test_the_report_puts_network_and_baseline_side_by_side(tmp_path, capsys):
    _table(tmp_path / "net.csv", [["b1", "image", 30.0, 0.95, 0.1], ["b1", "mask", 27.0, 0.9, 0.1]])
    _table(tmp_path / "base.csv", [["b1", "image", 28.5, 0.90, 0.1], ["b1", "mask", 27.5, 0.88, 0.1]])
    result = report.report(tmp_path / "net.csv", tmp_path / "base.csv", ["b1"])
    assert result["b1"]["image"]["psnr"]["gain"] == pytest.approx(1.5)
    assert result["b1"]["mask"]["psnr"]["gain"] == pytest.approx(-0.5)  # a loss is shown as one
    assert report.main(["--network", str(tmp_path / "net.csv"), "--baseline", str(tmp_path / "base.csv"),
                        "--subjects", "b1,b2"]) == 2
    assert "no row for subject 'b2'" in capsys.readouterr().err

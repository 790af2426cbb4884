"""The QC demo's artefact classes, build and report, offline (nothing is fetched: the template and the
test brains are replaced by small synthetic volumes)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from script_loader import load_script

builder = load_script("build_qc_data")
report = load_script("qc_report")

SHAPE = (24, 28, 24)


def _brain(shape=SHAPE, seed=0):
    """A smooth, textured ellipsoid 'brain' (values ~0.3..1) on a zero background, and its mask."""
    grid = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in shape], indexing="ij")
    mask = (grid[0] / 0.7) ** 2 + (grid[1] / 0.8) ** 2 + (grid[2] / 0.7) ** 2 < 1.0
    rng = np.random.default_rng(seed)
    texture = np.cos(3 * grid[0] + rng.uniform(0, 6)) * np.sin(4 * grid[1]) * np.cos(2 * grid[2])
    image = np.where(mask, 0.65 + 0.3 * texture, 0.0).astype(np.float32)
    return image, mask


def _artefact(kind, severity=None, pair=(3, 4), image=None):
    image = _brain()[0] if image is None else image
    severity = builder.draw_severity(kind, np.random.default_rng(1)) if severity is None else severity
    return image, *builder.layer_artefact(image, kind, severity, pair, spacing=3.0)


def test_none_is_the_image_itself():
    image, out, params = _artefact("none")
    assert np.array_equal(out, image) and out.dtype == np.float32 and params == {}


def test_noise_raises_the_background_std_by_the_drawn_sigma():
    image, mask = _brain()
    _, out, params = _artefact("noise", {"std": 0.08}, image=image)
    background = out[~mask]
    assert image[~mask].std() == 0.0
    assert background.std() == pytest.approx(0.08, rel=0.1) and abs(background.mean()) < 0.01
    assert params["std"] == pytest.approx(0.08) and out.shape == image.shape


def test_the_bias_field_is_smooth_positive_and_multiplicative():
    image, mask = _brain()
    _, out, params = _artefact("bias", {"coefficients": 0.4}, image=image)
    assert np.all(out[~mask] == 0.0)  # multiplicative: the zero background stays zero
    field = out[mask] / image[mask]
    assert field.min() > 0 and field.max() / field.min() > 1.1
    # log(field) is a cubic polynomial of the coordinates: a least-squares cubic fits it exactly
    axes = np.meshgrid(*[np.linspace(-1.0, 1.0, n) for n in SHAPE], indexing="ij")
    x, y, z = (a[mask] for a in axes)
    columns = [x**i * y**j * z**k for i in range(4) for j in range(4) for k in range(4) if i + j + k <= 3]
    design = np.stack(columns, axis=1)
    coefficients, *_ = np.linalg.lstsq(design, np.log(field), rcond=None)
    assert np.abs(design @ coefficients - np.log(field)).max() < 1e-3
    assert np.abs(np.asarray(params["coefficients"])).max() <= 0.4 + 1e-6


def _spectrum(volume):
    return np.abs(np.fft.fftn(volume))


def test_a_spike_adds_a_few_plane_waves():
    image, out, params = _artefact("spike", {"num_spikes": 2, "intensity": 0.5})
    assert out.shape == image.shape
    change = _spectrum(out - image)
    assert change.max() > 0.1 * _spectrum(image).max()  # strong: half of |F(0)| per spike
    # a real plane wave is two coefficients (k and -k): two spikes, at most four
    top = np.sort(change.ravel())[::-1]
    assert (top[:4] ** 2).sum() > 0.999 * (top**2).sum()
    assert np.count_nonzero(np.asarray(params["intensity"])) == 2


def test_ghosting_changes_only_every_nth_k_space_plane_along_one_axis():
    image, out, params = _artefact("ghosting", {"num_ghosts": 3, "intensity": 0.8})
    assert out.shape == image.shape and not np.allclose(out, image)
    axis, ghosts = int(params["axis"]), int(params["num_ghosts"])
    assert axis in (0, 1) and ghosts == 3
    size = SHAPE[axis]
    position = (np.arange(size) + size // 2) % size  # where unshifted frequency k sits in the centred spectrum
    hit = (position % ghosts == 0) & (position != size // 2)
    hit = hit | hit[(-np.arange(size)) % size]  # the real part mirrors every plane
    energy = (_spectrum(out - image) ** 2).sum(axis=tuple(a for a in range(3) if a != axis))
    assert energy[~hit].sum() < 1e-6 * energy.sum()


def test_motion_keeps_the_centre_of_k_space_and_the_shape():
    image, out, params = _artefact("motion", {"num_transforms": 2, "degrees": 8.0, "translation_mm": 8.0})
    assert out.shape == image.shape and np.isfinite(out).all()
    change = out - image
    assert np.sqrt((change**2).mean()) > 0.01 * np.sqrt((image**2).mean())
    # k-space is cut along the last axis; the segment holding its centre is the still image's
    energy = (np.abs(np.fft.fft(change, axis=2)) ** 2).sum(axis=(0, 1))
    assert energy[0] < 1e-6 * energy.sum()
    assert np.asarray(params["degrees"]).shape == (2, 3) and np.abs(params["degrees"]).max() <= 8.0


def test_an_artefact_is_the_same_for_the_same_seed_and_differs_for_another():
    for kind in builder.CLASSES[1:]:
        severity = builder.draw_severity(kind, np.random.default_rng(5))
        image, first, _ = _artefact(kind, severity, pair=(11, 12))
        _, again, _ = _artefact(kind, severity, pair=(11, 12))
        _, other, _ = _artefact(kind, severity, pair=(11, 13))
        assert np.array_equal(first, again), kind
        assert not np.array_equal(first, other), kind
        assert not np.array_equal(first, image), kind


def test_severities_are_drawn_within_their_stated_ranges_and_seeds_are_per_volume():
    for kind, ranges in builder.SEVERITY.items():
        for draw in range(20):
            rng, _ = builder.volume_seeds(0, 0, draw, builder.CLASSES.index(kind))
            severity = builder.draw_severity(kind, rng)
            assert set(severity) == set(ranges)
            for name, (low, high) in ranges.items():
                assert low <= severity[name] <= high
    first, again = builder.volume_seeds(0, 1, 2, 3, 1), builder.volume_seeds(0, 1, 2, 3, 1)
    assert first[1] == again[1] and first[0].uniform() == again[0].uniform()
    assert builder.volume_seeds(0, 0, 2, 3, 0)[1] != builder.volume_seeds(0, 1, 2, 3, 0)[1]  # test ≠ training
    with pytest.raises(ValueError, match="unknown class"):
        builder.make_layer("blur", {}, 3.0)


def test_the_grid_fits_the_field_of_view_in_whole_cells_and_keeps_world_positions():
    assert builder.grid_shape(3.0) == (64, 72, 64)
    assert all(n % builder.GRID_MULTIPLE == 0 for n in builder.grid_shape(2.0))
    image, mask = _brain((30, 20, 26))
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-30, -20, -26)
    fitted, grid = builder.fit_to_grid(image[None], mask, affine, (24, 24, 24))
    assert fitted.shape == (1, 24, 24, 24)
    first = np.argwhere(fitted[0] > 0)[0]
    source = np.linalg.solve(affine, grid @ [*first, 1])[:3].round().astype(int)
    assert fitted[0][tuple(first)] == image[tuple(source)]
    scaled, scale = builder.scale_to_brain(image * 7.0, mask)
    assert np.percentile(scaled[mask], 99.0) == pytest.approx(1.0, rel=1e-5) and scale > 0


# ----------------------------------------------------------------------------- the build, offline
SPACING = 12.0  # grid 16 x 24 x 16: a quick build


def _fake_sources(monkeypatch, tmp_path):
    shape = builder.grid_shape(SPACING)
    image, mask = _brain(shape)
    probabilities = np.stack([1.0 - mask, 0.2 * mask, 0.4 * mask, 0.4 * mask]).astype(np.float32)
    affine = np.diag([SPACING, SPACING, SPACING, 1.0])
    monkeypatch.setattr(builder.demo, "fetch_wheel", lambda *args, **kwargs: tmp_path / "no.whl")
    monkeypatch.setattr(builder, "reference_on_grid", lambda wheel, spacing: (image * 200.0, probabilities, affine))

    def fetch(out_dir, *args, **kwargs):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        result = {}
        for k, name in enumerate(("brain_a", "brain_b")):
            t1, brain = _brain((40, 48, 40), seed=k + 1)
            grid = np.diag([-4.0, 4.0, 4.0, 1.0]) if k else np.diag([4.0, 4.0, 4.0, 1.0])  # one of them LAS
            paths = {"t1": out_dir / f"{name}_T1.nii.gz", "mask": out_dir / f"{name}_mask.nii.gz"}
            nib.save(nib.Nifti1Image(t1 * (1000.0 if k else 80.0), grid), str(paths["t1"]))
            nib.save(nib.Nifti1Image(brain.astype(np.uint8), grid), str(paths["mask"]))
            result[name] = {**paths, "source": {"package": "fake", "member": name}}
        return result

    monkeypatch.setattr(builder.brains, "fetch_test_brains", fetch)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_the_build_labels_every_base_with_every_class_and_splits_by_base(monkeypatch, tmp_path):
    _fake_sources(monkeypatch, tmp_path)
    out = tmp_path / "qc"
    manifest = builder.build(out, subjects=3, validation=1, seed=0, spacing=SPACING)
    labels = _rows(out / "labels.csv")
    assert labels[0] == ["subject_id", "class"]
    classes = dict(labels[1:])
    assert len(classes) == 3 * 6 + 2 * 6 * builder.TEST_INSTANCES
    assert classes["train01_motion"] == "motion" and classes["brain_b_spike_2"] == "spike"
    for base in ("train00", "train01", "train02"):
        assert sorted(c for s, c in classes.items() if s.startswith(base + "_")) == sorted(builder.CLASSES)
    for base in ("brain_a", "brain_b"):
        assert sorted(c for s, c in classes.items() if s.startswith(base + "_")) == sorted(builder.CLASSES * 2)
    split = _rows(out / "dataset_split.csv")
    assert split[0] == ["subject_id", "phase"]
    phases = dict(split[1:])
    assert set(phases) == set(classes)
    by_base = {}
    for record in manifest["volumes"]:
        by_base.setdefault(record["base"], set()).add(phases[record["subject_id"]])
    assert by_base == {"train00": {"training"}, "train01": {"training"}, "train02": {"validation"},
                       "brain_a": {"inference"}, "brain_b": {"inference"}}
    for subject in classes:
        volume = nib.load(out / f"{subject}_T1.nii.gz")
        assert volume.shape == builder.grid_shape(SPACING) and volume.get_data_dtype() == np.float32
    # every base is scaled to its brain's 99th percentile, whatever the source's units (80 vs 1000)
    assert nib.aff2axcodes(nib.load(out / "brain_b_none_1_T1.nii.gz").affine) == ("R", "A", "S")
    for name in ("brain_a_none_1", "brain_b_none_1", "train00_none"):
        data = np.asarray(nib.load(out / f"{name}_T1.nii.gz").dataobj)
        assert 0.9 < np.percentile(data[data > 0], 99.0) <= 1.05
    assert len({tuple(r["seed"]) for r in manifest["volumes"]}) == len(manifest["volumes"])
    assert manifest["recipe"]["severity"]["noise"]["std"] == list(builder.SEVERITY["noise"]["std"])
    saved = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert saved["sha256"] == manifest["sha256"] and "labels.csv" in saved["files"]
    # a second call with the same recipe builds nothing; the same build elsewhere gives the same bytes
    assert builder.build(out, subjects=3, validation=1, seed=0, spacing=SPACING)["up_to_date"]
    again = builder.build(tmp_path / "again", subjects=3, validation=1, seed=0, spacing=SPACING)
    assert again["sha256"] == manifest["sha256"]
    other = builder.build(tmp_path / "other", subjects=3, validation=1, seed=1, spacing=SPACING)
    assert other["sha256"]["train00_noise_T1.nii.gz"] != manifest["sha256"]["train00_noise_T1.nii.gz"]


def test_the_report_sets_the_result_next_to_chance(tmp_path, capsys):
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir()
    (evaluation / "evaluation.csv").write_text(
        "metric,class,value\naccuracy,,0.75\nbalanced_accuracy,,0.75\nmacro_f1,,0.7\nroc_auc,,0.9\n"
        "recall,none,1.0\n", encoding="utf-8")
    (evaluation / "confusion_matrix.csv").write_text(
        "true \\ predicted,noise,none\nnoise,1,1\nnone,0,2\n", encoding="utf-8")
    (tmp_path / "labels.csv").write_text(
        "subject_id,class\nbrain_a_none_1,none\nbrain_a_noise_1,noise\nx_y_none_1,none\nx_y_noise_1,noise\n",
        encoding="utf-8")
    (tmp_path / "classes.csv").write_text(
        "subject_id,class\nbrain_a_none_1,none\nbrain_a_noise_1,none\nx_y_none_1,none\nx_y_noise_1,noise\n",
        encoding="utf-8")
    result = report.report(evaluation, tmp_path / "classes.csv", tmp_path / "labels.csv")
    assert result["metrics"]["balanced_accuracy"] == {"value": 0.75, "chance": 0.5}
    assert result["metrics"]["roc_auc"]["chance"] == 0.5
    assert result["per_brain"] == {"brain_a": 0.5, "x_y": 1.0} and result["recall"]["noise"] == 0.5
    assert report.main(["--evaluation", str(evaluation), "--classes", str(tmp_path / "classes.csv"),
                        "--labels", str(tmp_path / "labels.csv")]) == 0
    assert "| none | 0 | 2 | 1.00 |" in capsys.readouterr().out
    assert report.main(["--evaluation", str(tmp_path / "missing"), "--classes", "x", "--labels", "y"]) == 2
    assert "qc_report: error:" in capsys.readouterr().err


def test_what_is_written_is_the_magnitude_of_the_layers_output():
    image, out, _ = _artefact("noise")
    written, _ = builder.apply_artefact(image, "noise", builder.draw_severity("noise", np.random.default_rng(0)),
                                        (5, 6), spacing=3.0)
    assert out.min() < 0 <= written.min()  # the layer's noise goes negative; the written image does not
    real, _ = builder.layer_artefact(image, "noise", builder.draw_severity("noise", np.random.default_rng(0)),
                                     (5, 6), spacing=3.0)
    np.testing.assert_array_equal(written, np.abs(real))

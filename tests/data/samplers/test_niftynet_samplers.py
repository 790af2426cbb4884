"""NiftyNet's selective sampler (`selective`) and CSV patch sampler (`patch`).

Selective: every drawn window satisfies the rule (checked on the window's own labels), the
admissible set equals a brute-force scan, `proba_connect` balances components, `rand_samples`
windows ignore the rule. CSV: windows are centred on the listed voxels of the original file
(through reorientation, resampling and padding), bad rows and subjects without rows are one-line
errors naming the file and line. Both: seeded streams repeat, the keys come from a config.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from voxflow import registry  # noqa: E402
from voxflow.config import load_config  # noqa: E402
from voxflow.data.preprocessing.geometry import pad, plan_geometry, to_grid  # noqa: E402
from voxflow.data.preprocessing.pipeline import PreprocessedSubject  # noqa: E402
from voxflow.data.samplers.base import SamplerError  # noqa: E402
from voxflow.data.samplers.csv_locations import CSVLocationSampler  # noqa: E402
from voxflow.data.samplers.selective import SelectionRule, SelectiveSampler, admissible_windows  # noqa: E402
from voxflow.data.window_data import WindowData  # noqa: E402
from voxflow.errors import ConfigError  # noqa: E402


def take(sampler, n):
    return [{k: v.numpy() for k, v in e.items()} for e in sampler.dataset().take(n)]


def label_volumes(shapes, seed=0, num_labels=4, blobs=6):
    """Background 0 with a few random boxes of labels 1..num_labels-1, and an image."""
    rng = np.random.default_rng(seed)
    volumes = []
    for shape in shapes:
        labels = np.zeros(shape, np.float32)
        for label in range(1, num_labels):
            for _ in range(blobs):
                corner = [rng.integers(0, s) for s in shape]
                size = [rng.integers(1, max(2, s // 2)) for s in shape]
                labels[tuple(slice(c, c + z) for c, z in zip(corner, size))] = label
        volumes.append({"image": rng.normal(size=(*shape, 1)).astype(np.float32), "label": labels[..., None]})
    return volumes


def satisfies(window_labels, rule, window):
    values, counts = np.unique(np.rint(window_labels), return_counts=True)
    present = {int(v) for v, c in zip(values, counts) if c >= rule.min_voxels(window)}
    return set(rule.compulsory_labels) <= present and len(present) >= rule.min_numb_labels


# ---------------------------------------------------------------- selective: the rule
RULES = [
    dict(compulsory_labels=(0, 1), min_numb_labels=1, min_sampling_ratio=0.0),
    dict(compulsory_labels=(2,), min_numb_labels=3, min_sampling_ratio=0.05),
    dict(compulsory_labels=(), min_numb_labels=2, min_sampling_ratio=0.1),
]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("window", [(5, 4, 3), (6, 5, 1)], ids=["3d", "2d"])
@pytest.mark.parametrize("proba_connect", [False, True])
def test_every_selected_window_satisfies_the_rule(rule, window, proba_connect):
    volumes = label_volumes([(14, 12, 9), (11, 13, 8)], seed=1)
    sampler = SelectiveSampler(volumes, window, windows_per_volume=4, shuffle_buffer=6, seed=2,
                               proba_connect=proba_connect, **rule)
    check = SelectionRule(**rule)
    for element in take(sampler, 80):
        index, x, y, z = element["location"]
        label = volumes[index]["label"]
        expected = label[x : x + window[0], y : y + window[1], z : z + window[2]]
        np.testing.assert_array_equal(element["label"], expected)
        assert satisfies(element["label"], check, window)


@pytest.mark.parametrize("rule", RULES)
def test_admissible_windows_equal_a_brute_force_scan(rule):
    labels = label_volumes([(10, 9, 7)], seed=4)[0]["label"][..., 0]
    window = (4, 3, 3)
    check = SelectionRule(**rule)
    counts = [n - w + 1 for n, w in zip(labels.shape, window)]
    expected = [np.ravel_multi_index(s, counts) for s in itertools.product(*map(range, counts))
                if satisfies(labels[s[0] : s[0] + 4, s[1] : s[1] + 3, s[2] : s[2] + 3], check, window)]
    flat, weights, _ = admissible_windows(labels, window, check, proba_connect=False)
    np.testing.assert_array_equal(flat, expected)
    assert weights is None


def test_proba_connect_draws_small_and_large_components_alike():
    labels = np.zeros((70, 24, 1), np.float32)  # both components lie a window away from the border
    labels[10:12, 8:10] = 1  # a component of 4 voxels
    labels[30:60, 6:16] = 1  # one of 300 voxels
    volume = {"image": np.zeros((70, 24, 1, 1), np.float32), "label": labels[..., None]}
    window = (6, 6, 1)

    def small_share(proba_connect):
        sampler = SelectiveSampler([volume], window, windows_per_volume=50, shuffle_buffer=0, seed=0,
                                   compulsory_labels=(1,), proba_connect=proba_connect)
        hits = [element["location"][1] < 20 for element in take(sampler, 2000)]
        return np.mean(hits)

    assert small_share(False) < 0.15  # few of the admissible windows hold the small component
    assert abs(small_share(True) - 0.5) < 0.05  # each component carries the same probability


def test_rand_samples_are_the_first_windows_of_each_visit_and_uniform():
    labels = np.zeros((30, 30, 1), np.float32)
    labels[:3, :3] = 1  # admissible windows hug one corner
    volume = {"image": np.zeros((30, 30, 1, 1), np.float32), "label": labels[..., None]}
    window = (5, 5, 1)
    sampler = SelectiveSampler([volume], window, windows_per_volume=4, shuffle_buffer=0, seed=3,
                               compulsory_labels=(0, 1), rand_samples=1, proba_connect=False)
    elements = take(sampler, 400)
    rule = SelectionRule((0, 1))
    ok = np.array([satisfies(e["label"], rule, window) for e in elements]).reshape(-1, 4)
    assert ok[:, 1:].all()  # the selected windows
    assert ok[:, 0].mean() < 0.2  # the random ones mostly are not (9 of 676 windows are admissible)


def test_seeded_streams_repeat_and_seeds_differ():
    volumes = label_volumes([(12, 11, 8), (10, 12, 9)], seed=5)

    def locations(seed, cls=SelectiveSampler, **kwargs):
        sampler = cls(volumes, (4, 4, 3), windows_per_volume=3, shuffle_buffer=5, seed=seed, **kwargs)
        return np.array([e["location"] for e in take(sampler, 30)])

    np.testing.assert_array_equal(locations(7), locations(7))
    np.testing.assert_array_equal(locations(7, rand_samples=1), locations(7, rand_samples=1))
    assert not np.array_equal(locations(7), locations(8))


def test_volume_without_an_admissible_window_is_a_one_line_error_naming_it():
    volumes = label_volumes([(10, 10, 6), (10, 10, 6)], seed=6, num_labels=2)
    volumes[0]["label"][:] = 0.0
    volumes[0]["label"][:5] = 1.0
    volumes[1]["label"][:] = 0.0
    subjects = [SimpleNamespace(id="sub_a"), SimpleNamespace(id="sub_b")]
    with pytest.raises(SamplerError) as err:
        SelectiveSampler(volumes, (4, 4, 3), seed=0, subjects=subjects)
    message = str(err.value)
    assert "\n" not in message
    assert "Volume 1 (subject 'sub_b')" in message and "compulsory_labels = 0, 1" in message
    assert "label(s) 1 absent from the volume" in message
    volumes[1]["label"][:2, :2, :2] = 1.0  # present, but never on 20 % of a window
    with pytest.raises(SamplerError, match=r"Volume 1 has no window .*at least 10 voxel\(s\).*no window holds 10"):
        SelectiveSampler(volumes, (4, 4, 3), seed=0, min_sampling_ratio=0.2)
    with pytest.raises(SamplerError, match=r"Volume 0 has no window .*hold at most 2 label\(s\)"):
        SelectiveSampler(volumes, (4, 4, 3), seed=0, min_numb_labels=3)


def test_invalid_arguments_are_refused():
    volumes = label_volumes([(8, 8, 6)], seed=0)
    with pytest.raises(SamplerError, match="fewer than windows_per_volume"):
        SelectiveSampler(volumes, (4, 4, 3), windows_per_volume=2, rand_samples=2)
    with pytest.raises(SamplerError, match="min_sampling_ratio in \\[0, 1\\]"):
        SelectiveSampler(volumes, (4, 4, 3), min_sampling_ratio=1.5)
    with pytest.raises(SamplerError, match="needs a label role"):
        SelectiveSampler([{"image": volumes[0]["image"]}], (4, 4, 3))


# ---------------------------------------------------------------- CSV patch sampler
def subject_volume(subject_id, shape, hot, *, axcodes=None, pixdim=None, padding=(0, 0, 0), min_shape=None):
    """A subject preprocessed with voxflow's own geometry code; its image is 1 at the `hot` voxels of
    the original file (each a distinct value), so the centre a window lands on can be read back."""
    original = np.zeros(shape, np.float32)
    for number, voxel in enumerate(hot, start=1):
        original[voxel] = number
    affine = np.diag([2.0, 1.5, 3.0, 1.0])
    affine[:3, 3] = (-10, 4, 7)
    geometry = plan_geometry(shape, affine, axcodes=axcodes, pixdim=pixdim, padding_size=padding, min_shape=min_shape)
    image = pad(to_grid(original[..., None], geometry, order=0), geometry)
    return PreprocessedSubject(subject_id, {"image": image, "label": (image > 0).astype(np.float32)}, geometry)


def write_csv(tmp_path, text, name="centres.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def csv_sampler(subjects, path, window=(5, 5, 3), **kwargs):
    kwargs.setdefault("seed", 0)
    return CSVLocationSampler([s.arrays for s in subjects], window, centres_file=path, subjects=subjects, **kwargs)


@pytest.mark.parametrize("geometry", [
    dict(), dict(padding=(3, 2, 1)), dict(axcodes=("L", "P", "S"), padding=(2, 2, 2)),
    dict(pixdim=(4.0, 1.5, 3.0), padding=(2, 0, 1)),
], ids=["plain", "padded", "reoriented", "resampled"])
def test_windows_are_centred_on_the_listed_voxels(tmp_path, geometry):
    hot_a = [(6, 6, 4), (10, 9, 5)]
    hot_b = [(8, 5, 3)]
    subjects = [subject_volume("a", (16, 14, 9), hot_a, **geometry), subject_volume("b", (14, 12, 8), hot_b, **geometry)]
    path = write_csv(tmp_path, "subject_id,x,y,z\n" + "".join(f"{s},{x},{y},{z}\n" for s, hot in (("a", hot_a), ("b", hot_b))
                                                          for x, y, z in hot))
    window = (5, 5, 3)
    seen = set()
    for element in take(csv_sampler(subjects, path, window, windows_per_volume=2, shuffle_buffer=3), 40):
        index = element["location"][0]
        centre = element["image"][window[0] // 2, window[1] // 2, window[2] // 2, 0]
        assert centre > 0  # the window's centre voxel is one of the listed voxels
        seen.add((index, centre))
        x, y, z = element["location"][1:]
        np.testing.assert_array_equal(element["image"], subjects[index].arrays["image"][x : x + 5, y : y + 5, z : z + 3])
    assert seen == {(0, 1.0), (0, 2.0), (1, 1.0)}  # every listed centre is drawn


def test_csv_streams_repeat_with_a_seed(tmp_path):
    subjects = [subject_volume("a", (16, 14, 9), [(6, 6, 4), (10, 9, 5), (7, 8, 4)])]
    path = write_csv(tmp_path, "a,6,6,4\na,10,9,5\na,7,8,4\n")

    def locations(seed):
        return np.array([e["location"] for e in take(csv_sampler(subjects, path, seed=seed, windows_per_volume=4), 24)])

    np.testing.assert_array_equal(locations(1), locations(1))
    assert not np.array_equal(locations(1), locations(2))


@pytest.mark.parametrize("text, line, match", [
    ("subject_id,x,y,z\na,6,6,4\na,6,six,4\n", 3, "Invalid row 3"),
    ("a,6,6,4\n\n# comment\na,6,6\n", 4, "Invalid row 4"),
    ("a,6,6,4\nb,nan,6,4\n", 2, "Invalid row 2"),
    ("a,6,6,4\n,6,6,4\n", 2, "Invalid row 2"),
])
def test_bad_rows_are_one_line_errors_naming_file_and_line(tmp_path, text, line, match):
    subjects = [subject_volume("a", (16, 14, 9), [(6, 6, 4)])]
    path = write_csv(tmp_path, text)
    with pytest.raises(SamplerError, match=match) as err:
        csv_sampler(subjects, path)
    message = str(err.value)
    assert "\n" not in message and path in message and "subject_id,x,y,z" in message


def test_empty_or_missing_file_is_an_error(tmp_path):
    subjects = [subject_volume("a", (16, 14, 9), [(6, 6, 4)])]
    with pytest.raises(SamplerError, match="lists no window centre"):
        csv_sampler(subjects, write_csv(tmp_path, "subject_id,x,y,z\n# nothing\n"))
    with pytest.raises(SamplerError, match="Cannot read window_centres_file .*missing.csv"):
        csv_sampler(subjects, str(tmp_path / "missing.csv"))


def test_a_subject_without_rows_is_an_error_naming_file_and_the_likely_typo(tmp_path):
    subjects = [subject_volume("sub_01", (16, 14, 9), [(6, 6, 4)]), subject_volume("sub_02", (16, 14, 9), [(6, 6, 4)])]
    path = write_csv(tmp_path, "sub_01,6,6,4\nsub_03,1,1,1\nsub02,6,6,4\n")
    with pytest.raises(SamplerError) as err:
        csv_sampler(subjects, path)
    message = str(err.value)
    assert "\n" not in message and path in message
    assert "no row for subject 'sub_02' (volume 1)" in message and "Line 3 names 'sub02'" in message
    csv_sampler(subjects[:1], path)  # rows of subjects sampled elsewhere (sub_03) are no error


def test_a_row_whose_window_leaves_the_volume_is_skipped_with_a_warning(tmp_path, caplog):
    """NiftyNet's default (`remove`): such rows are not sampled. voxflow used to refuse the whole file,
    so NiftyNet's csv-sampler config, whose lesion centres lie near the border, stopped."""
    subjects = [subject_volume("a", (16, 14, 9), [(6, 6, 4)], padding=(1, 1, 1))]
    path = write_csv(tmp_path, "a,6,6,4\na,0,6,4\n")
    locations = {tuple(e["location"][1:]) for e in take(csv_sampler(subjects, path, windows_per_volume=2), 12)}
    assert locations == {(5, 5, 4)}  # only line 1's window: centre (7, 7, 5) on the padded grid
    assert f"window_centres_file '{path}': 1 row(s)" in caplog.text and "line 2" in caplog.text


def test_a_subject_none_of_whose_windows_fits_names_the_row_and_the_padding(tmp_path):
    subjects = [subject_volume("a", (16, 14, 9), [(6, 6, 4)], padding=(1, 1, 1))]
    path = write_csv(tmp_path, "a,0,6,4\na,0,7,4\n")
    with pytest.raises(SamplerError) as err:
        csv_sampler(subjects, path)
    message = str(err.value)
    assert "\n" not in message and f"Row 1 of window_centres_file '{path}'" in message
    assert "pad the volumes by (1, 0, 0) more voxels" in message


def test_without_subjects_the_csv_sampler_explains_why(tmp_path):
    subject = subject_volume("a", (16, 14, 9), [(6, 6, 4)])
    with pytest.raises(SamplerError, match="cache_size_mb"):
        CSVLocationSampler([subject.arrays], (5, 5, 3), centres_file=write_csv(tmp_path, "a,6,6,4\n"))


# ---------------------------------------------------------------- config and registry
SELECTIVE_INI = """\
[T1]
path_to_search = ./data
filename_contains = T1
spatial_window_size = 8, 8, 8

[label]
path_to_search = ./data
filename_contains = seg
interp_order = 0

[NETWORK]
name = toynet
window_sampling = {sampling}

[TRAINING]
sample_per_volume = 4

[SEGMENTATION]
image = T1
label = label
num_classes = 3
{extra}
"""


def config(tmp_path, sampling="uniform", extra=""):
    path = tmp_path / "config.ini"
    path.write_text(SELECTIVE_INI.format(sampling=sampling, extra=extra), encoding="utf-8")
    return load_config(str(path), app_section="SEGMENTATION", action="train")


def test_segmentation_keys_have_niftynet_defaults(tmp_path):
    app = config(tmp_path).app
    assert (app.compulsory_labels, app.min_numb_labels, app.min_sampling_ratio, app.proba_connect,
            app.rand_samples, app.window_centres_file) == ((0, 1), 1, 0.0, True, 0, "")


def test_segmentation_keys_are_read_with_their_types(tmp_path):
    cfg = config(tmp_path, extra="compulsory_labels = 0, 2\nmin_numb_labels = 3\nmin_sampling_ratio = 0.001\n"
                                  "proba_connect = False\nrand_samples = 2\nwindow_centres_file = places.csv\n")
    assert SelectiveSampler.config_kwargs(cfg) == dict(compulsory_labels=(0, 2), min_numb_labels=3,
                                                       min_sampling_ratio=0.001, proba_connect=False, rand_samples=2)
    assert CSVLocationSampler.config_kwargs(cfg) == {"centres_file": str(tmp_path / "places.csv")}


@pytest.mark.parametrize("line, key", [
    ("min_numb_labels = two", "min_numb_labels"), ("min_sampling_ratio = 1.5", "min_sampling_ratio"),
    ("compulsory_labels = 0, -1", "compulsory_labels"), ("proba_connect = maybe", "proba_connect"),
    ("rand_samples = -1", "rand_samples"),
])
def test_segmentation_keys_are_validated_by_type(tmp_path, line, key):
    with pytest.raises(ConfigError) as err:
        config(tmp_path, extra=line + "\n")
    message = str(err.value)
    assert "\n" not in message and f"`{key}` in [SEGMENTATION]" in message


def test_config_kwargs_check_what_the_samplers_need(tmp_path):
    with pytest.raises(ConfigError, match=r"`rand_samples` in \[SEGMENTATION\].*fewer than `sample_per_volume`"):
        SelectiveSampler.config_kwargs(config(tmp_path, extra="rand_samples = 4\n"))
    with pytest.raises(ConfigError, match=r"window_sampling = patch .* needs `window_centres_file` in \[SEGMENTATION\]"):
        CSVLocationSampler.config_kwargs(config(tmp_path))


@pytest.mark.parametrize("name, cls", [("selective", SelectiveSampler), ("patch", CSVLocationSampler)])
def test_registered_for_window_sampling(name, cls):
    assert registry.resolve("sampler", name) is cls


def test_window_data_passes_the_subjects_and_the_config_keys(tmp_path):
    """The window builder gives samplers that declare `takes_subjects` the loaded subjects."""
    path = write_csv(tmp_path, "a,6,6,4\nb,8,5,3\n")
    cfg = config(tmp_path, sampling="voxflow.data.samplers.csv_locations.CSVLocationSampler",
                 extra=f"window_centres_file = {path}\n")
    subjects = [subject_volume("a", (16, 14, 9), [(6, 6, 4)]), subject_volume("b", (14, 12, 8), [(8, 5, 3)])]
    data = WindowData.__new__(WindowData)
    data.cfg, data.kinds, data.sampling_role, data.groups, data.volume_cache = cfg, None, "sampler", {}, None
    sampler = data.sampler(subjects, seed=0, window=(5, 5, 3))
    assert isinstance(sampler, CSVLocationSampler) and sampler.subjects == subjects
    for element in take(sampler, 6):
        assert element["image"][2, 2, 1, 0] == 1.0

"""NiftyNet configs in one pass: every problem at once, keys where NiftyNet's configs put them,
NiftyNet's window size 0, NiftyNet's names of networks, losses, samplers, applications and
metrics, and "did you mean" only for plausible typos."""

from __future__ import annotations

import logging

import pytest

from voxflow import registry
from voxflow.config import load_config, save_config, schema
from voxflow.errors import ConfigError, ConfigProblems, PluginError
from voxflow.evaluation.catalogue import NIFTYNET_NOT_COMPUTED
from voxflow.naming import closest

# One mistake each, anywhere in the file: (replace this, with this) in the base config.
MISTAKES = {
    "invalid value": ("name = toynet", "name = toynet\nbatch_size = two"),
    "unknown key": ("[SEGMENTATION]", "[TRAINING]\nmax_itr = 3\n\n[SEGMENTATION]"),
    "input value": ("interp_order = 0", "interp_order = 7"),
    "missing key": ("num_classes = 2\n", ""),
    "role": ("label = label", "label = lable"),
}


def _apply(text: str, *names: str) -> str:
    for name in names:
        old, new = MISTAKES[name]
        assert old in text
        text = text.replace(old, new, 1)
    return text


def _problems(path, overrides=(), action="train") -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides=overrides, action=action)
    error = info.value
    lines = list(error.problems) if isinstance(error, ConfigProblems) else [str(error)]
    assert str(error) == "\n".join(lines)
    assert all(line and "\n" not in line for line in lines)
    return lines


# ----------------------------------------------------------------------------- every problem at once
def test_every_problem_is_reported_in_one_pass_each_as_it_is_alone(write_config, base_ini, tmp_path):
    alone = {}
    for name in MISTAKES:
        path = write_config(_apply(base_ini, name), name=f"{name.replace(' ', '_')}.ini")
        (line,) = _problems(path)
        alone[name] = line.replace(str(path), "CONFIG")
    path = write_config(_apply(base_ini, *MISTAKES), name="all.ini")
    together = [line.replace(str(path), "CONFIG") for line in _problems(path)]
    assert sorted(together) == sorted(alone.values())


def test_one_problem_is_a_plain_config_error_and_several_are_config_problems(write_config, base_ini):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(_apply(base_ini, "invalid value")))
    assert not isinstance(info.value, ConfigProblems)
    with pytest.raises(ConfigProblems) as info:
        load_config(write_config(_apply(base_ini, "invalid value", "input value")))
    assert len(info.value.problems) == 2 and info.value.exit_code == 2


def test_a_refused_value_is_not_also_reported_missing(write_config, base_ini):
    path = write_config(base_ini.replace("num_classes = 2", "num_classes = two")
                        .replace("path_to_search = ./data\nfilename_contains = seg", "path_to_search = a\0b"))
    problems = _problems(path)
    assert len(problems) == 2, problems
    assert problems[0].startswith("Invalid value for `num_classes` in [SEGMENTATION]")
    assert problems[1].startswith("Invalid value for `path_to_search` in [label]")


def test_an_option_refused_in_several_sections_is_reported_once(write_config):
    (line,) = _problems(write_config(), ["--spatial_window_size", "7,7,7,7"])
    assert "`spatial_window_size`" in line and "from the command line" in line


def test_command_line_and_file_problems_come_together(write_config, base_ini):
    problems = _problems(write_config(_apply(base_ini, "invalid value")), ["--max_itr", "3", "--lr", "fast"])
    assert len(problems) == 3
    assert any(line.startswith("Unknown command-line option `--max_itr`.") for line in problems)
    assert any(line.startswith("Invalid value for `lr` in [TRAINING] from the command line.") for line in problems)


def test_a_misspelt_section_is_one_problem_not_also_an_input_source(write_config, base_ini):
    problems = _problems(write_config(_apply(base_ini, "invalid value") + "\n[TRAINNG]\nmax_iter = 5\n"))
    assert len(problems) == 2
    assert [line for line in problems if line.startswith("Unknown section [TRAINNG]")][0].endswith(
        "Did you mean [TRAINING]?")


# --------------------------------------------------------------- keys where NiftyNet's configs put them
@pytest.mark.parametrize("section, key, value, read", [
    ("SYSTEM", "queue_length", "20", lambda cfg: cfg.network.queue_length == 20),
    ("INFERENCE", "output_prob", "True", lambda cfg: cfg.app.output_prob is True),
    ("EVALUATION", "evaluation_units", "cc", lambda cfg: cfg.app.evaluation_units == "cc"),
    ("TRAINING", "window_sampling", "balanced", lambda cfg: cfg.network.window_sampling == "balanced"),
    ("TRAINING", "dataset_split_file", "split.csv", lambda cfg: cfg.system.dataset_split_file.endswith("split.csv")),
])
def test_a_key_where_niftynet_configs_put_it_is_read_in_its_section_with_a_notice(
        write_config, caplog, section, key, value, read):
    with caplog.at_level(logging.WARNING, logger="voxflow.config"):
        cfg = load_config(write_config(extra=f"\n[{section}]\n{key} = {value}\n"))
    assert read(cfg)
    home = schema.relocation(key, section, "SEGMENTATION")
    (notice,) = cfg.notices
    assert f"`{key}` in [{section}] of" in notice and f"[{home}] {key}" in notice and "NiftyNet ignored it" in notice
    assert "\n" not in notice and [r.getMessage() for r in caplog.records] == [f"notice: {notice}"]


def test_a_key_in_both_places_uses_its_own_section_and_says_the_other_is_ignored(write_config, base_ini):
    text = base_ini.replace("name = toynet", "name = toynet\nqueue_length = 10") + "\n[SYSTEM]\nqueue_length = 20\n"
    cfg = load_config(write_config(text))
    assert cfg.network.queue_length == 10
    (notice,) = cfg.notices
    assert "`queue_length` = '20' in [SYSTEM]" in notice and "is ignored" in notice
    assert "[NETWORK] queue_length = '10' is used" in notice


def test_a_moved_key_is_saved_in_its_section_and_its_errors_name_where_it_was_written(write_config, tmp_path):
    cfg = load_config(write_config(extra="\n[SYSTEM]\nqueue_length = 20\n"))
    saved = load_config(save_config(cfg, tmp_path / "saved.ini"))
    assert saved.network.queue_length == 20 and saved.notices == ()
    (line,) = _problems(write_config(extra="\n[SYSTEM]\nqueue_length = many\n"))
    assert line.startswith("Invalid value for `queue_length` in [SYSTEM] of ")


def test_a_key_niftynet_configs_never_put_there_is_still_an_error(write_config):
    (line,) = _problems(write_config(extra="\n[SYSTEM]\nbatch_size = 4\n"))
    assert "`batch_size` belongs in [NETWORK], not [SYSTEM]." in line
    (line,) = _problems(write_config(), ["--SYSTEM.queue_length", "20"])  # the command line is voxflow's syntax
    assert line.startswith("Unknown key `queue_length` in [SYSTEM] from the command line")


# ------------------------------------------------------------------------- window size 0 = full extent
@pytest.mark.parametrize("action", ["train", "inference"])
def test_inference_window_with_zero_means_full_extent(write_config, action):
    cfg = load_config(write_config(extra="\n[INFERENCE]\nspatial_window_size = (0, 0, 3)\n"), action=action)
    assert cfg.inference.spatial_window_size == (0, 0, 3)
    assert load_config(write_config(), ["--INFERENCE.spatial_window_size", "0,0"]).inference.spatial_window_size \
        == (0, 0, 1)


def test_input_window_still_refuses_zero_and_says_where_it_is_accepted(write_config, base_ini):
    (line,) = _problems(write_config(base_ini.replace("32, 32, 32", "0, 0, 3")))
    assert line.startswith("Invalid value for `spatial_window_size` in [T1]")
    assert "integers in [1, 65535]" in line and "only in [INFERENCE]" in line


# ------------------------------------------------------------------------------------- NiftyNet's names
@pytest.mark.parametrize("key, written, stored", [
    ("name", "niftynet.network.unet.UNet3D", "unet"),
    ("name", "niftynet.network.unet", "unet"),
    ("name", "niftynet.network.no_new_net.UNet3D", "nonewnet"),
    ("name", "niftynet.network.nonewnet", "nonewnet"),
    ("loss_type", "niftynet.layer.loss_segmentation.dice_nosquare", "Dice_NS"),
    ("optimiser", "niftynet.engine.application_optimiser.Adam", "adam"),
    ("window_sampling", "niftynet.engine.sampler_balanced_v2.BalancedSampler", "balanced"),
])
def test_niftynet_import_paths_are_read_as_voxflows_component_with_a_notice(write_config, key, written, stored):
    if not registry.is_builtin(schema.NETWORK_KEYS.get(key, schema.TRAINING_KEYS.get(key)).type.family, stored):
        pytest.skip(f"voxflow has no {stored} in this checkout")
    cfg = load_config(write_config(), [f"--{key}", written])
    section = cfg.network if key in schema.NETWORK_KEYS else cfg.training
    assert section[key] == stored
    (notice,) = cfg.notices
    assert f"'{written}' is NiftyNet's name of voxflow's" in notice and f"'{stored}'" in notice


def test_a_voxflow_name_is_kept_as_written_without_a_notice(write_config):
    cfg = load_config(write_config(), ["--name", "UNet", "--loss_type", "dice"])
    assert (cfg.network.name, cfg.training.loss_type, cfg.notices) == ("UNet", "dice", ())


@pytest.mark.parametrize("key, written, what", [
    ("loss_type", "SmoothL1", "NiftyNet's niftynet.layer.loss_regression.smooth_l1_loss, which voxflow does not have"),
    ("loss_type", "niftynet.layer.loss_regression.cosine_loss", "NiftyNet's Cosine, which voxflow does not have"),
    ("loss_type", "VolEnforcement",
     "NiftyNet's niftynet.layer.loss_segmentation.volume_enforcement, which voxflow does not have"),
    ("name", "niftynet.network.my_fork.Net", "NiftyNet code, which voxflow does not include"),
])
def test_a_niftynet_component_voxflow_does_not_have_is_refused_saying_so(write_config, key, written, what):
    (line,) = _problems(write_config(), [f"--{key}", written])
    assert f"Received: '{written}' ({what})." in line and "Did you mean" not in line
    family = "network" if key == "name" else "loss"
    with pytest.raises(PluginError) as info:  # and by the registry, wherever a name is looked up
        registry.resolve(family, written)
    assert what.split(",")[0] in str(info.value) and "voxflow offers: " in str(info.value)
    assert "Did you mean" not in str(info.value)


def test_every_niftynet_name_voxflow_registers_resolves_to_the_same_entry():
    for family, table in registry.NIFTYNET_NAMES.items():
        for path, name in table.items():
            if not registry.is_builtin(family, name):
                assert registry.niftynet_missing(family, path) is not None
                continue
            expected = registry.canonical_name(family, name)
            assert registry.canonical_name(family, path) == expected, path
            module = path.rpartition(".")[0]
            # A module path names an entry when every class NiftyNet had in it maps to that one entry.
            shared = len({alias for other, alias in table.items() if other.rpartition(".")[0] == module}) > 1
            assert registry.canonical_name(family, module) == (module if shared else expected), path


def test_a_component_registered_later_is_found_by_its_niftynet_name(monkeypatch):
    monkeypatch.setitem(registry.NIFTYNET_NAMES["network"], "niftynet.network.vx_later.VxLaterNet", "vx_later")
    assert registry.niftynet_missing("network", "niftynet.network.vx_later.VxLaterNet") is not None
    monkeypatch.setitem(registry._EXTRA["network"], "vx_later", object())
    assert registry.resolve("network", "niftynet.network.vx_later.VxLaterNet") is registry._EXTRA["network"]["vx_later"]
    assert registry.niftynet_missing("network", "niftynet.network.vx_later") is None


def test_niftynet_application_names(tmp_path):
    assert registry.canonical_name(
        "application", "niftynet.application.segmentation_application.SegmentationApplication") == "net_segment"
    assert registry.canonical_name(
        "application", "niftynet.application.classification_application.ClassificationApplication") == "net_classify"
    assert registry.canonical_name(
        "application", "niftynet.application.autoencoder_application.AutoencoderApplication") == "net_autoencoder"
    assert registry.canonical_name("application", "niftynet.application.gan_application.GANApplication") == "net_gan"


# ----------------------------------------------------------------------------------- NiftyNet's metrics
def test_niftynet_metric_names_are_voxflows_metrics(write_config):
    names = "false_positive_rate, positive_predictive_values, intersection_over_union, n_intersection, " \
            "average_distance, hausdorff95_distance, Dice, niftynet.evaluation.segmentation_evaluations.jaccard"
    cfg = load_config(write_config(extra=f"\n[EVALUATION]\nevaluations = {names}\n"), action="evaluation")
    assert cfg.evaluation.evaluations[-1] == "jaccard"
    for name in cfg.evaluation.evaluations:
        assert registry.is_builtin("metric", name), name
    assert registry.resolve("metric", "false_positive_rate") is registry.resolve("metric", "fallout")
    assert registry.resolve("metric", "positive_predictive_values") is registry.resolve("metric", "precision")


def test_every_niftynet_metric_is_computed_or_refused_saying_what_to_use():
    from voxflow.applications.classification import CLASSIFICATION_METRICS

    for name in registry.NIFTYNET_NAMES["metric"].values():
        computed = registry.is_builtin("metric", name) or name in CLASSIFICATION_METRICS  # net_classify's own
        assert computed != (name in NIFTYNET_NOT_COMPUTED), name


def test_a_niftynet_metric_voxflow_does_not_compute_is_refused_in_one_line_each(write_config):
    problems = _problems(write_config(extra="\n[EVALUATION]\nevaluations = dice, com_ref\n"
                                            "[INFERENCE]\nspatial_window_size = 0, 64\n"
                                            "[TRAINING]\nmax_iter = -4\n"), action="evaluation")
    assert len(problems) == 2 and problems[0].startswith("Invalid value for `max_iter` in [TRAINING]")
    assert problems[1].startswith("Invalid value for `evaluations` in [EVALUATION]")
    assert problems[1].endswith("Received: 'dice, com_ref' (NiftyNet's com_ref is not computed by voxflow: the "
                                "reference's centre of mass, a vector; centre_of_mass_distance gives the distance (mm) "
                                "between the two centres).")


# -------------------------------------------------------------------------------- did you mean, or not
def test_suggestions_are_plausible_typos_only():
    assert closest("nonewnet", ["toynet", "unet", "vnet", "highres3dnet", "dense_vnet"]) is None
    assert closest("net_regress", ["net_segment", "segmentation"], cutoff=0.5) is None
    assert closest("SEGMENTATION", ["REGRESSION", "T1"], cutoff=0.5) is None
    for typo, meant in [("Dcie", "Dice"), ("unte", "unet"), ("queue_lenght", "queue_length"), ("L3", "L1"),
                        ("SEGMENTAION", "SEGMENTATION"), ("batch_sise", "batch_size")]:
        assert closest(typo, [meant, "toynet", "REGRESSION"], cutoff=0.5) == meant


@pytest.mark.parametrize("other, says", [
    ("GAN", "has [GAN], the section of another application (net_run --list names them"),
    ("REGRESSION", "has [REGRESSION], the section of another application (net_run --list names them"),
])
def test_a_missing_application_section_names_the_one_found_instead(write_config, base_ini, other, says):
    registry.register_builtin_applications()
    if other == "REGRESSION" and other not in schema.app_section_names():
        pytest.skip("no regression application in this checkout")
    text = base_ini.replace("[SEGMENTATION]\nimage = T1\nlabel = label\n", f"[{other}]\nimage = T1\n")
    with pytest.raises(ConfigError) as info:
        load_config(write_config(text), app_section="SEGMENTATION")
    message = str(info.value)
    assert message.startswith("Missing section [SEGMENTATION] in ") and "Did you mean" not in message
    assert says in message


def test_niftynet_2d_loaders_and_two_value_borders_are_read_as_niftynet_meant(write_config, base_ini):
    text = base_ini.replace("interp_order = 0", "interp_order = 0\nloader = skimage", 1)
    text = text.replace("[SEGMENTATION]", "[INFERENCE]\nborder = 92, 40\n\n[SEGMENTATION]", 1)
    cfg = load_config(write_config(text))
    assert cfg.inference.border == (92, 40, 40)
    assert {section.loader for section in cfg.inputs.values()} >= {"simpleitk"}
    with pytest.raises(ConfigError, match="volume_padding_size"):  # other spatial keys still take 1 or 3
        load_config(write_config(base_ini.replace("name = toynet", "name = toynet\nvolume_padding_size = 1, 2")))


# ------------------------------------------------------------------- roles an action does not read
def test_a_role_the_action_does_not_read_may_name_a_missing_section(write_config):
    """NiftyNet's multimodal evaluation config keeps `weight = T1` with no [T1] section: evaluation
    never reads the weight, so it is a notice there (it stopped the run) and still an error to train."""
    path = write_config(extra="weight = T2\n")
    cfg = load_config(path, action="evaluation")
    assert any("`weight` in [SEGMENTATION]" in n and "(T2)" in n and "evaluation does not read it" in n
               for n in cfg.notices)
    assert cfg.app.weight == ()
    problems = _problems(path, action="train")
    assert len(problems) == 1 and "Invalid value for `weight` in [SEGMENTATION]" in problems[0]

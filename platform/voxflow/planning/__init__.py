"""Automatic planning, nnU-Net style: a data fingerprint, a recipe planned from it, and the recipe
written as configuration.

Pure Python and NumPy (no TensorFlow), so planning a dataset takes seconds.

Example:
    >>> from voxflow.planning import cases_from_config, compute_fingerprint, plan, render_config  # doctest: +SKIP
    >>> fp = compute_fingerprint(cases_from_config(cfg, ["CT"], "label"),
    ...                          image_sections=["CT"], label_section="label")          # doctest: +SKIP
    >>> recipe = plan(fp, device="gpu", memory_gb=24)                                  # doctest: +SKIP
    >>> print(render_table(recipe, fp))                                                # doctest: +SKIP
    >>> text = render_config(recipe, fp, image_sections={"image": ["CT"], "label": ["label"]},
    ...                      base_text=open("config.ini").read())                       # doctest: +SKIP
"""

from voxflow.planning.fingerprint import (
    Case,
    ChannelStats,
    Fingerprint,
    cases_from_config,
    compute_fingerprint,
    load_fingerprint,
    save_fingerprint,
)
from voxflow.planning.planner import ChannelNormalisation, Plan, PlannedKey, estimate_memory, plan, pool_sizes
from voxflow.planning.render import planned_keys, render_config, render_table

__all__ = [
    "Case",
    "ChannelNormalisation",
    "ChannelStats",
    "Fingerprint",
    "Plan",
    "PlannedKey",
    "cases_from_config",
    "compute_fingerprint",
    "estimate_memory",
    "load_fingerprint",
    "plan",
    "planned_keys",
    "pool_sizes",
    "render_config",
    "render_table",
    "save_fingerprint",
]

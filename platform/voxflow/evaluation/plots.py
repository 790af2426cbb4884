"""Box plots of each metric per label over subjects (matplotlib, imported on use)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from voxflow.atomic import atomic_path


def box_plots(path: str, rows: Sequence[dict], metrics: Sequence[str]) -> None:
    """Write one panel per metric, one box per LABEL (finite values only), to ``path`` (PNG/PDF/SVG).

    Raises:
        ImportError: matplotlib is not installed (``pip install matplotlib``).
    """
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as err:  # pragma: no cover - matplotlib is a declared dependency
        raise ImportError("Box plots need matplotlib: pip install matplotlib") from err
    labels = list(dict.fromkeys(str(row["LABEL"]) for row in rows))
    columns = min(3, max(1, len(metrics)))
    lines = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(4.5 * columns, 3.5 * lines), squeeze=False)
    for axis, metric in zip(axes.ravel(), metrics, strict=False):
        data = [[float(r[metric]) for r in rows if str(r["LABEL"]) == label and math.isfinite(float(r[metric]))]
                for label in labels]
        axis.boxplot(data, tick_labels=labels)
        axis.set_title(metric)
        axis.set_xlabel("label")
    for axis in axes.ravel()[len(metrics):]:
        axis.set_visible(False)
    figure.tight_layout()
    extension = os.path.splitext(path)[1] or ".png"
    with atomic_path(path, suffix=extension) as tmp:
        figure.savefig(tmp)
    plt.close(figure)

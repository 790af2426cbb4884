"""The inference loop every application shares: items → prediction → writer.

An application declares four things (:class:`~voxflow.applications.base.Application`):

- :meth:`inference_items` — what one output is made from (usually a subject; a GAN's samples);
- :meth:`predictor` — the compiled model call on a batch, built once from the trained models
  (:meth:`ensemble_predictor` from several trained models, whose predictions it averages);
- :meth:`predict_item` — the item's prediction: its sampler (grid windows, the resized volume,
  one code) feeding :meth:`predictor`, and the aggregation back to one output;
- :meth:`output_writer` and :meth:`write_item` — where and how the output is written
  (:mod:`voxflow.data.writers`).

The loop below runs them in order (the writer logs each file) and returns what the writer
listed. Writers refuse to replace inputs when they are built, so nothing is predicted before
that check.

Example:
    >>> result = run_inference(app, models, strategy)      # doctest: +SKIP
    >>> result["outputs"][0]
    ('sub01', '.../output/sub01_niftynet_out.nii.gz')
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def run_inference(app: Any, models: dict[str, Any] | list[dict[str, Any]], strategy: Any) -> dict[str, Any]:
    """Predict and write every item of ``app``'s inference; returns the writer's :meth:`result`.

    ``models`` is one trained model's named models, or a list of them: an ensemble, predicted by
    :meth:`ensemble_predictor`."""
    writer = app.output_writer()
    members = models if isinstance(models, list) else [models]
    predict = app.predictor(members[0]) if len(members) == 1 else app.ensemble_predictor(members)
    for item in app.inference_items():
        app.write_item(writer, item, app.predict_item(predict, item, strategy))
    return writer.result()

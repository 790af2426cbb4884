"""Built-in metric names for the registry's ``metric`` family (``[EVALUATION] evaluations``).

Maps each name to ``"module:function"``; read lazily by :mod:`voxflow.registry`. Importing this
module imports nothing else.
"""

BUILTINS: dict[str, str] = {
    "dice": "voxflow.evaluation.metrics:dice",
    "jaccard": "voxflow.evaluation.metrics:jaccard",
    "hausdorff95": "voxflow.evaluation.metrics:hausdorff95",
    "hausdorff": "voxflow.evaluation.metrics:hausdorff",
    "average_distance": "voxflow.evaluation.metrics:average_surface_distance",
}

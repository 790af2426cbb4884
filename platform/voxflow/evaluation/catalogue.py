"""Built-in metric names for the registry's ``metric`` family (``[EVALUATION] evaluations``).

Maps each name to ``"module:function"``; read lazily by :mod:`voxflow.registry`. Importing this
module imports nothing else. Parametrised spellings (``hausdorff99``, ``surface_dice@2``,
``surface_dice_1mm``, ``f_measure@0.5``) are parsed by :func:`voxflow.evaluation.metrics.resolve_metrics`
using :data:`PARAMETERS`.
"""

_M = "voxflow.evaluation."

BUILTINS: dict[str, str] = {
    # overlap
    "dice": _M + "overlap:dice",
    "jaccard": _M + "overlap:jaccard",
    # confusion matrix
    "tp": _M + "confusion:true_positives",
    "fp": _M + "confusion:false_positives",
    "fn": _M + "confusion:false_negatives",
    "tn": _M + "confusion:true_negatives",
    "sensitivity": _M + "confusion:sensitivity",
    "specificity": _M + "confusion:specificity",
    "fallout": _M + "confusion:fallout",
    "false_negative_rate": _M + "confusion:false_negative_rate",
    "precision": _M + "confusion:precision",
    "accuracy": _M + "confusion:accuracy",
    "f_measure": _M + "confusion:f_measure",
    "volume_similarity": _M + "confusion:volume_similarity",
    "global_consistency_error": _M + "confusion:global_consistency_error",
    "rand_index": _M + "confusion:rand_index",
    "adjusted_rand_index": _M + "confusion:adjusted_rand_index",
    "mutual_information": _M + "confusion:mutual_information",
    "variation_of_information": _M + "confusion:variation_of_information",
    "cohens_kappa": _M + "confusion:cohens_kappa",
    "auc": _M + "confusion:area_under_curve",
    "reference_count": _M + "confusion:reference_count",
    "segmentation_count": _M + "confusion:segmentation_count",
    "reference_background_count": _M + "confusion:reference_background_count",
    "segmentation_background_count": _M + "confusion:segmentation_background_count",
    "union_count": _M + "confusion:union_count",
    "negative_predictive_value": _M + "confusion:negative_predictive_value",
    "informedness": _M + "confusion:informedness",
    "markedness": _M + "confusion:markedness",
    "volume_ratio": _M + "confusion:volume_ratio",
    # statistical and size
    "interclass_correlation": _M + "statistical:interclass_correlation",
    "probabilistic_distance": _M + "statistical:probabilistic_distance",
    "mahalanobis": _M + "statistical:mahalanobis_distance",
    "reference_volume": _M + "statistical:reference_volume",
    "segmentation_volume": _M + "statistical:segmentation_volume",
    "reference_area": _M + "statistical:reference_area",
    "segmentation_area": _M + "statistical:segmentation_area",
    "centre_of_mass_distance": _M + "statistical:centre_of_mass_distance",
    # surface distances (mm)
    "hausdorff": _M + "surface_distance:hausdorff",
    "hausdorff95": _M + "surface_distance:hausdorff95",
    "average_surface_distance": _M + "surface_distance:average_surface_distance",
    "average_hausdorff_distance": _M + "voxel_distance:average_hausdorff_distance",
    "surface_dice": _M + "surface_distance:surface_dice",
    "surface_overlap": _M + "surface_distance:surface_overlap",
    # continuous (whole images)
    "r2": _M + "continuous:coefficient_of_determination",
    "mae": _M + "continuous:mean_absolute_error",
    "mse": _M + "continuous:mean_squared_error",
    "rmse": _M + "continuous:root_mean_squared_error",
    "nrmse": _M + "continuous:normalized_root_mean_squared_error",
    "psnr": _M + "continuous:peak_signal_to_noise_ratio",
    "ssim": _M + "continuous:structural_similarity",
    "ssim_gaussian": _M + "continuous:gaussian_structural_similarity",
    "ncc": _M + "continuous:normalized_cross_correlation",
}

#: Other spellings of the metrics above, accepted wherever a metric is named (the output column keeps
#: the spelling used). NiftyNet's names first, then pymia's metric IDs.
ALIASES: dict[str, str] = {
    "average_distance": "average_surface_distance",  # NiftyNet: mean symmetric border distance (ASSD)
    "assd": "average_surface_distance",
    "hausdorff_distance": "hausdorff",
    "hausdorff95_distance": "hausdorff95",
    "false_positive_rate": "fallout",  # NiftyNet: FP / (TN + FP)
    "positive_predictive_values": "precision",  # NiftyNet: TP / (TP + FP)
    "intersection_over_union": "jaccard",
    "n_intersection": "tp",  # NiftyNet: the intersection's voxel count
    "n_pos_ref": "reference_count",
    "n_pos_seg": "segmentation_count",
    "n_neg_ref": "reference_background_count",
    "n_neg_seg": "segmentation_background_count",
    "n_union": "union_count",
    "negative_predictive_values": "negative_predictive_value",
    "npv": "negative_predictive_value",
    "vol_diff": "volume_ratio",  # NiftyNet: a ratio despite its name
    "com_dist": "centre_of_mass_distance",  # NiftyNet: in voxels; voxflow: mm
    "fpr": "fallout",  # NiftyNet's PairwiseMeasures keys
    "ppv": "precision",
    "iou": "jaccard",
    "ave_dist": "average_surface_distance",
    "haus_dist": "hausdorff",
    "avgdist": "average_hausdorff_distance",  # pymia's AverageDistance
    "hdrfdst": "hausdorff",
    "jacrd": "jaccard",
    "snsvty": "sensitivity",
    "spcfty": "specificity",
    "prcison": "precision",
    "fnr": "false_negative_rate",
    "acurcy": "accuracy",
    "fmeasr": "f_measure",
    "surfdice": "surface_dice",
    "surfovlp": "surface_overlap",
    "volsmty": "volume_similarity",
    "kappa": "cohens_kappa",
    "mutinf": "mutual_information",
    "varinfo": "variation_of_information",
    "gcoerr": "global_consistency_error",
    "adjrind": "adjusted_rand_index",
    "rndind": "rand_index",
    "iccorr": "interclass_correlation",
    "probdst": "probabilistic_distance",
    "mahlnbs": "mahalanobis",
    "refvol": "reference_volume",
    "predvol": "segmentation_volume",
    "refarea": "reference_area",
    "predarea": "segmentation_area",
}
BUILTINS.update({alias: BUILTINS[name] for alias, name in ALIASES.items()})

#: NiftyNet's metric names (its ``niftynet/evaluation`` modules) that voxflow does not compute, with
#: what to use instead; every other NiftyNet name is spelt above. (In NiftyNet distances were in
#: voxels; voxflow's are in mm, so ``average_distance`` and the Hausdorff distances differ on
#: anisotropic or non-1 mm images.)
NIFTYNET_NOT_COMPUTED: dict[str, str] = {
    "com_ref": "the reference's centre of mass, a vector; centre_of_mass_distance gives the distance (mm) "
               "between the two centres",
    "com_seg": "the segmentation's centre of mass, a vector; centre_of_mass_distance gives the distance (mm) "
               "between the two centres",
    "connected_elements": "per-component counts; set [SEGMENTATION] evaluation_units = cc for a row per component",
    "outline_error": "per-component outline error; set [SEGMENTATION] evaluation_units = cc for a row per component",
    "detection_error": "per-component detection error; set [SEGMENTATION] evaluation_units = cc for a row per component",
    "classification_accuracy": "net_classify evaluates `accuracy` (a fraction of subjects)",
    "roc": "net_classify evaluates `roc_auc` (the exact area, one class against the rest)",
}

PARAMETERS: dict[str, tuple[str, str]] = {
    "hausdorff": ("hausdorff95", "percentile"),  # hausdorff@99 == hausdorff99 (hausdorff alone: max)
    "hausdorff95": ("hausdorff95", "percentile"),
    "surface_dice": ("surface_dice", "tolerance"),  # mm
    "surface_overlap": ("surface_overlap", "tolerance"),  # mm
    "f_measure": ("f_measure", "beta"),
    "reference_area": ("reference_area", "slice_index"),
    "segmentation_area": ("segmentation_area", "slice_index"),
    "psnr": ("psnr", "data_range"),
    "ssim": ("ssim", "window"),
    "ssim_gaussian": ("ssim_gaussian", "sigma"),
}
"""Name → (registered function, keyword) for ``name@value`` spellings."""

"""NiftyNet's keys: every key NiftyNet 0.6 read, where its example configs misplaced some, and the
ones voxflow dropped (with what to do instead). The config builder reads misplaced keys with a
notice, the messages name dropped keys, and the README's NiftyNet table is generated from these.
"""

from __future__ import annotations

#: Pseudo section name under which the input-source keys are listed.
INPUT = "input"
#: Pseudo section name for "the application section" (whichever the application reads).
APPLICATION = "application"

#: Every key NiftyNet 0.6 read, by the section it read it from (its
#: ``niftynet/utilities/user_parameters_default.py`` and ``user_parameters_custom.py``, role keys
#: from each application's ``SUPPORTED_INPUT``). The README's NiftyNet table is generated from it
#: (:func:`voxflow.config.docs.render_niftynet_keys`), so every one of them says what voxflow does.
NIFTYNET_KEYS: dict[str, tuple[str, ...]] = {
    "SYSTEM": ("cuda_devices", "num_threads", "num_gpus", "model_dir", "dataset_split_file", "event_handler",
               "iteration_generator"),
    "NETWORK": ("name", "activation_function", "batch_size", "smaller_final_batch_mode", "decay", "reg_type",
                "volume_padding_size", "volume_padding_mode", "volume_padding_to_size", "window_sampling",
                "force_output_identity_resizing", "queue_length", "keep_prob", "weight_initializer",
                "bias_initializer", "weight_initializer_args", "bias_initializer_args", "normalisation", "whitening",
                "rgb_normalisation", "histogram_ref_file", "norm_type", "cutoff", "normalise_foreground_only",
                "foreground_type", "multimod_foreground_type"),
    "TRAINING": ("optimiser", "sample_per_volume", "rotation_angle", "rotation_angle_x", "rotation_angle_y",
                 "rotation_angle_z", "scaling_percentage", "isotropic_scaling", "antialiasing", "bias_field_range",
                 "bf_order", "random_flipping_axes", "do_elastic_deformation", "num_ctrl_points", "deformation_sigma",
                 "proportion_to_deform", "lr", "loss_type", "starting_iter", "save_every_n", "tensorboard_every_n",
                 "max_iter", "max_checkpoints", "validation_every_n", "validation_max_iter",
                 "exclude_fraction_for_validation", "exclude_fraction_for_inference", "vars_to_restore",
                 "vars_to_freeze", "patience", "early_stopping_mode"),
    "INFERENCE": ("spatial_window_size", "inference_iter", "dataset_to_infer", "save_seg_dir", "output_postfix",
                  "output_interp_order", "border", "fill_constant"),
    "EVALUATION": ("evaluations", "save_csv_dir"),
    INPUT: ("csv_file", "csv_data_file", "to_ohe", "path_to_search", "filename_contains", "filename_not_contains",
            "filename_removefromid", "interp_order", "loader", "pixdim", "axcodes", "spatial_window_size"),
    "SEGMENTATION": ("image", "label", "weight", "sampler", "inferred", "value", "num_classes", "output_prob",
                     "label_normalisation", "softmax", "min_sampling_ratio", "compulsory_labels", "rand_samples",
                     "min_numb_labels", "proba_connect", "evaluation_units", "do_mixup", "mixup_alpha", "mix_match"),
    "REGRESSION": ("image", "output", "weight", "sampler", "inferred", "loss_border", "error_map"),
    "CLASSIFICATION": ("image", "label", "sampler", "inferred", "num_classes", "output_prob", "label_normalisation"),
    "AUTOENCODER": ("image", "feature", "inference_type", "noise_stddev", "n_interpolations"),
    "GAN": ("image", "conditioning", "noise_size", "n_interpolations"),
    "REGISTRATION": ("fixed_image", "fixed_label", "moving_image", "moving_label", "label_normalisation"),
}

#: Sections where NiftyNet's own example configs put keys that NiftyNet read from another section,
#: and so ignored: voxflow reads them as if written in their section, with a notice (a key in both
#: places: the one in its own section is used, as NiftyNet did). A key NiftyNet read from another
#: section than voxflow does is read the same way from NiftyNet's section (:func:`relocation`).
NIFTYNET_MISPLACED: dict[str, tuple[str, ...]] = {
    "queue_length": ("SYSTEM",),  # config/default_multimodal_segmentation.ini, densevnet, vae, unet_histology, ...
    "output_prob": ("INFERENCE",),  # config/holisticnet_config.ini, config/scalenet_config.ini
    "evaluation_units": ("EVALUATION",),  # 0.4-0.6 default_multimodal_segmentation_eval.ini, unet_histology
    "window_sampling": ("TRAINING", APPLICATION),  # 0.2 config/*_config.ini; demos/GAN
    "dataset_split_file": ("TRAINING",),  # train_HighRes3D_brats15.ini
}

#: NiftyNet keys voxflow dropped, with what to do instead.
NIFTYNET_ONLY_KEYS: dict[str, str] = {
    "event_handler": "events are built into the voxflow engine",
    "iteration_generator": "iterations are built into the voxflow engine",
    "smaller_final_batch_mode": "voxflow pads the last batch",
    "bias_initializer": "biases are initialised to zeros",
    "weight_initializer_args": "choose a Keras initializer by name in `weight_initializer`",
    "bias_initializer_args": "biases are initialised to zeros",
    "rgb_normalisation": "OpenCV's RGB histogram equalisation of 2-D images is not in voxflow",
    "volume_padding_to_size": "use `volume_padding_size`",
    "force_output_identity_resizing": "not supported",
    "to_ohe": "not supported",
    "softmax": "losses take logits",
    "value": "the per-subject values of NiftyNet's CSV-reader multitask contrib are not in voxflow's segmentation",
    "do_mixup": "mixup augmentation is not in voxflow",
    "mixup_alpha": "mixup augmentation is not in voxflow",
    "mix_match": "mixup augmentation is not in voxflow",
}

#: NiftyNet keys of :data:`NIFTYNET_ONLY_KEYS` whose purpose another voxflow key serves.
NIFTYNET_REPLACED_BY: dict[str, str] = {
    "weight_initializer_args": "weight_initializer",
    "volume_padding_to_size": "volume_padding_size",
}

"""The public API surface: a name listed here may only disappear after a deprecation period.

Add names when they are added; remove one only together with its CHANGELOG entry once the
deprecation period announced there has ended.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API: dict[str, set[str]] = {
    "histomammo": {
        "__version__", "datasets", "engine", "errors", "inference", "io", "metrics", "models",
        "plot", "postprocess", "show_versions", "systems", "transforms",
    },
    "histomammo.inference": {
        "Heatmap", "MPP_TOLERANCE", "OutputExistsError", "classify_slide", "detect_slide",
        "predict_slides", "segment_slide", "slide_mpp", "tile_weights", "write_geojson",
    },
    "histomammo.errors": {
        "CheckpointError", "DataFormatError", "HistomammoError", "MissingDependencyError",
        "MissingFileError", "NonFiniteLossError",
    },
    "histomammo.io": {
        "dicom", "DicomImage", "H5Array", "hdf5", "read_dicom", "tiff", "TiffImage", "TiffLevel",
    },
    "histomammo.io.dicom": {"DEFAULT_MAX_DECOMPRESSED_BYTES", "DicomImage", "read_dicom"},
    "histomammo.io.tiff": {"TiffImage", "TiffLevel"},
    "histomammo.io.hdf5": {"H5Array"},
    "histomammo.datasets": {
        "birads", "BreCaHAD", "cbis_ddsm", "CBISDDSM", "collate_detection", "compute_mean_std",
        "export_image_folder", "GlaS", "INbreast", "inbreast", "list_images",
        "make_pcam_from_slides", "mammo_index", "MammoIndex", "MammoRecord", "patient_split",
        "PCam", "read_annotations", "read_glas_annotation", "read_glas_image", "read_grade_csv",
        "screening", "ScreeningArchive", "split_brecahad", "synthetic",
    },
    "histomammo.datasets.pcam_from_slides": {"make_pcam_from_slides"},
    "histomammo.datasets.image_folder": {"CLASS_NAMES", "export_image_folder"},
    "histomammo.datasets.stats": {"compute_mean_std"},
    "histomammo.datasets.pcam": {"decompress", "PCam"},
    "histomammo.datasets.synthetic": {
        "draw_glands", "make_brecahad", "make_cbis_ddsm", "make_glas", "make_inbreast", "make_pcam",
        "make_screening_archive", "make_slide", "restain", "screening_mammogram",
        "synthetic_mammogram", "SyntheticMammogram", "SyntheticSlide", "SYNTHETIC_STAINS",
        "write_dicom",
    },
    "histomammo.datasets.birads": {"birads_category", "BIRADS_SCORES", "follow_up", "parse_birads"},
    "histomammo.datasets.inbreast": {"INbreast", "Roi"},
    "histomammo.datasets.cbis_ddsm": {"CBISDDSM"},
    "histomammo.datasets.mammo_index": {"BuildReport", "IndexRow", "MammoIndex"},
    "histomammo.datasets.screening": {"MatchReport", "ScreeningArchive"},
    "histomammo.datasets.synthetic.pcam": {"make_pcam"},
    "histomammo.datasets.synthetic.pcam_slides": {"make_slide", "SyntheticSlide"},
    "histomammo.postprocess": {
        "duplicates", "fill_holes", "glas", "instances", "maskrcnn_instances",
        "probabilities_to_instances", "remove_small_objects", "split_weak_connections",
        "suppress_duplicates",
    },
    "histomammo.metrics.segmentation": {
        "count_score", "glas_metrics", "object_dice", "object_f1", "object_hausdorff", "pixel_dice",
    },
    "histomammo.transforms": {
        "mammo", "restore_original_size", "square_geometry", "SquareGeometry", "SquareResize",
        "stain", "tissue",
    },
    "histomammo.transforms.stain": {
        "channel_statistics", "CRC_LAB_STATISTICS", "hed_jitter", "HEDJitter",
        "macenko_stain_matrix", "MIN_TISSUE_FRACTION", "NormalizeStain", "od_to_rgb",
        "RandStainNA", "rgb_to_od", "StainNormalizer", "StainStatistics", "vahadane_stain_matrix",
    },
    "histomammo.transforms.mammo": {
        "area_resize", "breast_mask", "CropResult", "CropStages", "downscale_area", "DownscaleArea",
        "normalize_intensity", "NormalizeIntensity", "orient_left", "OrientLeft", "otsu_crop",
        "otsu_crop_stages", "otsu_threshold", "OtsuCrop", "preprocess_crop", "preprocess_naive",
        "PreprocessCrop", "PreprocessNaive", "remove_markers", "RemoveMarkers",
    },
    "histomammo.transforms.tissue": {
        "otsu_tissue_mask", "saturation_mask", "tissue_mask", "TissueMask",
    },
    "histomammo.transforms.patches.slide": {"SlidePatches"},
    "histomammo.plot": {
        "plot_crop_steps", "plot_detections", "plot_label_overlay", "plot_leaderboard",
        "plot_mammograms", "plot_naive_steps", "plot_patches", "plot_rates_vs_threshold",
        "plot_roc", "plot_segmentation_overlay", "plot_tissue_mask", "plot_training_curves",
        "save_figure",
    },
    "histomammo.plot.mammo": {"plot_crop_steps", "plot_mammograms", "plot_naive_steps"},
    "histomammo.plot.tissue": {"plot_patches", "plot_tissue_mask"},
    "histomammo.models": {
        "alexnet_grey", "alexnet_large", "all_conv_net", "all_gconv_net", "AllConvNet",
        "AllGConvNet", "calibrate_batchnorm", "create_model", "fasterrcnn_brecahad", "GCNN", "gcnn",
        "GreyAlexNet", "GreyResNet", "inception_loss", "inception_v3_transfer",
        "InceptionV3Transfer", "invariance_ratio", "list_models", "load_weights", "maskrcnn_glas",
        "p4m_densenet", "P4MDenseNet", "patch_to_image", "PatchToImageClassifier", "plain_cnn",
        "PlainCNN", "read_state_dict", "register_model", "resnet50_grey", "resnet50_patch", "UNet",
        "unet", "vgg16_gap", "VGG16GAP",
    },
    "histomammo.models.detection": {
        "ANCHOR_SIZES", "fasterrcnn_brecahad", "PAPER_IMAGE_MEAN", "PAPER_IMAGE_STD",
    },
    "histomammo.models.inception": {
        "IMAGENET_CLASSES", "inception_loss", "inception_v3_transfer", "InceptionV3Transfer",
    },
    "histomammo.models.whole_image": {
        "patch_to_image", "PatchToImageClassifier", "resnet_block", "vgg_block",
    },
    "histomammo.models.unets": {"UNet", "unet"},
    "histomammo.models.calibration": {"calibrate_batchnorm", "CALIBRATION_METHODS"},
    "histomammo.models.invariance": {"group_transforms", "invariance_ratio"},
    "histomammo.models.equivariant_allconv": {
        "all_gconv_net", "all_gconv_parameters", "AllGConvNet", "available_memory",
        "BUILD_BYTES_PER_WEIGHT", "FieldMean",
    },
    "histomammo.models.alexnet": {
        "alexnet_grey", "alexnet_large", "conv_output_size", "GreyAlexNet",
    },
    "histomammo.models.resnet": {
        "GreyResNet", "KERAS_CONV_BIASES", "resnet50_grey", "resnet50_patch",
    },
    "histomammo.models.vgg": {"vgg16_gap", "VGG16GAP"},
    "histomammo.metrics": {
        "accuracy", "aggregate_views", "average_precision", "bootstrap_ci", "classification",
        "count_score", "detection_counts", "evaluation_mask", "froc", "FROC_FP_RATES",
        "glas_metrics", "heatmap_to_detections", "slide_auc", "object_dice", "object_f1",
        "object_hausdorff", "pixel_dice", "rates_vs_threshold", "roc_auc", "roc_curve",
        "segmentation", "sensitivity_specificity", "specificity_at_sensitivity",
        "threshold_at_sensitivity",
    },
    "histomammo.metrics.classification": {
        "accuracy", "aggregate_views", "bootstrap_ci", "roc_auc", "roc_curve",
        "sensitivity_specificity", "specificity_at_sensitivity", "threshold_at_sensitivity",
    },
    "histomammo.transforms.patches": {
        "lesion_patches", "LesionPatches", "patch_class", "PATCH_CLASSES", "SlidePatches",
    },
    "histomammo.transforms.patches.lesion": {
        "lesion_patches", "LesionPatches", "patch_class", "PATCH_CLASSES",
    },
    "histomammo.plot.classification": {"plot_roc", "plot_training_curves"},
    "histomammo.engine": {
        "callbacks", "checkpoint", "distributed", "fit_recipe", "Recipe", "sampler", "Trainer",
    },
    "histomammo.engine.trainer": {"Trainer"},
    "histomammo.engine.sampler": {
        "derive_seed", "EVALUATION_STREAM", "ResumableSampler", "SAMPLE_STREAM", "SHUFFLE_STREAM",
        "stream_seed", "WORKER_STREAM",
    },
    "histomammo.engine.distributed": {
        "all_gather_objects", "all_ranks", "all_reduce_sum", "any_rank", "barrier", "cleanup",
        "communication_device", "get_rank", "get_world_size", "init_from_env", "is_distributed",
        "is_main_process", "launched_by_torchrun", "resolve_device",
    },
    "histomammo.engine.callbacks": {
        "BestCheckpoint", "Callback", "CSVLogger", "EarlyStopping", "LRMonitor", "NaNGuard",
        "Stage", "StagedUnfreeze",
    },
    "histomammo.engine.checkpoint": {
        "checkpoint_name", "latest_checkpoint", "load_checkpoint", "save_checkpoint",
    },
    "histomammo.models.allconv": {"ALL_CNN_LAYERS", "ALL_CNN_WIDTHS", "all_conv_net", "AllConvNet"},
    "histomammo.models.equivariant": {
        "conv_relu", "EquivariantClassifier", "export_module", "GCNN", "gcnn", "group_space",
        "GroupMaxPool", "GROUPS", "PointwiseLeakyReLU", "regular", "SEED_FINAL_WIDTHS",
        "SEED_WIDTHS",
    },
    "histomammo.models.equivariant_baseline": {"plain_cnn", "PlainCNN"},
    "histomammo.models.densenet_p4m": {"DenseBlock", "p4m_densenet", "P4MDenseNet"},
    "histomammo.datasets.glas": {
        "GlaS", "read_glas_annotation", "read_glas_image", "read_grade_csv",
    },
    "histomammo.datasets.synthetic.glas": {"draw_glands", "GLAS_COUNTS", "GLAS_SIZES", "make_glas"},
    "histomammo.models.maskrcnn": {"maskrcnn_glas"},
    "histomammo.transforms.letterbox": {
        "restore_original_size", "square_geometry", "SquareGeometry", "SquareResize",
    },
    "histomammo.plot.segmentation": {"plot_label_overlay", "plot_segmentation_overlay"},
    "histomammo.datasets.brecahad": {
        "BreCaHAD", "BRECAHAD_KEYS", "collate_detection", "list_images", "PAPER_SPLIT",
        "read_annotations", "split_brecahad",
    },
    "histomammo.datasets.synthetic.brecahad": {"make_brecahad"},
    "histomammo.metrics.detection": {"average_precision", "detection_counts", "rates_vs_threshold"},
    "histomammo.plot.detection": {"plot_detections", "plot_rates_vs_threshold"},
    "histomammo.postprocess.glas": {
        "fill_holes", "probabilities_to_instances", "remove_small_objects",
        "split_weak_connections",
    },
    "histomammo.postprocess.duplicates": {"suppress_duplicates"},
    "histomammo.postprocess.instances": {"maskrcnn_instances"},
    "histomammo.systems": {"brecahad", "glas", "pcam", "shen", "thesis"},
    "histomammo.systems.thesis": {
        "evaluate_whole_image", "load_inbreast", "marker_ablation_run", "oversample",
        "plot_view_inputs", "PUBLISHED", "recipe", "THESIS_EPOCHS", "thesis_recipe",
        "THESIS_SOURCE", "THESIS_TABLE_6_3", "THESIS_TABLE_6_4", "train_whole_image",
        "VIEW_CHECK_EPOCHS", "whole_image_run",
    },
    "histomammo.systems.shen": {
        "batch_balanced_cross_entropy", "BatchBalancedCrossEntropy", "IntensityShift",
        "patch_recipe", "patch_to_whole_run", "recipe", "shen_augmentation",
        "SHEN_IMAGE_BATCH_SIZE", "shen_optimizer", "SHEN_PATCH_BATCH_SIZE", "SubtractMean",
        "whole_image_recipe",
    },
    "histomammo.systems.pcam": {
        "adam_variant", "all_cnn", "all_cnn_augment", "all_cnn_learning", "gcnn_final",
        "gcnn_learning", "gcnn_run", "IMAGENET_MEAN", "IMAGENET_STD", "inception_run1",
        "inception_run2", "inception_run2_augment", "inception_transform", "patch_transform",
        "pcam_metrics", "PUBLISHED", "RandomPixelDropout", "recipe", "RECIPES",
    },
    "histomammo.systems.glas": {
        "GLAS2015_LEADERBOARD", "glas_augmentation", "GLAS_MEAN", "GLAS_STD", "LeaderboardEntry",
        "maskrcnn_evaluation_loss", "maskrcnn_input_transforms", "maskrcnn_recipe",
        "MASKRCNN_SCHEDULE", "METRICS", "PAPER_TEST_LOSS_AND_COUNT", "PAPER_UNET_VAL_LOSS",
        "predict_unet", "rank_against_leaderboard", "recipe", "score_unet", "train_maskrcnn",
        "train_unet", "unet_input_transforms", "unet_loss", "unet_recipe", "unet_run",
    },
    "histomammo.systems.brecahad": {
        "brecahad_recipe", "build_detector", "detections_caption", "detector_run", "evaluate_test",
        "load_splits", "paper_augmentation", "PAPER_RECIPE", "PatchEpoch", "PUBLISHED", "recipe",
        "save_figures", "train",
    },
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_public_names_exist(module_name):
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    missing = PUBLIC_API[module_name] - exported
    assert not missing, f"{module_name} lost public names {sorted(missing)} without a deprecation"
    for name in PUBLIC_API[module_name]:
        getattr(module, name)


@pytest.mark.parametrize("module_name", sorted(PUBLIC_API))
def test_every_exported_name_is_listed(module_name):
    module = importlib.import_module(module_name)
    unlisted = set(module.__all__) - PUBLIC_API[module_name]
    assert not unlisted, f"add {sorted(unlisted)} to PUBLIC_API (a public name is forever)"

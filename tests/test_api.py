"""The public API surface: a name listed here may only disappear after a deprecation period.

Add names when they are added; remove one only together with its CHANGELOG entry once the
deprecation period announced there has ended.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API: dict[str, set[str]] = {
    "histomammo": {
        "__version__", "datasets", "engine", "errors", "io", "metrics", "models", "plot",
        "postprocess", "transforms",
    },
    "histomammo.errors": {
        "HistomammoError",
        "DataFormatError",
        "MissingFileError",
        "MissingDependencyError",
        "CheckpointError",
        "NonFiniteLossError",
    },
    "histomammo.io": {
        "DicomImage", "read_dicom", "TiffImage", "TiffLevel", "H5Array", "dicom", "tiff", "hdf5",
    },
    "histomammo.io.dicom": {"DEFAULT_MAX_DECOMPRESSED_BYTES", "DicomImage", "read_dicom"},
    "histomammo.io.tiff": {"TiffImage", "TiffLevel"},
    "histomammo.io.hdf5": {"H5Array"},
    "histomammo.datasets": {
        "synthetic", "PCam", "export_image_folder", "compute_mean_std", "make_pcam_from_slides",
        "birads", "cbis_ddsm", "inbreast", "mammo_index", "screening", "CBISDDSM", "INbreast",
        "MammoIndex", "MammoRecord", "ScreeningArchive", "patient_split",
    },
    "histomammo.datasets.pcam_from_slides": {"make_pcam_from_slides"},
    "histomammo.datasets.image_folder": {"CLASS_NAMES", "export_image_folder"},
    "histomammo.datasets.stats": {"compute_mean_std"},
    "histomammo.datasets.pcam": {"PCam", "decompress"},
    "histomammo.datasets.synthetic": {
        "write_dicom", "synthetic_mammogram", "make_pcam", "SyntheticSlide", "make_slide",
        "SyntheticMammogram", "screening_mammogram", "make_inbreast", "make_cbis_ddsm",
        "make_screening_archive",
    },
    "histomammo.datasets.birads": {"BIRADS_SCORES", "birads_category", "follow_up", "parse_birads"},
    "histomammo.datasets.inbreast": {"INbreast", "Roi"},
    "histomammo.datasets.cbis_ddsm": {"CBISDDSM"},
    "histomammo.datasets.mammo_index": {"BuildReport", "IndexRow", "MammoIndex"},
    "histomammo.datasets.screening": {"MatchReport", "ScreeningArchive"},
    "histomammo.datasets.synthetic.pcam": {"make_pcam"},
    "histomammo.datasets.synthetic.pcam_slides": {"SyntheticSlide", "make_slide"},
    "histomammo.models": {"create_model", "list_models", "register_model"},
    "histomammo.metrics.glas_leaderboard": {
        "GLAS2015_LEADERBOARD", "METRICS", "LeaderboardEntry", "rank_against_leaderboard",
    },
    "histomammo.postprocess": {
        "fill_holes", "probabilities_to_instances", "remove_small_objects",
        "split_weak_connections",
    },
    "histomammo.metrics.segmentation": {
        "glas_metrics", "object_f1", "object_dice", "object_hausdorff", "count_score",
        "pixel_dice",
    },
    "histomammo.transforms": {"mammo", "tissue"},
    "histomammo.transforms.mammo": {
        "CropResult", "CropStages", "otsu_crop_stages", "DownscaleArea", "NormalizeIntensity",
        "OrientLeft", "OtsuCrop", "PreprocessCrop", "PreprocessNaive", "RemoveMarkers",
        "area_resize", "breast_mask", "downscale_area", "normalize_intensity", "orient_left",
        "otsu_crop", "otsu_threshold", "preprocess_crop", "preprocess_naive", "remove_markers",
    },
    "histomammo.transforms.tissue": {
        "TissueMask", "otsu_tissue_mask", "saturation_mask", "tissue_mask",
    },
    "histomammo.transforms.patches.slide": {"SlidePatches"},
    "histomammo.plot": {
        "leaderboard", "plot_patches", "plot_tissue_mask", "plot_crop_steps", "plot_mammograms",
        "plot_naive_steps", "plot_roc", "plot_training_curves",
    },
    "histomammo.plot.mammo": {"plot_crop_steps", "plot_mammograms", "plot_naive_steps"},
    "histomammo.plot.tissue": {"plot_patches", "plot_tissue_mask"},
    "histomammo.models.alexnet": {
        "GreyAlexNet", "alexnet_grey", "alexnet_large", "conv_output_size",
    },
    "histomammo.models.resnet": {
        "GreyResNet", "resnet50_grey", "resnet50_patch", "KERAS_CONV_BIASES",
    },
    "histomammo.models.vgg": {"VGG16GAP", "vgg16_gap"},
    "histomammo.models.patch_to_image": {
        "PatchToImageClassifier", "patch_to_image", "vgg_block", "resnet_block",
    },
    "histomammo.metrics": {
        "classification", "glas_leaderboard", "segmentation", "roc_curve", "roc_auc", "accuracy", "sensitivity_specificity",
        "threshold_at_sensitivity", "specificity_at_sensitivity", "aggregate_views",
        "bootstrap_ci",
    },
    "histomammo.metrics.classification": {
        "roc_curve", "roc_auc", "accuracy", "sensitivity_specificity",
        "threshold_at_sensitivity", "specificity_at_sensitivity", "aggregate_views",
        "bootstrap_ci",
    },
    "histomammo.transforms.patches": {
        "PATCH_CLASSES", "LesionPatches", "patch_class", "lesion_patches", "SlidePatches",
    },
    "histomammo.transforms.patches.lesion": {
        "PATCH_CLASSES", "LesionPatches", "patch_class", "lesion_patches",
    },
    "histomammo.transforms.augment": {
        "pcam", "shen", "IntensityShift", "SubtractMean", "mean_grey",
    },
    "histomammo.engine.recipes": {
        "pcam", "thesis", "shen", "ThesisRecipe", "oversample", "shen_patch_stages",
        "shen_whole_image_stages", "shen_optimizer", "batch_balanced_cross_entropy",
        "BatchBalancedCrossEntropy",
    },
    "histomammo.engine.recipes.thesis": {
        "ThesisRecipe", "thesis", "oversample", "THESIS_EPOCHS", "VIEW_CHECK_EPOCHS",
    },
    "histomammo.engine.recipes.shen": {
        "shen_patch_stages", "shen_whole_image_stages", "shen_optimizer",
        "batch_balanced_cross_entropy", "BatchBalancedCrossEntropy", "SHEN_PATCH_BATCH_SIZE",
        "SHEN_IMAGE_BATCH_SIZE",
    },
    "histomammo.plot.classification": {"plot_roc", "plot_training_curves"},
    "histomammo.metrics._published_mammo": {
        "THESIS_TABLE_6_3", "THESIS_TABLE_6_4", "THESIS_SOURCE",
    },
    "histomammo.engine": {"Trainer", "callbacks", "checkpoint", "distributed", "sampler"},
    "histomammo.engine.trainer": {"Trainer"},
    "histomammo.engine.sampler": {
        "ResumableSampler", "derive_seed", "stream_seed", "SHUFFLE_STREAM", "WORKER_STREAM",
        "EVALUATION_STREAM", "SAMPLE_STREAM",
    },
    "histomammo.engine.distributed": {
        "launched_by_torchrun", "resolve_device", "init_from_env", "is_distributed", "get_rank",
        "get_world_size", "is_main_process", "barrier", "all_reduce_sum", "all_gather_objects",
        "communication_device", "any_rank", "all_ranks", "cleanup",
    },
    "histomammo.engine.callbacks": {
        "Callback", "BestCheckpoint", "EarlyStopping", "CSVLogger", "LRMonitor",
        "StagedUnfreeze", "Stage", "NaNGuard",
    },
    "histomammo.engine.checkpoint": {
        "checkpoint_name", "save_checkpoint", "load_checkpoint", "latest_checkpoint",
    },
    "histomammo.transforms.augment.pcam": {
        "IMAGENET_MEAN", "IMAGENET_STD", "RandomPixelDropout", "all_cnn_augment",
        "inception_run2_augment", "inception_transform", "patch_transform",
    },
    "histomammo.engine.recipes.pcam": {
        "PUBLISHED", "PCamRecipe", "adam_variant", "all_cnn", "gcnn_final", "gcnn_learning",
        "inception_run1",
        "inception_run2", "pcam_metrics", "tumour_probability",
    },
    "histomammo.models.inception": {
        "IMAGENET_CLASSES", "InceptionV3Transfer", "inception_loss", "inception_v3_transfer",
    },
    "histomammo.models.allconv": {"ALL_CNN_WIDTHS", "ALL_CNN_LAYERS", "AllConvNet", "all_conv_net"},
    "histomammo.models.equivariant": {
        "GROUPS", "SEED_WIDTHS", "SEED_FINAL_WIDTHS", "EquivariantClassifier", "GCNN", "gcnn",
        "PointwiseLeakyReLU", "GroupMaxPool", "export_module", "regular", "conv_relu",
        "group_space",
    },
    "histomammo.models.equivariant_allconv": {"AllGConvNet", "FieldMean", "all_gconv_net"},
    "histomammo.models.equivariant_baseline": {"PlainCNN", "plain_cnn"},
    "histomammo.models.densenet_p4m": {"DenseBlock", "P4MDenseNet", "p4m_densenet"},
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

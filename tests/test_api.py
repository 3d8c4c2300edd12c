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
    "histomammo.io.dicom": {"DicomImage", "read_dicom"},
    "histomammo.io.tiff": {"TiffImage", "TiffLevel"},
    "histomammo.io.hdf5": {"H5Array"},
    "histomammo.datasets": {
        "synthetic", "GlaS", "GlaSRecord", "read_glas_annotation", "read_glas_image",
        "read_grade_csv",
    },
    "histomammo.datasets.glas": {
        "GlaS", "GlaSRecord", "read_glas_annotation", "read_glas_image", "read_grade_csv",
    },
    "histomammo.datasets.synthetic": {
        "write_dicom", "synthetic_mammogram", "make_glas", "draw_glands",
    },
    "histomammo.datasets.synthetic.glas": {"make_glas", "draw_glands", "GLAS_COUNTS", "GLAS_SIZES"},
    "histomammo.models.unet": {"UNet", "unet"},
    "histomammo.models.maskrcnn": {"maskrcnn_glas", "maskrcnn_instances"},
    "histomammo.transforms.letterbox": {
        "SquareGeometry", "SquareResize", "restore_original_size", "square_geometry",
    },
    "histomammo.transforms.augment.glas": {
        "GLAS_MEAN", "GLAS_STD", "glas_augmentation", "maskrcnn_input_transforms",
        "unet_input_transforms",
    },
    "histomammo.engine.recipes.glas": {
        "UNetPhase", "UNET_PHASES", "PAPER_UNET_VAL_LOSS", "PAPER_TEST_LOSS_AND_COUNT",
        "MASKRCNN_SCHEDULE", "unet_optimizer", "unet_loss", "train_unet", "maskrcnn_optimizer",
        "detection_collate", "maskrcnn_evaluation_loss", "train_maskrcnn",
    },
    "histomammo.plot.segmentation": {"label_overlay", "segmentation_overlay"},
    "histomammo.models": {"create_model", "list_models", "register_model"},
    "histomammo.metrics": {"glas_leaderboard", "segmentation"},
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
    "histomammo.transforms": {
        "SquareGeometry", "SquareResize", "restore_original_size", "square_geometry",
    },
    "histomammo.transforms.patches": set(),
    "histomammo.transforms.augment": {
        "GLAS_MEAN", "GLAS_STD", "glas_augmentation", "maskrcnn_input_transforms",
        "unet_input_transforms",
    },
    "histomammo.engine.recipes": {"glas"},
    "histomammo.plot": {"leaderboard", "label_overlay", "segmentation_overlay"},
    "histomammo.engine": {"Trainer", "callbacks", "checkpoint", "distributed", "sampler"},
    "histomammo.engine.trainer": {"Trainer"},
    "histomammo.engine.sampler": {"ResumableSampler", "derive_seed"},
    "histomammo.engine.distributed": {
        "launched_by_torchrun", "resolve_device", "init_from_env", "is_distributed", "get_rank",
        "get_world_size", "is_main_process", "barrier", "all_reduce_sum", "all_gather_objects",
        "cleanup",
    },
    "histomammo.engine.callbacks": {
        "Callback", "BestCheckpoint", "EarlyStopping", "CSVLogger", "LRMonitor",
        "StagedUnfreeze", "Stage", "NaNGuard",
    },
    "histomammo.engine.checkpoint": {
        "checkpoint_name", "save_checkpoint", "load_checkpoint", "latest_checkpoint",
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

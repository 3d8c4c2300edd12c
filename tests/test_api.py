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
        "transforms",
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
        "synthetic",
        "BreCaHAD", "read_annotations", "split_brecahad", "collate_detection",
    },
    "histomammo.datasets.brecahad": {
        "BRECAHAD_KEYS", "PAPER_SPLIT", "BreCaHAD", "collate_detection", "paper_augmentation",
        "read_annotations", "split_brecahad",
    },
    "histomammo.datasets.synthetic": {
        "write_dicom", "synthetic_mammogram",
        "make_brecahad",
    },
    "histomammo.datasets.synthetic.brecahad": {"make_brecahad"},
    "histomammo.models": {
        "create_model", "list_models", "register_model",
        "fasterrcnn_brecahad", "calibrate_frozen_batchnorm",
    },
    "histomammo.models.detection": {
        "ANCHOR_SIZES", "PAPER_IMAGE_MEAN", "PAPER_IMAGE_STD", "calibrate_frozen_batchnorm",
        "fasterrcnn_brecahad",
    },
    "histomammo.metrics": {
        "rates_vs_threshold", "average_precision", "detection_counts",
    },
    "histomammo.metrics.detection": {
        "PAPER_TUMOUR_RECALL", "average_precision", "detection_counts", "rates_vs_threshold",
    },
    "histomammo.transforms": set(),
    "histomammo.transforms.patches": set(),
    "histomammo.transforms.augment": set(),
    "histomammo.engine.recipes": {
        "brecahad_recipe", "PatchEpoch",
    },
    "histomammo.engine.recipes.brecahad": {"PAPER_RECIPE", "PatchEpoch", "brecahad_recipe"},
    "histomammo.plot": {
        "rates_vs_threshold", "detections",
    },
    "histomammo.plot.detection": {"detections", "rates_vs_threshold"},
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

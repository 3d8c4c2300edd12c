"""Augmentation sets of the seed papers, built from ``torchvision.transforms.v2``."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["pcam"],
    attributes={
        "_shen": ["shen", "IntensityShift", "SubtractMean", "mean_grey"],
        "glas": ["GLAS_MEAN", "GLAS_STD", "glas_augmentation", "maskrcnn_input_transforms",
                 "unet_input_transforms"],
    },
)

"""Patches: cutting training patches from mammograms' lesion masks and from large slides."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "slide": ["SlidePatches"],
        "lesion": ["PATCH_CLASSES", "LesionPatches", "patch_class", "lesion_patches"],
    },
)

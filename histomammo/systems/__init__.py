"""The five papers, each in one module: its recipes, losses, augmentations, workflows and
published numbers, built from the layers below (the top layer: nothing imports it).

| Module | System |
| --- | --- |
| [`systems.thesis`][histomammo.systems.thesis] | whole-mammogram AlexNet / ResNet-50 (INbreast, tables 6.3-6.4) |
| [`systems.shen`][histomammo.systems.shen] | patch to whole-image classifier (CBIS-DDSM) |
| [`systems.pcam`][histomammo.systems.pcam] | Inception, All-CNN and G-CNN on PatchCamelyon |
| [`systems.glas`][histomammo.systems.glas] | U-Net and Mask R-CNN gland segmentation (GlaS 2015) |
| [`systems.brecahad`][histomammo.systems.brecahad] | Faster R-CNN tumour-cell detection (BreCaHAD) |

Each has ``recipe(name, model, **options) -> histomammo.engine.Recipe`` and named functions.
"""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

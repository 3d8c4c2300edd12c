"""Shen et al., "Deep learning to improve breast cancer detection on screening mammography"
(``seeds/patch_to_whole_image_classifier.txt``): a patch classifier trained on S10 patches of
CBIS-DDSM, converted into a whole-image classifier.

- recipes: [`recipe`][histomammo.systems.shen.recipe] (``"patch"``, ``"whole_image"``),
  [`patch_recipe`][histomammo.systems.shen.patch_recipe],
  [`whole_image_recipe`][histomammo.systems.shen.whole_image_recipe];
- loss: [`batch_balanced_cross_entropy`][histomammo.systems.shen.batch_balanced_cross_entropy];
- augmentation: [`shen_augmentation`][histomammo.systems.shen.shen_augmentation],
  ``IntensityShift``, ``SubtractMean``;
- workflow: [`patch_to_whole_run`][histomammo.systems.shen.patch_to_whole_run].

The seed's text gives the methods only (no table of results), so there are no published
numbers to compare with here.
"""

# eager: importing a paper's module is asking for it (``import histomammo`` still loads
# no system), and static imports let the API docs and editors see every name
from histomammo.systems.shen._augment import IntensityShift, SubtractMean, shen_augmentation
from histomammo.systems.shen._recipe import (
    SHEN_IMAGE_BATCH_SIZE,
    SHEN_PATCH_BATCH_SIZE,
    BatchBalancedCrossEntropy,
    batch_balanced_cross_entropy,
    patch_recipe,
    recipe,
    shen_optimizer,
    whole_image_recipe,
)
from histomammo.systems.shen._workflow import patch_to_whole_run

__all__ = ["batch_balanced_cross_entropy", "BatchBalancedCrossEntropy", "IntensityShift",
           "patch_recipe", "patch_to_whole_run", "recipe", "shen_augmentation", "SHEN_IMAGE_BATCH_SIZE",
           "shen_optimizer", "SHEN_PATCH_BATCH_SIZE", "SubtractMean", "whole_image_recipe"]

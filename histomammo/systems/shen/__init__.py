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

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_recipe": ["recipe", "patch_recipe", "whole_image_recipe", "shen_optimizer",
                    "batch_balanced_cross_entropy", "BatchBalancedCrossEntropy",
                    "SHEN_PATCH_BATCH_SIZE", "SHEN_IMAGE_BATCH_SIZE"],
        "_augment": ["shen_augmentation", "IntensityShift", "SubtractMean"],
        "_workflow": ["patch_to_whole_run"],
    },
)

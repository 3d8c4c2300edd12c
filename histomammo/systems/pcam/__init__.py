"""The PatchCamelyon report (``seeds/pcam_gcnn.txt``): Inception v3 transfer, the All-CNN and
P4/P4M G-CNNs on 96x96 PCam patches, scored by the tumour probability.

- recipes: [`recipe`][histomammo.systems.pcam.recipe] (``"inception_run1"``,
  ``"inception_run2"``, ``"all_cnn"``, ``"all_cnn_learning"``, ``"gcnn_final"``,
  ``"gcnn_learning"``), each also a function, and
  [`adam_variant`][histomammo.systems.pcam.adam_variant];
- evaluation: [`pcam_metrics`][histomammo.systems.pcam.pcam_metrics],
  [`tumour_probability`][histomammo.systems.pcam.tumour_probability];
- input pipelines and augmentations: [`patch_transform`][histomammo.systems.pcam.patch_transform],
  [`inception_transform`][histomammo.systems.pcam.inception_transform],
  [`inception_run2_augment`][histomammo.systems.pcam.inception_run2_augment],
  [`all_cnn_augment`][histomammo.systems.pcam.all_cnn_augment];
- workflow: [`gcnn_run`][histomammo.systems.pcam.gcnn_run];
- published numbers: [`PUBLISHED`][histomammo.systems.pcam.PUBLISHED].
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_recipe": ["RECIPES", "recipe", "adam_variant", "all_cnn", "all_cnn_learning",
                    "gcnn_final", "gcnn_learning", "inception_run1", "inception_run2",
                    "pcam_metrics", "tumour_probability"],
        "_augment": ["IMAGENET_MEAN", "IMAGENET_STD", "RandomPixelDropout", "all_cnn_augment",
                     "inception_run2_augment", "inception_transform", "patch_transform"],
        "_published": ["PUBLISHED"],
        "_workflow": ["gcnn_run"],
    },
)

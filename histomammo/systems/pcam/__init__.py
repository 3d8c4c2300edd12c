"""The PatchCamelyon report (``seeds/pcam_gcnn.txt``): Inception v3 transfer, the All-CNN and
P4/P4M G-CNNs on 96x96 PCam patches, scored by the tumour probability.

- recipes: [`recipe`][histomammo.systems.pcam.recipe] (``"inception_run1"``,
  ``"inception_run2"``, ``"all_cnn"``, ``"all_cnn_learning"``, ``"gcnn_final"``,
  ``"gcnn_learning"``), each also a function, and
  [`adam_variant`][histomammo.systems.pcam.adam_variant];
- evaluation: [`pcam_metrics`][histomammo.systems.pcam.pcam_metrics];
- input pipelines and augmentations: [`patch_transform`][histomammo.systems.pcam.patch_transform],
  [`inception_transform`][histomammo.systems.pcam.inception_transform],
  [`inception_run2_augment`][histomammo.systems.pcam.inception_run2_augment],
  [`all_cnn_augment`][histomammo.systems.pcam.all_cnn_augment];
- workflows: [`gcnn_run`][histomammo.systems.pcam.gcnn_run];
  [`slide_heatmap_run`][histomammo.systems.pcam.slide_heatmap_run] (whole-slide heatmap, FROC and
  slide AUC) and its figure [`plot_heatmap_overlay`][histomammo.systems.pcam.plot_heatmap_overlay];
- published numbers: ``PUBLISHED``.
"""

# eager: importing a paper's module is asking for it (``import histomammo`` still loads
# no system), and static imports let the API docs and editors see every name
from histomammo.systems.pcam._augment import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RandomPixelDropout,
    all_cnn_augment,
    inception_run2_augment,
    inception_transform,
    patch_transform,
)
from histomammo.systems.pcam._published import PUBLISHED
from histomammo.systems.pcam._recipe import (
    RECIPES,
    adam_variant,
    all_cnn,
    all_cnn_learning,
    gcnn_final,
    gcnn_learning,
    inception_run1,
    inception_run2,
    pcam_metrics,
    recipe,
)
from histomammo.systems.pcam._slides import plot_heatmap_overlay, slide_heatmap_run
from histomammo.systems.pcam._workflow import gcnn_run

__all__ = ["adam_variant", "all_cnn", "all_cnn_augment", "all_cnn_learning", "gcnn_final",
           "gcnn_learning", "gcnn_run", "IMAGENET_MEAN", "IMAGENET_STD", "inception_run1",
           "inception_run2", "inception_run2_augment", "inception_transform", "patch_transform",
           "pcam_metrics", "plot_heatmap_overlay", "PUBLISHED", "RandomPixelDropout", "recipe",
           "RECIPES", "slide_heatmap_run"]

"""The whole-mammogram thesis (``seeds/mammography_whole_image_thesis.txt``): randomly
initialised AlexNet / ResNet-50 on whole, cropped mammograms, cancer vs. no cancer.

- recipes: [`recipe`][histomammo.systems.thesis.recipe] (by network),
  [`thesis_recipe`][histomammo.systems.thesis.thesis_recipe],
  [`oversample`][histomammo.systems.thesis.oversample];
- workflow: [`load_inbreast`][histomammo.systems.thesis.load_inbreast],
  [`train_whole_image`][histomammo.systems.thesis.train_whole_image],
  [`evaluate_whole_image`][histomammo.systems.thesis.evaluate_whole_image],
  [`whole_image_run`][histomammo.systems.thesis.whole_image_run],
  [`marker_ablation_run`][histomammo.systems.thesis.marker_ablation_run];
- published numbers: tables 6.3 and 6.4 (``PUBLISHED``).
"""

# eager: importing a paper's module is asking for it (``import histomammo`` still loads
# no system), and static imports let the API docs and editors see every name
from histomammo.systems.thesis._published import (
    PUBLISHED,
    THESIS_SOURCE,
    THESIS_TABLE_6_3,
    THESIS_TABLE_6_4,
)
from histomammo.systems.thesis._recipe import (
    THESIS_EPOCHS,
    VIEW_CHECK_EPOCHS,
    oversample,
    recipe,
    thesis_recipe,
)
from histomammo.systems.thesis._workflow import (
    evaluate_whole_image,
    load_inbreast,
    marker_ablation_run,
    plot_view_inputs,
    train_whole_image,
    whole_image_run,
)

__all__ = ["evaluate_whole_image", "load_inbreast", "marker_ablation_run", "oversample",
           "plot_view_inputs", "PUBLISHED", "recipe", "THESIS_EPOCHS", "thesis_recipe", "THESIS_SOURCE",
           "THESIS_TABLE_6_3", "THESIS_TABLE_6_4", "train_whole_image", "VIEW_CHECK_EPOCHS",
           "whole_image_run"]

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
- published numbers: tables 6.3 and 6.4 ([`PUBLISHED`][histomammo.systems.thesis.PUBLISHED]).
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_recipe": ["recipe", "thesis_recipe", "oversample", "THESIS_EPOCHS", "VIEW_CHECK_EPOCHS"],
        "_published": ["PUBLISHED", "THESIS_TABLE_6_3", "THESIS_TABLE_6_4", "THESIS_SOURCE"],
        "_workflow": ["load_inbreast", "train_whole_image", "evaluate_whole_image",
                      "whole_image_run", "marker_ablation_run", "plot_view_inputs"],
    },
)

"""The BreCaHAD paper (``seeds/brecahad_faster_rcnn.txt``): a Faster R-CNN that finds tumour
cells in H&E patches, scored by the true-positive and false-discovery rates per threshold.

- recipe: [`recipe`][histomammo.systems.brecahad.recipe] (``"paper"``),
  [`brecahad_recipe`][histomammo.systems.brecahad.brecahad_recipe] and its
  [`PatchEpoch`][histomammo.systems.brecahad.PatchEpoch] callback;
- augmentation: [`paper_augmentation`][histomammo.systems.brecahad.paper_augmentation];
- workflow: [`load_splits`][histomammo.systems.brecahad.load_splits],
  [`build_detector`][histomammo.systems.brecahad.build_detector],
  [`train`][histomammo.systems.brecahad.train],
  [`evaluate_test`][histomammo.systems.brecahad.evaluate_test],
  [`save_figures`][histomammo.systems.brecahad.save_figures],
  [`detector_run`][histomammo.systems.brecahad.detector_run];
- published numbers: [`PUBLISHED`][histomammo.systems.brecahad.PUBLISHED] (99.02% of the
  tumour cells found at the lowest threshold).
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_recipe": ["PAPER_RECIPE", "PUBLISHED", "PatchEpoch", "brecahad_recipe",
                    "paper_augmentation", "recipe"],
        "_workflow": ["build_detector", "detections_caption", "detector_run", "evaluate_test",
                      "load_splits", "save_figures", "train"],
    },
)

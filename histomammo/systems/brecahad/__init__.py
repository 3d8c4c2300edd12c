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
- published numbers: ``PUBLISHED`` (99.02% of the
  tumour cells found at the lowest threshold).
"""

# eager: importing a paper's module is asking for it (``import histomammo`` still loads
# no system), and static imports let the API docs and editors see every name
from histomammo.systems.brecahad._recipe import (
    PAPER_RECIPE,
    PUBLISHED,
    PatchEpoch,
    brecahad_recipe,
    paper_augmentation,
    recipe,
)
from histomammo.systems.brecahad._workflow import (
    build_detector,
    detections_caption,
    detector_run,
    evaluate_test,
    load_splits,
    save_figures,
    train,
)

__all__ = ["brecahad_recipe", "build_detector", "detections_caption", "detector_run",
           "evaluate_test", "load_splits", "paper_augmentation", "PAPER_RECIPE", "PatchEpoch",
           "PUBLISHED", "recipe", "save_figures", "train"]

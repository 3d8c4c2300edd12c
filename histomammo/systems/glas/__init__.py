"""The GlaS paper (``seeds/glas_unet_maskrcnn.txt``): U-Net and Mask R-CNN gland
segmentation on the GlaS@MICCAI 2015 release, ranked on the challenge's table.

- recipes: [`recipe`][histomammo.systems.glas.recipe] (``"unet"``, ``"maskrcnn"``),
  [`unet_recipe`][histomammo.systems.glas.unet_recipe] (two phases),
  [`maskrcnn_recipe`][histomammo.systems.glas.maskrcnn_recipe];
- losses: [`unet_loss`][histomammo.systems.glas.unet_loss],
  [`maskrcnn_evaluation_loss`][histomammo.systems.glas.maskrcnn_evaluation_loss];
- augmentation and inputs: [`glas_augmentation`][histomammo.systems.glas.glas_augmentation],
  [`unet_input_transforms`][histomammo.systems.glas.unet_input_transforms],
  [`maskrcnn_input_transforms`][histomammo.systems.glas.maskrcnn_input_transforms];
- workflows: [`train_unet`][histomammo.systems.glas.train_unet],
  [`train_maskrcnn`][histomammo.systems.glas.train_maskrcnn],
  [`predict_unet`][histomammo.systems.glas.predict_unet],
  [`score_unet`][histomammo.systems.glas.score_unet], [`unet_run`][histomammo.systems.glas.unet_run];
- published numbers: the challenge table
  ([`GLAS2015_LEADERBOARD`][histomammo.systems.glas.GLAS2015_LEADERBOARD],
  [`rank_against_leaderboard`][histomammo.systems.glas.rank_against_leaderboard]) and the
  paper's losses and count scores.
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_recipe": ["MASKRCNN_SCHEDULE", "recipe", "unet_recipe", "unet_loss", "train_unet",
                    "maskrcnn_recipe", "maskrcnn_evaluation_loss", "train_maskrcnn"],
        "_augment": ["GLAS_MEAN", "GLAS_STD", "glas_augmentation", "maskrcnn_input_transforms",
                     "unet_input_transforms"],
        "_leaderboard": ["PAPER_TEST_LOSS_AND_COUNT", "PAPER_UNET_VAL_LOSS",
                         "GLAS2015_LEADERBOARD", "METRICS", "LeaderboardEntry",
                         "rank_against_leaderboard"],
        "_workflow": ["predict_unet", "score_unet", "unet_run"],
    },
)

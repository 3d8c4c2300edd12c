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
  (``GLAS2015_LEADERBOARD``,
  [`rank_against_leaderboard`][histomammo.systems.glas.rank_against_leaderboard]) and the
  paper's losses and count scores.
"""

# eager: importing a paper's module is asking for it (``import histomammo`` still loads
# no system), and static imports let the API docs and editors see every name
from histomammo.systems.glas._augment import (
    GLAS_MEAN,
    GLAS_STD,
    glas_augmentation,
    maskrcnn_input_transforms,
    unet_input_transforms,
)
from histomammo.systems.glas._leaderboard import (
    GLAS2015_LEADERBOARD,
    METRICS,
    PAPER_TEST_LOSS_AND_COUNT,
    PAPER_UNET_VAL_LOSS,
    LeaderboardEntry,
    rank_against_leaderboard,
)
from histomammo.systems.glas._recipe import (
    MASKRCNN_SCHEDULE,
    maskrcnn_evaluation_loss,
    maskrcnn_recipe,
    recipe,
    train_maskrcnn,
    train_unet,
    unet_loss,
    unet_recipe,
)
from histomammo.systems.glas._workflow import predict_unet, score_unet, unet_run

__all__ = ["GLAS2015_LEADERBOARD", "glas_augmentation", "GLAS_MEAN", "GLAS_STD",
           "LeaderboardEntry", "maskrcnn_evaluation_loss", "maskrcnn_input_transforms",
           "maskrcnn_recipe", "MASKRCNN_SCHEDULE", "METRICS", "PAPER_TEST_LOSS_AND_COUNT",
           "PAPER_UNET_VAL_LOSS", "predict_unet", "rank_against_leaderboard", "recipe", "score_unet",
           "train_maskrcnn", "train_unet", "unet_input_transforms", "unet_loss", "unet_recipe",
           "unet_run"]

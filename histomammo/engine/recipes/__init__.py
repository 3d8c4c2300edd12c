"""Published training schedules: one module per seed system, each a documented function that
returns the optimizer, scheduler and callbacks the paper describes (epoch counts are
parameters; the defaults are the paper's). Recipes are engine callbacks and plain functions,
never new training loops."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["thesis", "shen", "pcam", "glas"],
    attributes={
        "brecahad": ["brecahad_recipe", "PatchEpoch"],
        "thesis": ["ThesisRecipe", "oversample"],
        "shen": ["shen_patch_stages", "shen_whole_image_stages", "shen_optimizer",
                 "batch_balanced_cross_entropy", "BatchBalancedCrossEntropy"],
    },
)

"""Training engine: [`Trainer`][histomammo.engine.Trainer] with exact resume, AMP, DDP under
torchrun, callbacks; [`Recipe`][histomammo.engine.Recipe], the one type of a training schedule."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["callbacks", "checkpoint", "distributed", "sampler"],
    attributes={"trainer": ["Trainer"], "_recipe": ["Recipe"], "_fit": ["fit_recipe"]},
)

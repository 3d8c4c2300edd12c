"""Training engine: [`Trainer`][histomammo.engine.Trainer] with exact resume, AMP, DDP under
torchrun, callbacks; [`Recipe`][histomammo.engine.Recipe], the one type of a training schedule."""

from typing import TYPE_CHECKING

from histomammo._lazy import attach

if TYPE_CHECKING:  # the lazy names, for the API docs and type checkers
    from histomammo.engine._fit import fit_recipe as fit_recipe
    from histomammo.engine._recipe import Recipe as Recipe

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["callbacks", "checkpoint", "distributed", "sampler"],
    attributes={"trainer": ["Trainer"], "_recipe": ["Recipe"], "_fit": ["fit_recipe"]},
)

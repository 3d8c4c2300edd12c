"""Training engine: [`Trainer`][histomammo.engine.Trainer] with exact resume, AMP, DDP under
torchrun, callbacks; [`Recipe`][histomammo.engine.Recipe], the one type of a training schedule."""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

"""Public names of ``histomammo.engine``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.engine import callbacks as callbacks
from histomammo.engine import checkpoint as checkpoint
from histomammo.engine import distributed as distributed
from histomammo.engine import sampler as sampler
from histomammo.engine._fit import fit_recipe as fit_recipe
from histomammo.engine._recipe import Recipe as Recipe
from histomammo.engine.trainer import Trainer as Trainer

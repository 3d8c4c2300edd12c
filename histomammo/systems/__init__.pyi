"""Public names of ``histomammo.systems``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.systems import brecahad as brecahad
from histomammo.systems import glas as glas
from histomammo.systems import pcam as pcam
from histomammo.systems import shen as shen
from histomammo.systems import thesis as thesis

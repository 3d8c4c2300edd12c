"""Public names of ``histomammo.transforms``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.transforms import mammo as mammo
from histomammo.transforms import stain as stain
from histomammo.transforms import tissue as tissue
from histomammo.transforms.letterbox import SquareGeometry as SquareGeometry
from histomammo.transforms.letterbox import SquareResize as SquareResize
from histomammo.transforms.letterbox import restore_original_size as restore_original_size
from histomammo.transforms.letterbox import square_geometry as square_geometry

"""Public names of ``histomammo.transforms.patches``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.transforms.patches.lesion import PATCH_CLASSES as PATCH_CLASSES
from histomammo.transforms.patches.lesion import LesionPatches as LesionPatches
from histomammo.transforms.patches.lesion import lesion_patches as lesion_patches
from histomammo.transforms.patches.lesion import patch_class as patch_class
from histomammo.transforms.patches.slide import SlidePatches as SlidePatches

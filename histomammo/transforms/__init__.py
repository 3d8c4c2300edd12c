"""Transforms: pure functions on numpy arrays (HW or HWC, the input's dtype kept) and thin
``torchvision.transforms.v2``-compatible classes that wrap them."""

from histomammo._lazy import attach_stub

# the public names are listed once, in __init__.pyi (read by type checkers too)
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)

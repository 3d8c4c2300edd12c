"""Transforms: pure functions on numpy arrays (HW or HWC, the input's dtype kept) and thin
``torchvision.transforms.v2``-compatible classes that wrap them."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["mammo", "stain", "tissue"],
    attributes={
        "letterbox": ["SquareGeometry", "SquareResize", "restore_original_size",
                      "square_geometry"],
    },
)

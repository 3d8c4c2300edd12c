"""Figures: one function per figure; matplotlib is imported inside the functions (the ``plot``
extra), so importing this package costs nothing."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_leaderboard": ["leaderboard"],
        "segmentation": ["label_overlay", "segmentation_overlay"],
    },
)

"""Figures: one function per figure; matplotlib is imported inside the functions (the ``plot``
extra), so importing this package costs nothing."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "detection": ["rates_vs_threshold", "detections"],
    },
)

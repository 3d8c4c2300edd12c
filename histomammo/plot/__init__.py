"""Figures: one function per figure; matplotlib is imported inside the functions (the ``plot``
extra), so importing this package costs nothing."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "classification": ["plot_roc", "plot_training_curves"],
        "mammo": ["plot_crop_steps", "plot_mammograms", "plot_naive_steps"],
        "_leaderboard": ["leaderboard"],
        "tissue": ["plot_patches", "plot_tissue_mask"],
        "segmentation": ["label_overlay", "segmentation_overlay"],
        "detection": ["rates_vs_threshold", "detections"],
    },
)

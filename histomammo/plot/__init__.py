"""Figures: one ``plot_*(..., ax=None) -> Figure`` function per figure.

Every function draws into ``ax`` when given (a sequence of axes for figures of several
panels) and otherwise makes a new pyplot figure, which a notebook shows inline; it returns the
figure and never writes a file: save it with ``save_figure``
(atomic). The backend is left to the user: the library never switches it.
matplotlib (the ``plot`` extra) is imported inside the functions, so importing this package
costs nothing.
"""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    attributes={
        "_figure": ["save_figure"],
        "classification": ["plot_roc", "plot_training_curves"],
        "mammo": ["plot_crop_steps", "plot_mammograms", "plot_naive_steps"],
        "_leaderboard": ["plot_leaderboard"],
        "tissue": ["plot_patches", "plot_tissue_mask"],
        "segmentation": ["plot_label_overlay", "plot_segmentation_overlay"],
        "detection": ["plot_detections", "plot_rates_vs_threshold"],
    },
)

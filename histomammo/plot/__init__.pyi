"""Public names of ``histomammo.plot``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.plot._figure import save_figure as save_figure
from histomammo.plot._leaderboard import plot_leaderboard as plot_leaderboard
from histomammo.plot.classification import plot_roc as plot_roc
from histomammo.plot.classification import plot_training_curves as plot_training_curves
from histomammo.plot.detection import plot_detections as plot_detections
from histomammo.plot.detection import plot_rates_vs_threshold as plot_rates_vs_threshold
from histomammo.plot.mammo import plot_crop_steps as plot_crop_steps
from histomammo.plot.mammo import plot_mammograms as plot_mammograms
from histomammo.plot.mammo import plot_naive_steps as plot_naive_steps
from histomammo.plot.segmentation import plot_label_overlay as plot_label_overlay
from histomammo.plot.segmentation import plot_segmentation_overlay as plot_segmentation_overlay
from histomammo.plot.tissue import plot_patches as plot_patches
from histomammo.plot.tissue import plot_tissue_mask as plot_tissue_mask

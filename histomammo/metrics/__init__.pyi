"""Public names of ``histomammo.metrics``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``."""

from histomammo.metrics import classification as classification
from histomammo.metrics import segmentation as segmentation
from histomammo.metrics._froc import FROC_FP_RATES as FROC_FP_RATES
from histomammo.metrics._froc import evaluation_mask as evaluation_mask
from histomammo.metrics._froc import froc as froc
from histomammo.metrics._froc import heatmap_to_detections as heatmap_to_detections
from histomammo.metrics._froc import slide_auc as slide_auc
from histomammo.metrics.classification import accuracy as accuracy
from histomammo.metrics.classification import aggregate_views as aggregate_views
from histomammo.metrics.classification import bootstrap_ci as bootstrap_ci
from histomammo.metrics.classification import roc_auc as roc_auc
from histomammo.metrics.classification import roc_curve as roc_curve
from histomammo.metrics.classification import sensitivity_specificity as sensitivity_specificity
from histomammo.metrics.classification import (
    specificity_at_sensitivity as specificity_at_sensitivity,
)
from histomammo.metrics.classification import threshold_at_sensitivity as threshold_at_sensitivity
from histomammo.metrics.detection import average_precision as average_precision
from histomammo.metrics.detection import detection_counts as detection_counts
from histomammo.metrics.detection import rates_vs_threshold as rates_vs_threshold
from histomammo.metrics.segmentation import count_score as count_score
from histomammo.metrics.segmentation import glas_metrics as glas_metrics
from histomammo.metrics.segmentation import object_dice as object_dice
from histomammo.metrics.segmentation import object_f1 as object_f1
from histomammo.metrics.segmentation import object_hausdorff as object_hausdorff
from histomammo.metrics.segmentation import pixel_dice as pixel_dice

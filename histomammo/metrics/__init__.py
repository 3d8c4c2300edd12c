"""Metrics: functions ``(preds, targets)`` in torchmetrics' order, numpy or torch in (any
device, with or without grad), Python floats out, dicts where several numbers come back (curves:
dicts of numpy arrays). ``(N, C)`` model outputs are scored by their softmax (``from_logits``)."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["classification", "segmentation"],
    attributes={
        "_froc": ["FROC_FP_RATES", "evaluation_mask", "froc", "heatmap_to_detections", "slide_auc"],
        "detection": ["rates_vs_threshold", "average_precision", "detection_counts"],
        "classification": [
            "roc_curve", "roc_auc", "accuracy", "sensitivity_specificity",
            "threshold_at_sensitivity", "specificity_at_sensitivity", "aggregate_views",
            "bootstrap_ci",
        ],
        "segmentation": [
            "glas_metrics", "object_f1", "object_dice", "object_hausdorff", "count_score",
            "pixel_dice",
        ],
    },
)

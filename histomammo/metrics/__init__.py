"""Metrics: functions ``(predictions or scores, targets or labels)`` in torchmetrics' order,
numpy or torch in, Python floats (or dicts of numpy arrays for curves) out."""

from histomammo._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    submodules=["classification", "glas_leaderboard", "segmentation"],
    attributes={
        "_froc": ["FROC_FP_RATES", "evaluation_mask", "froc", "heatmap_to_detections", "slide_auc"],
        "detection": [
            "rates_vs_threshold", "average_precision", "detection_counts", "suppress_duplicates",
        ],
        "classification": [
            "roc_curve", "roc_auc", "accuracy", "sensitivity_specificity",
            "threshold_at_sensitivity", "specificity_at_sensitivity", "aggregate_views",
            "bootstrap_ci",
        ],
    },
)

"""The whole-mammogram thesis's published results (tables 6.3 and 6.4), as data.

Source: the thesis "Whole-mammogram classification" (``seeds/mammography_whole_image_thesis.txt``),
table 6.3 ("Evaluation results of the training process", iBOB screening archive, threshold
fixed on validation for 90% sensitivity and applied to test) and table 6.4 ("Performance
difference by aggregating classification scores across view positions", test set). Values
are fractions (the thesis prints percentages). The keys of a table 6.3 row are those of
[`histomammo.metrics.classification.specificity_at_sensitivity`][histomammo.metrics.specificity_at_sensitivity]; the threshold itself is
not published. Validation sensitivity is 0.9 "by definition".
"""

from __future__ import annotations

__all__ = ["THESIS_TABLE_6_3", "THESIS_TABLE_6_4", "THESIS_SOURCE", "PUBLISHED"]

THESIS_SOURCE = "Whole-mammogram classification thesis, tables 6.3 and 6.4 (iBOB data)"


def _row(epochs: int, val_auc: float, val_spec: float, test_auc: float, test_sen: float,
         test_spec: float, acc: float, t_acc: float) -> dict[str, float]:
    return {"epochs": epochs, "val_auc": val_auc / 100, "val_specificity": val_spec / 100,
            "test_auc": test_auc / 100, "test_sensitivity": test_sen / 100,
            "test_specificity": test_spec / 100, "test_accuracy": acc / 100,
            "test_threshold_accuracy": t_acc / 100}


#: ``{(network, epochs): row}``; networks as table 6.1 names them.
THESIS_TABLE_6_3: dict[tuple[str, int], dict[str, float]] = {
    ("alexnet", 40): _row(40, 68.0, 21.4, 69.8, 91.3, 21.1, 94.0, 25.3),
    ("alexnet", 80): _row(80, 72.2, 28.1, 74.1, 90.8, 28.0, 94.1, 31.7),
    ("alexnet_large", 40): _row(40, 68.8, 23.4, 68.4, 90.8, 23.2, 94.2, 27.1),
    ("alexnet_large", 80): _row(80, 73.7, 28.1, 73.4, 90.3, 27.9, 94.2, 31.5),
    ("reduced_resnet", 40): _row(40, 71.6, 25.0, 74.2, 91.7, 25.1, 94.4, 29.1),
    ("resnet", 40): _row(40, 76.0, 29.5, 76.0, 90.6, 29.0, 94.6, 32.5),
}

#: ``{network: {"baseline" | "min" | "max" | "mean": {"auc", "specificity"}}}`` (test set).
THESIS_TABLE_6_4: dict[str, dict[str, dict[str, float]]] = {
    network: {how: {"auc": auc / 100, "specificity": spec / 100}
              for how, (auc, spec) in zip(("baseline", "min", "max", "mean"), values, strict=True)}
    for network, values in {
        "alexnet": ((74.1, 28.1), (75.1, 28.1), (76.6, 31.1), (77.2, 29.4)),
        "alexnet_large": ((73.4, 27.9), (74.1, 30.3), (76.5, 34.2), (76.9, 34.5)),
        "reduced_resnet": ((74.2, 25.1), (74.0, 23.2), (77.6, 27.6), (77.9, 27.6)),
        "resnet": ((76.0, 29.0), (77.2, 32.0), (77.2, 33.6), (79.0, 33.1)),
    }.items()
}

#: Everything above in one place, with its source.
PUBLISHED: dict[str, object] = {
    "table_6_3": THESIS_TABLE_6_3, "table_6_4": THESIS_TABLE_6_4, "source": THESIS_SOURCE,
}

"""ROC curves and training curves for classifiers (matplotlib imported inside the functions)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from histomammo._deps import require
from histomammo.plot._figure import save_figure

__all__ = ["plot_roc", "plot_training_curves"]


def plot_roc(
    curves: Mapping[str, Mapping[str, Any]],
    path: str | os.PathLike[str] | None = None,
    *,
    operating_points: Mapping[str, tuple[float, float]] | None = None,
    title: str = "ROC",
) -> Any:
    """Draw ROC curves, optionally marking operating points, and save to ``path``.

    Parameters
    ----------
    curves : mapping of str to dict
        ``{label: roc_curve(...)}`` (dicts with ``"fpr"`` and ``"tpr"``); a key ``"auc"`` in
        a curve is shown in the legend.
    path : str or path, optional
        Where to write the figure (written atomically; format from the suffix).
    operating_points : mapping of str to (float, float), optional
        ``{label: (specificity, sensitivity)}``, e.g. the validation threshold on test.
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from histomammo.metrics.classification import roc_curve
    >>> fig = plot_roc({"demo": roc_curve([0.1, 0.8, 0.4, 0.9], [0, 1, 0, 1])})
    >>> len(fig.axes)
    1
    """
    plt = require("matplotlib.pyplot", extra="plot")
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    for label, curve in curves.items():
        name = f"{label} (AUC {curve['auc']:.3f})" if "auc" in curve else label
        axes.plot(curve["fpr"], curve["tpr"], label=name, drawstyle="steps-post")
    for label, (specificity, sensitivity) in (operating_points or {}).items():
        axes.plot([1 - specificity], [sensitivity], "o", label=label)
    axes.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.02),
             title=title)
    axes.legend(loc="lower right", fontsize="small")
    save_figure(figure, path, tight=True)
    plt.close(figure)
    return figure


def plot_training_curves(
    history: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str] | None = None,
    *,
    keys: Sequence[str] = ("loss", "val_loss", "val_auc", "val_specificity"),
    title: str = "training",
) -> Any:
    """Draw per-epoch values of a Trainer history (as the thesis's figure 6.2) and save.

    Parameters
    ----------
    history : sequence of dict
        ``trainer.history`` rows; keys absent from every row are skipped.
    path : str or path, optional
        Where to write the figure.
    keys : sequence of str
        Losses go on the left axis, other values (AUC, specificity, accuracy) on the right.
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_training_curves([{"epoch": 0, "loss": 0.7, "val_auc": 0.6},
    ...                             {"epoch": 1, "loss": 0.5, "val_auc": 0.8}])
    >>> len(fig.axes)
    2
    """
    plt = require("matplotlib.pyplot", extra="plot")
    figure, losses = plt.subplots(figsize=(6, 3.5))
    rates = losses.twinx()
    epochs = [row.get("epoch", i) + 1 for i, row in enumerate(history)]
    for index, key in enumerate(keys):
        values = [row.get(key) for row in history]
        if all(v is None for v in values):
            continue
        axes = losses if "loss" in key else rates
        style = "-" if "loss" in key else "--"
        # one colour per key across both axes (each axes has its own colour cycle)
        axes.plot(epochs, [float("nan") if v is None else v for v in values], style,
                  marker=".", label=key, color=f"C{index}")
    losses.set(xlabel="epoch", ylabel="loss", title=title)
    rates.set(ylabel="AUC / specificity / accuracy", ylim=(0, 1.02))
    handles = losses.get_legend_handles_labels()[0] + rates.get_legend_handles_labels()[0]
    losses.legend(handles, [h.get_label() for h in handles], loc="center right",
                  fontsize="small")
    save_figure(figure, path, tight=True)
    plt.close(figure)
    return figure

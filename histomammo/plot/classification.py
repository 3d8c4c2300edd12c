"""ROC curves and training curves for classifiers (matplotlib imported inside the functions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from histomammo.plot._figure import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_roc", "plot_training_curves"]


def plot_roc(
    curves: Mapping[str, Mapping[str, Any]],
    *,
    operating_points: Mapping[str, tuple[float, float]] | None = None,
    title: str = "ROC",
    ax: Axes | None = None,
) -> Figure:
    """Draw ROC curves, optionally marking operating points.

    Parameters
    ----------
    curves : mapping of str to dict
        ``{label: roc_curve(...)}`` (dicts with ``"fpr"`` and ``"tpr"``, see
        [`roc_curve`][histomammo.metrics.classification.roc_curve]); a key ``"auc"`` in a
        curve is shown in the legend.
    operating_points : mapping of str to (float, float), optional
        ``{label: (specificity, sensitivity)}``, e.g. the validation threshold on test.
    title : str
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into (save it with ``save_figure``).

    Examples
    --------
    >>> from histomammo.metrics.classification import roc_curve
    >>> fig = plot_roc({"demo": roc_curve([0.1, 0.8, 0.4, 0.9], [0, 1, 0, 1])})
    >>> len(fig.axes)
    1
    """
    figure, axes, created = new_axes(ax, (4.5, 4.5))
    for label, curve in curves.items():
        name = f"{label} (AUC {curve['auc']:.3f})" if "auc" in curve else label
        axes.plot(curve["fpr"], curve["tpr"], label=name, drawstyle="steps-post")
    for label, (specificity, sensitivity) in (operating_points or {}).items():
        axes.plot([1 - specificity], [sensitivity], "o", label=label)
    axes.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
    axes.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.02),
             title=title)
    axes.legend(loc="lower right", fontsize="small")
    if created:
        figure.tight_layout()
    return figure


def plot_training_curves(
    history: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str] = ("loss", "val_loss", "val_auc", "val_specificity"),
    title: str = "training",
    ax: Axes | None = None,
) -> Figure:
    """Draw per-epoch values of a Trainer history (as the thesis's figure 6.2).

    Parameters
    ----------
    history : sequence of dict
        ``trainer.history`` rows; keys absent from every row are skipped.
    keys : sequence of str
        Losses go on the left axis, other values (AUC, specificity, accuracy) on a second
        axis on the right (a twin of ``ax``).
    title : str
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Where to draw the losses; a new figure by default.

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
    figure, losses, created = new_axes(ax, (6, 3.5))
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
    (loss_handles, loss_labels), (rate_handles, rate_labels) = (
        losses.get_legend_handles_labels(), rates.get_legend_handles_labels())
    losses.legend(loss_handles + rate_handles, loss_labels + rate_labels, loc="center right",
                  fontsize="small")
    if created:
        figure.tight_layout()
    return figure

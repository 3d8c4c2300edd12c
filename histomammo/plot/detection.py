"""Detection figures: rates against the score threshold (the BreCaHAD seed paper's figure 4)
and ground truth and predictions drawn as circles on an image (its result picture)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from histomammo._tensors import to_numpy
from histomammo.plot._figure import new_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_detections", "plot_rates_vs_threshold"]


def plot_rates_vs_threshold(
    rates: Mapping[str, Any], *, published_tpr: float | None = None,
    title: str | None = "True-positive and false-discovery rates", ax: Axes | None = None,
) -> Figure:
    """Draw TPR and FDR against the score threshold, as the seed paper's figure 4.

    Parameters
    ----------
    rates : dict
        The output of [`rates_vs_threshold`][histomammo.metrics.detection.rates_vs_threshold]:
        ``"thresholds"``, ``"tpr"`` and ``"fdr"`` (T,), numpy or tensors.
    published_tpr : float, optional
        A published TPR drawn as a dotted line (e.g. the paper's 0.9902).
    title : str or None
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rates = {"thresholds": np.array([0.1, 0.5, 0.9]), "tpr": np.array([1.0, 0.8, 0.3]),
    ...          "fdr": np.array([0.7, 0.4, 0.1])}
    >>> fig = plot_rates_vs_threshold(rates, published_tpr=0.9902)
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
    ['true-positive rate', 'false-discovery rate']
    """
    figure, ax, created = new_axes(ax, (5.0, 3.5))
    thresholds = to_numpy(rates["thresholds"], "rates['thresholds']")
    order = np.argsort(thresholds)
    ax.plot(thresholds[order], to_numpy(rates["tpr"], "rates['tpr']")[order],
            color="tab:green", label="true-positive rate")
    ax.plot(thresholds[order], to_numpy(rates["fdr"], "rates['fdr']")[order],
            color="tab:red", label="false-discovery rate")
    if published_tpr is not None:
        ax.axhline(published_tpr, color="tab:green", linestyle=":", linewidth=1,
                   label=f"published TPR {published_tpr:.2%}")
    ax.set(xlabel="score threshold", ylabel="rate", ylim=(-0.02, 1.02))
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    if created:
        figure.tight_layout()
    return figure


def _image(image: Any) -> np.ndarray:
    """An ``(H, W, 3)`` array to show: CHW tensors are turned HWC, floats clipped to [0, 1]."""
    pixels = to_numpy(image, "image")
    if pixels.ndim == 3 and pixels.shape[0] == 3 and pixels.shape[-1] != 3:
        pixels = pixels.transpose(1, 2, 0)
    return np.clip(pixels, 0, 1) if pixels.dtype.kind == "f" else pixels


def plot_detections(
    image: npt.ArrayLike, target: Mapping[str, Any] | None = None,
    prediction: Mapping[str, Any] | None = None, *, threshold: float = 0.05,
    title: str | None = None, ax: Axes | None = None,
) -> Figure:
    """Draw an image with ground truth (red) and predictions (green) as circles.

    As the seed paper's picture: each box becomes the circle inscribed in it; predictions
    below ``threshold`` (default 0.05, the paper's) are left out.

    Parameters
    ----------
    image : Tensor (3, H, W) in [0, 1] or ndarray (H, W, 3)
        Tensors may live on any device.
    target : dict with ``"boxes"`` (N, 4) XYXY, optional
    prediction : dict with ``"boxes"`` and ``"scores"``, optional
    threshold : float
        Predictions scoring below it are not drawn.
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        Its axes hold the image and one circle per box drawn.

    Examples
    --------
    >>> image = np.ones((40, 60, 3))
    >>> fig = plot_detections(image, {"boxes": np.array([[5, 5, 15, 15]])},
    ...                       {"boxes": np.array([[6, 6, 16, 16], [30, 5, 40, 15]]),
    ...                        "scores": np.array([0.9, 0.01])})
    >>> len(fig.axes[0].patches)
    2
    """
    from matplotlib.patches import Circle

    figure, ax, created = new_axes(ax, (6.0, 4.5))
    ax.imshow(_image(image))
    layers = [(target, None, "red"), (prediction, threshold, "lime")]
    for item, cut, colour in layers:
        if item is None:
            continue
        boxes = to_numpy(item["boxes"], "boxes").reshape(-1, 4)
        if cut is not None:
            boxes = boxes[to_numpy(item["scores"], "scores").reshape(-1) >= cut]
        for x0, y0, x1, y1 in boxes:
            ax.add_patch(Circle(((x0 + x1) / 2, (y0 + y1) / 2), min(x1 - x0, y1 - y0) / 2,
                                fill=False, edgecolor=colour, linewidth=1.2))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if created:
        figure.tight_layout()
    return figure

"""Detection figures: rates against the score threshold (the seed paper's figure 4) and
ground truth and predictions drawn as circles on an image (its result picture)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["detections", "rates_vs_threshold"]


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def rates_vs_threshold(
    rates: Mapping[str, Any], ax: Any = None, published_tpr: float | None = None,
    title: str | None = "True-positive and false-discovery rates",
) -> Any:
    """Draw TPR and FDR against the score threshold, as the seed paper's figure 4.

    Parameters
    ----------
    rates : dict
        The output of :func:`histomammo.metrics.detection.rates_vs_threshold`.
    ax : matplotlib Axes, optional
        Drawn into; a new figure otherwise.
    published_tpr : float, optional
        A published TPR drawn as a dotted line (e.g. the paper's 0.9902).
    title : str or None

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> rates = {"thresholds": np.array([0.1, 0.5, 0.9]), "tpr": np.array([1.0, 0.8, 0.3]),
    ...          "fdr": np.array([0.7, 0.4, 0.1])}
    >>> ax = rates_vs_threshold(rates, published_tpr=0.9902)
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['true-positive rate', 'false-discovery rate']
    """
    ax = _axes(ax, (5.0, 3.5))
    order = np.argsort(_numpy(rates["thresholds"]))
    thresholds = _numpy(rates["thresholds"])[order]
    ax.plot(thresholds, _numpy(rates["tpr"])[order], color="tab:green", label="true-positive rate")
    ax.plot(thresholds, _numpy(rates["fdr"])[order], color="tab:red", label="false-discovery rate")
    if published_tpr is not None:
        ax.axhline(published_tpr, color="tab:green", linestyle=":", linewidth=1,
                   label=f"published TPR {published_tpr:.2%}")
    ax.set(xlabel="score threshold", ylabel="rate", ylim=(-0.02, 1.02))
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return ax


def detections(
    image: Any, target: Mapping[str, Any] | None = None,
    prediction: Mapping[str, Any] | None = None, threshold: float = 0.05, ax: Any = None,
    title: str | None = None,
) -> Any:
    """Draw an image with ground truth (red) and predictions (green) as circles.

    As the seed paper's picture: each box becomes the circle inscribed in it; predictions
    below ``threshold`` (default 0.05, the paper's) are left out.

    Parameters
    ----------
    image : Tensor (3, H, W) in [0, 1] or ndarray (H, W, 3)
    target : dict with ``"boxes"`` (N, 4) XYXY, optional
    prediction : dict with ``"boxes"`` and ``"scores"``, optional
    threshold : float
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes
        ``ax``, or the axes of a new figure, holding the image and one circle per box.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # no display needed
    >>> image = np.ones((40, 60, 3))
    >>> ax = detections(image, {"boxes": np.array([[5, 5, 15, 15]])},
    ...                 {"boxes": np.array([[6, 6, 16, 16], [30, 5, 40, 15]]),
    ...                  "scores": np.array([0.9, 0.01])})
    >>> len(ax.patches)
    2
    """
    from matplotlib.patches import Circle

    pixels = _numpy(image)
    if pixels.ndim == 3 and pixels.shape[0] == 3 and pixels.shape[-1] != 3:
        pixels = pixels.transpose(1, 2, 0)
    ax = _axes(ax, (6.0, 4.5))
    ax.imshow(np.clip(pixels, 0, 1) if pixels.dtype.kind == "f" else pixels)
    layers = [(target, None, "red"), (prediction, threshold, "lime")]
    for item, cut, colour in layers:
        if item is None:
            continue
        boxes = _numpy(item["boxes"]).reshape(-1, 4)
        if cut is not None:
            boxes = boxes[_numpy(item["scores"]).reshape(-1) >= cut]
        for x0, y0, x1, y1 in boxes:
            ax.add_patch(Circle(((x0 + x1) / 2, (y0 + y1) / 2), min(x1 - x0, y1 - y0) / 2,
                                fill=False, edgecolor=colour, linewidth=1.2))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax

"""Segmentation overlays: instance labels coloured over the image, truth beside predictions.

[`plot_segmentation_overlay`][histomammo.plot.segmentation.plot_segmentation_overlay] draws
figure 4 of the GlaS seed paper: one row per image (e.g. the best, an average and the worst
prediction of a test part), columns for the image, the true annotation and each model's
prediction. [`plot_label_overlay`][histomammo.plot.segmentation.plot_label_overlay] draws one
such panel. matplotlib (the ``plot`` extra) is imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from skimage.segmentation import find_boundaries

from histomammo._tensors import to_numpy
from histomammo.plot._figure import new_axes, panel_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_label_overlay", "plot_segmentation_overlay"]

# distinct colours for neighbouring instances (label k takes colour k mod 8)
_PALETTE = np.array([
    (0.12, 0.47, 0.71), (1.0, 0.50, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16),
    (0.58, 0.40, 0.74), (0.09, 0.75, 0.81), (0.89, 0.47, 0.76), (0.74, 0.74, 0.13),
])


def _overlay(image: Any, labels: Any, alpha: float) -> np.ndarray:
    """``(H, W, 3)`` uint8: each instance tinted over ``image``, its inner outline yellow."""
    image = to_numpy(image, "image")
    labels = to_numpy(labels, "labels")
    if image.ndim != 3 or image.shape[-1] != 3 or labels.shape != image.shape[:2]:
        raise ValueError(
            f"expected an (H, W, 3) image and (H, W) labels, but got {image.shape} and "
            f"{labels.shape}"
        )
    base = image.astype(float) / 255.0 if image.dtype == np.uint8 else image.astype(float)
    labels = labels.astype(np.int64)
    inside = labels > 0
    coloured = base.copy()
    coloured[inside] = (1 - alpha) * base[inside] + alpha * _PALETTE[labels[inside] % len(_PALETTE)]
    coloured[find_boundaries(labels, mode="inner")] = (1.0, 1.0, 0.0)
    return (np.clip(coloured, 0, 1) * 255).round().astype(np.uint8)


def _show(ax: Any, panel: np.ndarray, title: str | None) -> None:
    ax.imshow(panel)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)


def plot_label_overlay(
    image: npt.ArrayLike, labels: npt.ArrayLike, *, alpha: float = 0.4, title: str | None = None, ax: Axes | None = None
) -> Figure:
    """Colour each instance of ``labels`` over ``image`` and outline it (one panel of figure 4).

    Background pixels are shown unchanged; each instance is tinted (label ``k`` takes colour
    ``k mod 8``) and its inner boundary drawn in yellow.

    Parameters
    ----------
    image : ndarray or Tensor, shape (H, W, 3)
        uint8 RGB, or float in [0, 1].
    labels : ndarray or Tensor, shape (H, W)
        Integer instance labels, 0 background (a boolean mask is one instance).
    alpha : float
        Opacity of the instance colours.
    title : str, optional
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        Its axes shows the overlay, an ``(H, W, 3)`` uint8 image.

    Examples
    --------
    >>> image = np.full((8, 8, 3), 200, np.uint8)
    >>> labels = np.zeros((8, 8), int); labels[2:5, 2:5] = 1
    >>> shown = plot_label_overlay(image, labels).axes[0].images[0].get_array()
    >>> shown.shape, shown.dtype, bool((shown[0, 0] == 200).all())
    ((8, 8, 3), dtype('uint8'), True)
    """
    panel = _overlay(image, labels, alpha)
    figure, ax, created = new_axes(ax, (4.0, 4.0 * panel.shape[0] / panel.shape[1]))
    _show(ax, panel, title)
    if created:
        figure.tight_layout()
    return figure


def plot_segmentation_overlay(
    images: Sequence[Any],
    truths: Sequence[Any],
    predictions: Mapping[str, Sequence[Any]] | None = None,
    *,
    row_titles: Sequence[str] | None = None,
    alpha: float = 0.4,
    panel_size: float = 2.6,
    ax: Axes | None = None,
) -> Figure:
    """Images, their true instances and each model's predicted instances, one row per image.

    Parameters
    ----------
    images : sequence of ndarray or Tensor (H, W, 3)
        RGB images (their sizes may differ).
    truths : sequence of ndarray or Tensor (H, W)
        True instance labels.
    predictions : mapping of str to sequence of ndarray (H, W), optional
        ``{model name: labels per image}``; one column per model.
    row_titles : sequence of str, optional
        E.g. ``["best", "average", "worst"]`` (with the score), shown on the left.
    alpha : float
        Opacity of the instance colours.
    panel_size : float
        Side of each panel of a new figure, in inches.
    ax : array of matplotlib.axes.Axes, optional
        ``rows x columns`` axes to draw into (columns: image, annotation, one per model);
        a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> image = np.full((16, 16, 3), 220, np.uint8)
    >>> labels = np.zeros((16, 16), int); labels[4:10, 4:10] = 1
    >>> fig = plot_segmentation_overlay([image], [labels], {"U-Net": [labels]})
    >>> len(fig.axes)
    3
    """
    predictions = dict(predictions or {})
    if len(images) != len(truths) or any(len(p) != len(images) for p in predictions.values()):
        raise ValueError(
            f"need one truth and one prediction per image: {len(images)} images, "
            f"{len(truths)} truths, predictions {[len(p) for p in predictions.values()]}"
        )
    columns = ["image", "annotation", *predictions]
    figure, axes, created = panel_axes(
        ax, len(images), len(columns), (panel_size * len(columns), panel_size * len(images)))
    for row, (image, truth) in enumerate(zip(images, truths, strict=True)):
        panels = [to_numpy(image, f"images[{row}]"), _overlay(image, truth, alpha)]
        panels += [_overlay(image, labels[row], alpha) for labels in predictions.values()]
        for col, panel in enumerate(panels):
            _show(axes[row][col], panel, columns[col] if row == 0 else None)
        if row_titles is not None:
            axes[row][0].set_ylabel(row_titles[row], fontsize=9)
    if created:
        figure.tight_layout()
    return figure

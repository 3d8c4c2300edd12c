"""Figures of slides: a tissue mask over a slide's thumbnail, a grid of patches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_patches", "plot_tissue_mask"]


def plot_tissue_mask(
    rgb: np.ndarray, mask: np.ndarray, *, title: str | None = None, ax: Any = None
) -> Any:
    """Show ``mask`` (True = tissue) outlined and tinted over the slide thumbnail ``rgb``.

    Parameters
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` uint8 thumbnail.
    mask : numpy.ndarray
        ``(h, w)`` bool at any scale of ``rgb`` (it is stretched over the thumbnail).
    title : str, optional
        Axes title.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from histomammo._deps import require

    plt = require("matplotlib.pyplot", extra="plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6 * rgb.shape[0] / rgb.shape[1]))
    extent = (0, rgb.shape[1], rgb.shape[0], 0)
    ax.imshow(rgb, extent=extent)
    tint = np.zeros((*mask.shape, 4))
    tint[mask] = (0.1, 0.8, 0.2, 0.25)
    ax.imshow(tint, extent=extent, interpolation="nearest")
    ax.contour(np.linspace(0, rgb.shape[1], mask.shape[1]), np.linspace(0, rgb.shape[0],
               mask.shape[0]), mask.astype(float), levels=[0.5], colors="lime", linewidths=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure


def plot_patches(
    images: Sequence[np.ndarray], labels: Sequence[Any] | None = None, *, columns: int = 8
) -> Any:
    """A grid of ``(H, W, 3)`` uint8 patches, each titled with its label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from histomammo._deps import require

    plt = require("matplotlib.pyplot", extra="plot")
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.7 * rows), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if i < len(images):
            ax.imshow(images[i])
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    fig.tight_layout()
    return fig

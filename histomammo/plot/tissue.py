"""Figures of slides: a tissue mask over a slide's thumbnail, a grid of patches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from histomammo._tensors import to_numpy
from histomammo.plot._figure import new_axes, panel_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_patches", "plot_tissue_mask"]


def plot_tissue_mask(
    rgb: npt.ArrayLike, mask: npt.ArrayLike, *, title: str | None = None, ax: Axes | None = None
) -> Figure:
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

    Examples
    --------
    >>> rgb = np.full((20, 30, 3), 230, np.uint8)
    >>> mask = np.zeros((10, 15), bool); mask[2:8, 3:12] = True
    >>> len(plot_tissue_mask(rgb, mask).axes)
    1
    """
    rgb, mask = to_numpy(rgb, "rgb"), to_numpy(mask, "mask").astype(bool)
    figure, ax, created = new_axes(ax, (6, 6 * rgb.shape[0] / rgb.shape[1]))
    extent = (0, rgb.shape[1], rgb.shape[0], 0)
    ax.imshow(rgb, extent=extent)
    tint = np.zeros((*mask.shape, 4))
    tint[mask] = (0.1, 0.8, 0.2, 0.25)
    ax.imshow(tint, extent=extent, interpolation="nearest")
    if mask.any() and not mask.all():
        ax.contour(np.linspace(0, rgb.shape[1], mask.shape[1]),
                   np.linspace(0, rgb.shape[0], mask.shape[0]), mask.astype(float),
                   levels=[0.5], colors="lime", linewidths=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if created:
        figure.tight_layout()
    return figure


def plot_patches(
    images: Sequence[Any], labels: Sequence[Any] | None = None, *, columns: int = 8,
    ax: Axes | None = None,
) -> Figure:
    """A grid of ``(H, W, 3)`` uint8 patches, each titled with its label.

    Parameters
    ----------
    images : sequence of ndarray or Tensor, shape (H, W, 3)
        The patches.
    labels : sequence, optional
        One title per patch.
    columns : int
        Patches per row.
    ax : array of matplotlib.axes.Axes, optional
        ``ceil(len(images) / columns) x columns`` axes to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> patches = [np.zeros((8, 8, 3), np.uint8)] * 3
    >>> len(plot_patches(patches, [0, 1, 1], columns=2).axes)
    4
    """
    rows = -(-len(images) // columns)
    figure, axes, created = panel_axes(ax, rows, columns, (1.6 * columns, 1.7 * rows))
    for i, axis in enumerate(axes.ravel()):
        axis.set_axis_off()
        if i < len(images):
            axis.imshow(to_numpy(images[i], f"images[{i}]"))
            if labels is not None:
                axis.set_title(str(labels[i]), fontsize=8)
    if created:
        figure.tight_layout()
    return figure

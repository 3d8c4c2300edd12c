"""Figures of mammogram preprocessing in the style of the thesis's figures 5.1 and 5.2.

The functions take arrays (and [`CropStages`][histomammo.transforms.mammo.CropStages], or any
object with its attributes), so this module imports nothing of the transforms layer;
matplotlib is imported inside them (the ``plot`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from histomammo._tensors import to_numpy
from histomammo.plot._figure import panel_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_crop_steps", "plot_mammograms", "plot_naive_steps"]


def plot_mammograms(
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    boxes: Sequence[Sequence[tuple[int, int, int, int]]] | None = None,
    highlight: Sequence[tuple[int, int, int, int] | None] | None = None,
    panel_height: float = 3.2,
    ax: Axes | None = None,
) -> Figure:
    """Show greyscale images side by side with titles, optionally with boxes drawn on them.

    Parameters
    ----------
    panels : sequence of (str, numpy.ndarray or Tensor)
        ``(title, (H, W) image)``; each image is shown with its own grey range.
    boxes : sequence of sequences of (x0, y0, x1, y1), optional
        Per panel, boxes in that panel's pixel coordinates, drawn in thin yellow.
    highlight : sequence of (x0, y0, x1, y1) or None, optional
        Per panel, one box drawn thick in red (the chosen one).
    panel_height : float
        Height of each panel in inches (of a new figure).
    ax : sequence of matplotlib.axes.Axes, optional
        One axes per panel to draw into; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> figure = plot_mammograms([("a", np.eye(8)), ("b", np.ones((8, 4)))], boxes=[[(1, 1, 4, 4)], []])
    >>> len(figure.axes)
    2
    """
    from matplotlib.patches import Rectangle

    images = [to_numpy(image, f"panels[{i}]").astype(np.float32)
              for i, (_, image) in enumerate(panels)]
    widths = [image.shape[1] / image.shape[0] for image in images]
    figure, axes, created = panel_axes(
        ax, 1, len(panels),
        (panel_height * sum(widths) + 0.3 * len(panels), panel_height + 0.4),
        gridspec_kw={"width_ratios": widths})
    for index, (axis, (title, _), image) in enumerate(zip(axes[0], panels, images, strict=True)):
        axis.imshow(image, cmap="gray", interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.set_axis_off()
        for x0, y0, x1, y1 in (boxes[index] if boxes else ()):
            axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                     color="yellow", lw=0.8))
        chosen = highlight[index] if highlight else None
        if chosen is not None:
            x0, y0, x1, y1 = chosen
            axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                     color="red", lw=2))
    if created:
        figure.tight_layout()
    return figure


def plot_naive_steps(original: np.ndarray, normalized: np.ndarray, *, ax: Axes | None = None) -> Figure:
    """Figure 5.1: (a) the original mammogram, (b) after the naive pipeline.

    ``ax``: two axes to draw into (a new figure by default); returns the figure.

    Examples
    --------
    >>> import numpy as np
    >>> len(plot_naive_steps(np.eye(16), np.eye(8)).axes)
    2
    """
    return plot_mammograms([("(a) original mammogram", original),
                            ("(b) normalized mammogram", normalized)], ax=ax)


def plot_crop_steps(
    original: np.ndarray, stages: Any, *, cleaned: np.ndarray | None = None, ax: Axes | None = None,
) -> Figure:
    """Figure 5.2: original, markers removed, blurred copy, Otsu foreground with boxes, crop.

    Parameters
    ----------
    original : numpy.ndarray
        The input mammogram, ``(H, W)``.
    stages : CropStages
        [`otsu_crop_stages`][histomammo.transforms.mammo.otsu_crop_stages] of ``cleaned`` (or of
        ``original``): its ``blurred``, ``foreground``, ``boxes``, ``box``, ``image`` and ``factor``.
    cleaned : numpy.ndarray, optional
        The mammogram after marker removal; adds a panel when given.
    ax : sequence of matplotlib.axes.Axes, optional
        One axes per panel (5, or 6 with ``cleaned``); a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> image = np.zeros((16, 16)); image[4:12, 2:10] = 1
    >>> stages = SimpleNamespace(blurred=image[::2, ::2], foreground=image[::2, ::2] > 0,
    ...                          boxes=[(2, 4, 10, 12)], box=(2, 4, 10, 12),
    ...                          image=image[4:12, 2:10], factor=2)
    >>> len(plot_crop_steps(image, stages).axes)
    5
    """
    factor = stages.factor

    def reduced(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = (int(np.ceil(v / factor)) for v in box)
        return x0, y0, x1, y1

    panels = [("original", original)]
    boxes: list[list[tuple[int, int, int, int]]] = [[]]
    highlight: list[tuple[int, int, int, int] | None] = [stages.box]
    if cleaned is not None:
        panels.append(("markers removed", cleaned))
        boxes.append([])
        highlight.append(None)
    panels += [("(a) blurred copy", stages.blurred), ("(b) Otsu's thresholding", stages.foreground),
               ("(c) bounding boxes", stages.foreground), ("(d) cropped", stages.image)]
    boxes += [[], [], [reduced(b) for b in stages.boxes], []]
    highlight += [None, None, reduced(stages.box), None]
    return plot_mammograms(panels, boxes=boxes, highlight=highlight, ax=ax)

"""Figures of mammogram preprocessing in the style of the thesis's figures 5.1 and 5.2.

The functions take arrays (and :class:`~histomammo.transforms.mammo.CropStages`, or any
object with its attributes), so this module imports nothing of the transforms layer;
matplotlib is imported inside them (the ``plot`` extra).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from histomammo._deps import require
from histomammo.plot._figure import save_figure

__all__ = ["plot_crop_steps", "plot_mammograms", "plot_naive_steps"]


def _pyplot() -> Any:
    matplotlib = require("matplotlib", extra="plot")
    matplotlib.use("Agg", force=False)
    return require("matplotlib.pyplot", extra="plot")


def plot_mammograms(
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    boxes: Sequence[Sequence[tuple[int, int, int, int]]] | None = None,
    highlight: Sequence[tuple[int, int, int, int] | None] | None = None,
    path: str | os.PathLike[str] | None = None,
    panel_height: float = 3.2,
    dpi: int = 80,
) -> Any:
    """Show greyscale images side by side with titles, optionally with boxes drawn on them.

    Parameters
    ----------
    panels : sequence of (str, numpy.ndarray)
        ``(title, (H, W) image)``; each image is shown with its own grey range.
    boxes : sequence of sequences of (x0, y0, x1, y1), optional
        Per panel, boxes in that panel's pixel coordinates, drawn in thin yellow.
    highlight : sequence of (x0, y0, x1, y1) or None, optional
        Per panel, one box drawn thick in red (the chosen one).
    path : str or os.PathLike, optional
        Save the figure there as PNG (atomically).
    panel_height : float
        Height of each panel in inches.
    dpi : int
        Resolution of the saved PNG.

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
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    widths = [image.shape[1] / image.shape[0] for _, image in panels]
    figure, axes = plt.subplots(1, len(panels), figsize=(panel_height * sum(widths) + 0.3 * len(panels), panel_height + 0.4),
                                gridspec_kw={"width_ratios": widths}, squeeze=False)
    for index, (axis, (title, image)) in enumerate(zip(axes[0], panels, strict=True)):
        axis.imshow(np.asarray(image, dtype=np.float32), cmap="gray", interpolation="nearest")
        axis.set_title(title, fontsize=9)
        axis.set_axis_off()
        for x0, y0, x1, y1 in (boxes[index] if boxes else ()):
            axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color="yellow", lw=0.8))
        chosen = highlight[index] if highlight else None
        if chosen is not None:
            x0, y0, x1, y1 = chosen
            axis.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color="red", lw=2))
    figure.tight_layout()
    save_figure(figure, path, dpi=dpi, tight=True)
    return figure


def plot_naive_steps(
    original: np.ndarray, normalized: np.ndarray, *, path: str | os.PathLike[str] | None = None,
    dpi: int = 80,
) -> Any:
    """Figure 5.1: (a) the original mammogram, (b) after the naive pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> len(plot_naive_steps(np.eye(16), np.eye(8)).axes)
    2
    """
    return plot_mammograms([("(a) original mammogram", original),
                            ("(b) normalized mammogram", normalized)], path=path, dpi=dpi)


def plot_crop_steps(
    original: np.ndarray, stages: Any, *, cleaned: np.ndarray | None = None,
    path: str | os.PathLike[str] | None = None, dpi: int = 80,
) -> Any:
    """Figure 5.2: original, markers removed, blurred copy, Otsu foreground with boxes, crop.

    Parameters
    ----------
    original : numpy.ndarray
        The input mammogram, ``(H, W)``.
    stages : CropStages
        :func:`~histomammo.transforms.mammo.otsu_crop_stages` of ``cleaned`` (or of
        ``original``): its ``blurred``, ``foreground``, ``boxes``, ``box``, ``image`` and ``factor``.
    cleaned : numpy.ndarray, optional
        The mammogram after marker removal; adds a panel when given.
    path, dpi
        As :func:`plot_mammograms`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    factor = stages.factor

    def reduced(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        return tuple(int(np.ceil(v / factor)) for v in box)  # type: ignore[return-value]

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
    return plot_mammograms(panels, boxes=boxes, highlight=highlight, path=path, dpi=dpi)

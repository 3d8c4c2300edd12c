"""Figures and axes for the ``plot_*`` functions, and ``save_figure``:
every picture the library writes goes through one atomic save."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from histomammo._atomic import atomic_write
from histomammo._deps import require

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["new_axes", "panel_axes", "save_figure"]


def save_figure(
    figure: Figure, path: str | os.PathLike[str], *, dpi: int = 100, tight: bool = False
) -> Path:
    """Write a matplotlib ``figure`` to ``path`` atomically (a temporary name, then a rename).

    The ``plot_*`` functions never write files; save what they return with this.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        E.g. what a ``plot_*`` function returned.
    path : str or os.PathLike
        Destination; the format comes from the suffix (PNG without one). The folder must exist.
    dpi : int
        Resolution of raster formats.
    tight : bool
        Crop to the drawn area (``bbox_inches="tight"``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from histomammo.plot import plot_roc
    >>> from histomammo.metrics import roc_curve
    >>> fig = plot_roc({"demo": roc_curve([0.1, 0.8, 0.4], [0, 1, 1])})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = save_figure(fig, pathlib.Path(folder) / "roc.png")
    ...     written.read_bytes()[:4]
    b'\\x89PNG'
    """
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format=path.suffix.lstrip(".") or "png", dpi=dpi,
                       bbox_inches="tight" if tight else None)
    return path


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes, bool]:
    """``(figure, axes, created)``: ``ax`` and its figure, or a new pyplot figure (so that a
    notebook shows it) with one axes of ``figsize`` inches."""
    if ax is not None:
        import matplotlib.figure

        figure = ax.figure  # a subfigure's axes: its root figure, the one that saves
        root = figure if isinstance(figure, matplotlib.figure.Figure) else figure.figure
        return root, ax, False
    plt = require("matplotlib.pyplot", extra="plot")
    figure, ax = plt.subplots(figsize=figsize)
    return figure, ax, True


def panel_axes(ax: Axes | npt.ArrayLike | None, rows: int, columns: int, figsize: tuple[float, float],
               **subplots: Any) -> tuple[Figure, np.ndarray, bool]:
    """``(figure, (rows, columns) array of axes, created)`` for a figure of several panels.

    ``ax`` may hold ``rows * columns`` axes (any nesting, e.g. what ``plt.subplots`` gave);
    ``None`` makes a new pyplot figure (``subplots`` go to ``plt.subplots``).
    """
    if ax is None:
        plt = require("matplotlib.pyplot", extra="plot")
        figure, axes = plt.subplots(rows, columns, figsize=figsize, squeeze=False, **subplots)
        return figure, axes, True
    axes = np.asarray(ax, dtype=object).reshape(-1)
    if axes.size != rows * columns:
        raise ValueError(
            f"ax must hold {rows * columns} axes ({rows} x {columns} panels) or be None, but "
            f"got {axes.size}"
        )
    return axes[0].figure, axes.reshape(rows, columns), False

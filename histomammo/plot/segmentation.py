"""Segmentation overlays: instance labels coloured over the image, truth beside predictions.

:func:`segmentation_overlay` draws figure 4 of the GlaS seed paper: one row per image (e.g. the
best, an average and the worst prediction of a test part), columns for the image, the true
annotation and each model's prediction. :func:`label_overlay` is the array behind each panel.
matplotlib (the ``plot`` extra) is imported inside the figure function only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from skimage.segmentation import find_boundaries

from histomammo._deps import require
from histomammo.plot._figure import save_figure

__all__ = ["label_overlay", "segmentation_overlay"]

# distinct colours for neighbouring instances (label k takes colour k mod 8)
_PALETTE = np.array([
    (0.12, 0.47, 0.71), (1.0, 0.50, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16),
    (0.58, 0.40, 0.74), (0.09, 0.75, 0.81), (0.89, 0.47, 0.76), (0.74, 0.74, 0.13),
])


def label_overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """Colour each instance of ``labels`` over ``image`` and draw its outline.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3)
        uint8 RGB, or float in [0, 1].
    labels : ndarray, shape (H, W)
        Integer instance labels, 0 background (a boolean mask is one instance).
    alpha : float
        Opacity of the instance colours.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)

    Examples
    --------
    >>> image = np.full((8, 8, 3), 200, np.uint8)
    >>> labels = np.zeros((8, 8), int); labels[2:5, 2:5] = 1
    >>> out = label_overlay(image, labels)
    >>> out.shape, out.dtype, bool((out[0, 0] == 200).all())
    ((8, 8, 3), dtype('uint8'), True)
    """
    image = np.asarray(image)
    labels = np.asarray(labels)
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


def segmentation_overlay(
    images: Sequence[np.ndarray],
    truths: Sequence[np.ndarray],
    predictions: Mapping[str, Sequence[np.ndarray]] | None = None,
    *,
    row_titles: Sequence[str] | None = None,
    alpha: float = 0.4,
    panel_size: float = 2.6,
    path: str | os.PathLike[str] | None = None,
):
    """Images, their true instances and each model's predicted instances, one row per image.

    Parameters
    ----------
    images : sequence of ndarray (H, W, 3)
        RGB images (their sizes may differ).
    truths : sequence of ndarray (H, W)
        True instance labels.
    predictions : mapping of str to sequence of ndarray (H, W), optional
        ``{model name: labels per image}``; one column per model.
    row_titles : sequence of str, optional
        E.g. ``["best", "average", "worst"]`` (with the score), shown on the left.
    path : path, optional
        Also save the figure there (PNG, written atomically).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> image = np.full((16, 16, 3), 220, np.uint8)
    >>> labels = np.zeros((16, 16), int); labels[4:10, 4:10] = 1
    >>> fig = segmentation_overlay([image], [labels], {"U-Net": [labels]})
    >>> len(fig.axes)
    3
    """
    figure_module = require("matplotlib.figure", extra="plot")
    predictions = dict(predictions or {})
    if len(images) != len(truths) or any(len(p) != len(images) for p in predictions.values()):
        raise ValueError(
            f"need one truth and one prediction per image: {len(images)} images, "
            f"{len(truths)} truths, predictions {[len(p) for p in predictions.values()]}"
        )
    columns = ["image", "annotation", *predictions]
    fig = figure_module.Figure(figsize=(panel_size * len(columns), panel_size * len(images)))
    axes = fig.subplots(len(images), len(columns), squeeze=False)
    for row, (image, truth) in enumerate(zip(images, truths, strict=True)):
        panels = [np.asarray(image), label_overlay(image, truth, alpha)]
        panels += [label_overlay(image, labels[row], alpha) for labels in predictions.values()]
        for col, panel in enumerate(panels):
            ax = axes[row][col]
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(columns[col], fontsize=10)
        if row_titles is not None:
            axes[row][0].set_ylabel(row_titles[row], fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)
    return fig

"""Macenko et al. (2009) stain vectors, batched: the extreme angles of the OD plane."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from histomammo.errors import DataFormatError
from histomammo.transforms.stain._od import (
    MIN_TISSUE_FRACTION,
    as_batch,
    od_of,
    tissue_covariance,
    tissue_pixels,
    usable,
)
from histomammo.transforms.stain._quantile import quantile

__all__ = ["macenko_stain_matrix"]


def order_stains(vectors: torch.Tensor) -> torch.Tensor:
    """Unit columns, haematoxylin first: ``(N, 3, 2)`` -> ``(N, 3, 2)``.

    The rule: haematoxylin is the column with the larger red optical density (Ruifrok's
    haematoxylin absorbs red at 0.65 of its norm, eosin at 0.07 and DAB at 0.27), so the
    order holds for H&E and for H-DAB alike; ties keep the given order.
    """
    vectors = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)
    swap = vectors[:, 0, 1] > vectors[:, 0, 0]
    return torch.where(swap[:, None, None], vectors.flip(-1), vectors)


def macenko_batch(od: torch.Tensor, mask: torch.Tensor, alpha: float,
                  cov: torch.Tensor | None = None) -> torch.Tensor:
    """Stain matrices ``(N, 3, 2)`` of ``(N, 3, P)`` OD over the ``(N, P)`` tissue pixels.

    The plane of the two largest eigenvectors of the tissue OD covariance ``cov`` (computed when not given); the first is
    signed to point into positive OD (the sign of the second only swaps the two extremes).
    Each pixel's angle in the plane, ``atan2``; the stains are the directions at the
    ``alpha`` and ``100 - alpha`` percentiles of the angles.
    """
    cov = tissue_covariance(od, mask)[0] if cov is None else cov
    plane = torch.linalg.eigh(cov).eigenvectors[:, :, [2, 1]]
    first = plane[:, :, :1]
    plane = torch.cat([torch.where(first.sum(1, keepdim=True) < 0, -first, first), plane[:, :, 1:]], -1)
    projected = plane.transpose(1, 2) @ od
    angle = torch.atan2(projected[:, 1], projected[:, 0])
    extremes = quantile(angle, (alpha / 100, 1 - alpha / 100), mask)  # (N, 2)
    directions = torch.stack([torch.cos(extremes), torch.sin(extremes)], 1)  # (N, 2, 2)
    return order_stains(plane @ directions)


def macenko_stain_matrix(
    image: Any,
    *,
    background: float = 240.0,
    beta: float = 0.15,
    alpha: float = 1.0,
    mask: Any = None,
) -> np.ndarray:
    """Stain vectors of one image by Macenko's method.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` RGB, uint8 (or float on [0, 1]).
    background : float
        Brightness of unstained glass (``I0``, 0-255).
    beta : float
        OD below which a channel is transparent: only pixels at least ``beta`` in every
        channel are tissue.
    alpha : float
        Percentile (of 100) of the angles taken as the extreme stain directions.
    mask : numpy.ndarray, optional
        ``(H, W)`` bool: restrict the tissue pixels further (e.g. a tissue mask).

    Returns
    -------
    numpy.ndarray
        ``(3, 2)`` float64: unit optical-density vectors (R, G, B rows), haematoxylin in
        column 0, the second stain (eosin, or DAB) in column 1 — haematoxylin being the
        column with the larger red OD.

    Raises
    ------
    DataFormatError
        Fewer than 1 % of the pixels are tissue, or they all have one colour.

    References
    ----------
    Macenko et al., "A method for normalizing histology slides for quantitative analysis",
    ISBI 2009, pp. 1107-1110.

    Examples
    --------
    >>> from skimage.data import immunohistochemistry
    >>> macenko_stain_matrix(immunohistochemistry()).round(2)
    array([[0.67, 0.24],
           [0.65, 0.48],
           [0.35, 0.84]])
    """
    od, tissue = _tissue_od(image, background, beta, mask)
    return macenko_batch(od, tissue, alpha)[0].numpy()


def _tissue_od(image: Any, background: float, beta: float, mask: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 ``(1, 3, P)`` OD and ``(1, P)`` tissue of one numpy image; errors on no tissue."""
    if not isinstance(image, np.ndarray) or image.ndim != 3:
        shape = getattr(image, "shape", None)
        raise DataFormatError(f"image: expected one (H, W, 3) numpy RGB image, got {type(image).__name__} {shape}")
    od = od_of(as_batch(image, torch.float64).pixels, background)
    tissue = tissue_pixels(od, beta)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != image.shape[:2]:
            raise DataFormatError(f"mask: expected shape {image.shape[:2]}, got {mask.shape}")
        tissue &= torch.from_numpy(mask.reshape(1, -1))
    if not bool(usable(*tissue_covariance(od, tissue), tissue.shape[1], MIN_TISSUE_FRACTION)[0]):
        raise DataFormatError(
            f"image: {int(tissue.sum())} of {tissue.shape[1]} pixels are tissue (OD >= {beta}) "
            f"or they hold one colour; expected at least {MIN_TISSUE_FRACTION:.0%} stained pixels "
            "with some spread to estimate stain vectors")
    return od, tissue

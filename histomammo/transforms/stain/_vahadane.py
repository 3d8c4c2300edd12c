"""Vahadane et al. (2016) stain vectors: sparse non-negative factorisation of the tissue OD."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from histomammo.transforms.stain._macenko import _tissue_od, macenko_batch, order_stains

__all__ = ["vahadane_stain_matrix"]


def sparse_codes(od: torch.Tensor, stains: torch.Tensor, codes: torch.Tensor, lam: float,
                 steps: int) -> torch.Tensor:
    """Non-negative lasso ``min_H 1/2 ||V - W H||^2 + lam |H|_1, H >= 0`` by projected ISTA.

    ``od`` ``(3, P)``, ``stains`` ``(3, 2)``, ``codes`` ``(2, P)`` the start; returns ``(2, P)``.
    """
    gram = stains.T @ stains
    step = 1.0 / torch.linalg.eigvalsh(gram)[-1].clamp_min(1e-12)
    correlation = stains.T @ od
    for _ in range(steps):
        codes = (codes - step * (gram @ codes - correlation + lam)).clamp_min(0)
    return codes


def update_dictionary(od: torch.Tensor, stains: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """One block-coordinate pass over the columns (Mairal et al. 2010): ``W >= 0``, ``|w_j| <= 1``."""
    a, b = codes @ codes.T, od @ codes.T
    for j in range(stains.shape[1]):
        column = stains[:, j] + (b[:, j] - stains @ a[:, j]) / a[j, j].clamp_min(1e-12)
        column = column.clamp_min(0)
        column = column / column.norm().clamp_min(1.0)
        stains = torch.cat([stains[:, :j], column[:, None], stains[:, j + 1:]], 1)
    return stains


def vahadane_factorise(od: torch.Tensor, start: torch.Tensor, lam: float, iterations: int = 300,
                       inner: int = 10, tol: float = 1e-5) -> torch.Tensor:
    """Alternate sparse coding and dictionary updates from the stain matrix ``start`` ``(3, 2)``.

    Stops when no entry of the stain matrix moves by more than ``tol`` in an iteration, or
    after ``iterations``. The codes start at the least-squares concentrations, ``pinv(W) V``:
    ``torch.linalg.lstsq`` would give the same up to rounding, but its float32 CPU solutions
    vary in the last bits from call to call for the same input (seen with torch 2.10 and
    2.13), and come back column-major, which slows every later step.
    """
    stains = start.clamp_min(0)
    stains = stains / stains.norm(dim=0, keepdim=True).clamp_min(1e-12)
    codes = (torch.linalg.pinv(stains) @ od).clamp_min(0)
    for _ in range(iterations):
        codes = sparse_codes(od, stains, codes, lam, inner)
        stains, previous = update_dictionary(od, stains, codes), stains
        if (stains - previous).abs().max() <= tol:
            break
    return order_stains(stains[None])[0]


def vahadane_tissue(od: torch.Tensor, lam: float, generator: torch.Generator | None,
                    max_pixels: int = 20_000, alpha: float = 1.0) -> torch.Tensor:
    """Stain matrix ``(3, 2)`` of tissue OD pixels ``(3, P)``, sampling at most ``max_pixels``."""
    if od.shape[1] > max_pixels:
        device = generator.device if generator is not None else od.device
        chosen = torch.randperm(od.shape[1], generator=generator, device=device)[:max_pixels]
        od = od[:, chosen.to(od.device)]
    everywhere = torch.ones(1, od.shape[1], dtype=torch.bool, device=od.device)
    start = macenko_batch(od[None], everywhere, alpha)[0]
    return vahadane_factorise(od, start, lam)


def vahadane_stain_matrix(
    image: Any,
    *,
    lam: float = 0.1,
    mask: Any = None,
    generator: torch.Generator | None = None,
    background: float = 240.0,
    beta: float = 0.15,
    max_pixels: int = 20_000,
) -> np.ndarray:
    """Stain vectors of one image by Vahadane's sparse non-negative matrix factorisation.

    The tissue OD ``V`` (3 x pixels) is factorised as ``V ~ W H`` minimising
    ``1/2 ||V - W H||^2 + lam ||H||_1`` with ``W >= 0`` (unit columns) and ``H >= 0``, the
    dictionary-learning problem SPAMS' ``trainDL`` solves in the paper. Here: projected ISTA
    for ``H`` and Mairal's block-coordinate update for ``W``, alternated from Macenko's
    estimate until the vectors move less than 1e-5 (300 rounds at most); written in torch, with no SPAMS and no scikit-learn.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` RGB, uint8 (or float on [0, 1]).
    lam : float
        Sparsity weight ``lambda`` (the paper's 0.1).
    mask : numpy.ndarray, optional
        ``(H, W)`` bool restricting the tissue pixels.
    generator : torch.Generator, optional
        Draws the ``max_pixels`` tissue pixels used when there are more.
    background, beta : float
        As in [`macenko_stain_matrix`][histomammo.transforms.stain.macenko_stain_matrix].
    max_pixels : int
        Tissue pixels factorised at most (a random subset when there are more).

    Returns
    -------
    numpy.ndarray
        ``(3, 2)`` float64, unit non-negative OD columns, haematoxylin (larger red OD) first.

    Raises
    ------
    DataFormatError
        Too little tissue, or a single colour, to estimate two stains.

    References
    ----------
    Vahadane et al., "Structure-preserving color normalization and sparse stain separation
    for histological images", IEEE Transactions on Medical Imaging 35(8), 2016, pp. 1962-1971.
    Mairal et al., "Online learning for matrix factorization and sparse coding", JMLR 11, 2010.

    Examples
    --------
    >>> import torch
    >>> from skimage.data import immunohistochemistry
    >>> matrix = vahadane_stain_matrix(immunohistochemistry(), generator=torch.Generator().manual_seed(0))
    >>> matrix.shape, bool((matrix >= 0).all())
    ((3, 2), True)
    """
    od, tissue = _tissue_od(image, background, beta, mask)
    return vahadane_tissue(od[0][:, tissue[0]], lam, generator, max_pixels).numpy()

"""Per-channel mean and standard deviation of an image dataset, streamed in one pass.

The seed project normalised its own network's input by the mean and standard deviation of
the whole training set (section 3.1); [`compute_mean_std`][histomammo.datasets.compute_mean_std]
computes them batch by batch
through a DataLoader, never holding the dataset in memory, and merges the batches with
Chan et al.'s pairwise update, which stays accurate where the textbook
``E[x**2] - E[x]**2`` loses every digit (large means, small spreads, millions of pixels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

__all__ = ["compute_mean_std"]


def _images_of(batch: Any) -> torch.Tensor:
    """The image tensor ``(B, C, ...)`` of a collated batch (the first element of a tuple)."""
    images = batch[0] if isinstance(batch, (tuple, list)) else batch
    if not isinstance(images, torch.Tensor) or images.ndim < 3:
        raise TypeError(
            "compute_mean_std expects samples whose first element is a (C, H, W) image "
            f"tensor; got a batch of {type(images).__name__}"
            + (f" of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else "")
        )
    return images


def compute_mean_std(
    dataset: Dataset[Any],
    *,
    batch_size: int = 256,
    num_workers: int = 0,
    scale: bool = True,
    ddof: int = 0,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over every pixel of every image.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Samples ``(image, ...)`` (or bare images) with images as ``(C, H, W)`` tensors of
        one size, e.g. [`PCam`][histomammo.datasets.PCam].
    batch_size, num_workers : int
        Passed to the DataLoader that streams the dataset in order.
    scale : bool
        Divide integer images by their dtype's maximum (uint8: 255), so the results suit
        ``transforms.v2.Normalize`` after ``ToDtype(torch.float32, scale=True)``.
    ddof : int
        Delta degrees of freedom of the variance (0: population, as numpy's default).
    progress : bool
        Show a progress bar.

    Returns
    -------
    mean, std : numpy.ndarray
        ``(C,)`` float64 each.

    Notes
    -----
    Each batch's mean and sum of squared deviations are computed in float64 (two passes
    over the batch, which is in memory), then merged into the running totals with the
    update of Chan, Golub & LeVeque (1983): ``M2 = M2_a + M2_b + d**2 * n_a * n_b / n``.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> images = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).reshape(2, 3, 4, 4)
    >>> mean, std = compute_mean_std(TensorDataset(images), batch_size=1, scale=False,
    ...                              progress=False)
    >>> mean.round(2), std.round(2)
    (array([31.5, 47.5, 63.5]), array([24.44, 24.44, 24.44]))
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    count = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    for batch in tqdm(loader, desc="mean/std", disable=not progress, leave=False):
        images = _images_of(batch)
        divisor = 1.0
        if scale and not images.dtype.is_floating_point and images.dtype != torch.bool:
            divisor = float(torch.iinfo(images.dtype).max)
        values = images.transpose(0, 1).reshape(images.shape[1], -1).double().numpy() / divisor
        n_b = values.shape[1]
        mean_b = values.mean(axis=1)
        m2_b = ((values - mean_b[:, None]) ** 2).sum(axis=1)
        if mean is None:
            count, mean, m2 = n_b, mean_b, m2_b
            continue
        delta, total = mean_b - mean, count + n_b
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (count * n_b / total)
        count = total
    if mean is None or m2 is None or count - ddof <= 0:
        raise ValueError(f"compute_mean_std needs more than ddof={ddof} pixels; the dataset "
                         f"gave {count}")
    return mean, np.sqrt(m2 / (count - ddof))

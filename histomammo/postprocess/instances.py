"""Instance segmentation outputs (Mask R-CNN) to instance label images, on the outputs' device."""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["maskrcnn_instances"]


def maskrcnn_instances(
    output: Mapping[str, torch.Tensor], score_threshold: float = 0.5,
    mask_threshold: float = 0.5,
) -> torch.Tensor:
    """One Mask R-CNN image output as an ``(H, W)`` int32 instance label image.

    Detections scoring at least ``score_threshold`` are painted in order of decreasing
    score (ties in input order), each on the pixels where its mask probability exceeds
    ``mask_threshold`` and no better detection lies; labels are ``1..K`` in that order over
    the detections that painted a pixel, 0 background. Computed without a Python loop or a
    data-dependent shape, on the masks' device (``meta`` included: shapes only).

    Parameters
    ----------
    output : dict
        torchvision's eval-mode output for one image: ``"masks"`` (N, 1, H, W) float
        probabilities and ``"scores"`` (N,).
    score_threshold : float
        Detections below it are left out.
    mask_threshold : float
        A pixel belongs to a detection's mask when its probability is above it.

    Returns
    -------
    Tensor of int32, shape (H, W)
        On the device of ``output["masks"]``.

    Examples
    --------
    >>> masks = torch.zeros(2, 1, 4, 4); masks[0, 0, :2] = 0.9; masks[1, 0, 1:] = 0.8
    >>> out = {"masks": masks, "scores": torch.tensor([0.6, 0.9])}
    >>> maskrcnn_instances(out)[:, 0].tolist()
    [2, 1, 1, 1]
    """
    masks, scores = output["masks"], output["scores"]
    if masks.ndim != 4 or masks.shape[1] != 1 or len(masks) != len(scores):
        raise ValueError(
            f"expected masks (N, 1, H, W) and scores (N,), but got {tuple(masks.shape)} and "
            f"{tuple(scores.shape)}"
        )
    if len(masks) == 0:
        return torch.zeros(masks.shape[-2:], dtype=torch.int32, device=masks.device)
    order = torch.argsort(scores, descending=True, stable=True)
    painted = masks[order, 0] > mask_threshold  # (N, H, W), best detection first
    painted &= (scores[order] >= score_threshold).to(masks.device)[:, None, None]
    covered = painted.any(dim=0)
    first = painted.to(torch.uint8).argmax(dim=0)  # the best detection on each pixel
    # a detection gets the next label only if it is the best one on some pixel
    wins = torch.zeros(len(order), dtype=torch.int32, device=masks.device)
    wins.index_add_(0, first.flatten(), covered.flatten().to(torch.int32))
    label_of = torch.cumsum((wins > 0).to(torch.int32), dim=0, dtype=torch.int32)
    return torch.where(covered, label_of[first], torch.zeros_like(label_of[:1]))

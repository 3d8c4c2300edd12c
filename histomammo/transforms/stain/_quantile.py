"""Exact row quantiles of large ``(N, P)`` tensors, as ``numpy.percentile`` (linear), batched.

Stain methods need the 1st/99th percentiles of angles and concentrations over every pixel of
an image (a million for a 1024x1024 tile). Short rows use ``topk`` over the share of the row
nearest the quantile; long rows use Floyd and Rivest's selection: a sample
(a fixed pseudo-random choice of pixels: strides would follow the image's columns) brackets the wanted order statistics between two pivots, one counting pass places them, and
only the few values between the pivots are ordered. The result is exact either way: a
bracket that misses (never seen on images) falls back to ``kthvalue``.

References
----------
Floyd & Rivest, "Algorithm 489: the algorithm SELECT", Communications of the ACM 18(3), 1975.
"""

from __future__ import annotations

import torch

__all__ = ["quantile"]

_LONG_ROW = 1 << 16  # from here on, sample-bracketed selection
_SAMPLE = 8192


def quantile(values: torch.Tensor, q: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``q``-quantile of each row of ``(N, P)`` values over the pixels of ``mask``.

    Linear interpolation between order statistics, as ``numpy.percentile``'s default; a row
    with no pixel in its mask gives 0. Nothing is read on the host for short rows (so
    ``meta`` tensors work).
    """
    n = values.shape[1]
    if mask is None:
        count = values.new_full(values.shape[:1], n, dtype=torch.long)
    else:
        count = mask.sum(dim=1, dtype=values.dtype).long()
    last = (count - 1).clamp_min(0)
    position = last.to(values.dtype) * q
    low = position.floor().long().clamp_max(n - 1)
    high = torch.minimum(low + 1, last)
    end = float("inf") if q <= 0.5 or n >= _LONG_ROW else float("-inf")  # masked values sort past it
    filled = values if mask is None else values.masked_fill(~mask, end)
    if n >= _LONG_ROW and values.device.type != "meta":
        pairs = [_bracketed(row, int(lo), int(hi)) for row, lo, hi in zip(filled, low, high, strict=True)]
        below, above = (torch.stack(side) for side in zip(*pairs, strict=True))
    else:
        below, above = _topk(filled, low, high, last, q)
    result = below + (above - below) * (position - low.to(values.dtype))
    return torch.where(count > 0, result, torch.zeros_like(result))


def _topk(filled: torch.Tensor, low: torch.Tensor, high: torch.Tensor, last: torch.Tensor,
          q: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Order statistics ``low`` and ``high`` per row from the ``k`` values at the nearer end."""
    n = filled.shape[1]
    k = min(n, int((n - 1) * min(q, 1 - q)) + 2)
    if q <= 0.5:
        ordered = filled.topk(k, dim=1, largest=False).values
    else:  # the k largest of the masked values, descending: ascending index i sits at last - i
        ordered = filled.topk(k, dim=1).values
        low, high = last - low, last - high
    pick = lambda index: ordered.gather(1, index.clamp(0, k - 1)[:, None])[:, 0]  # noqa: E731
    return pick(low), pick(high)


def _fixed(device: torch.device) -> torch.Generator:
    """A generator seeded the same on every call: the sample, hence the work, is reproducible."""
    return torch.Generator(device).manual_seed(0x5EED)


def _bracketed(row: torch.Tensor, low: int, high: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Order statistics ``low <= high`` (0-based, ``+inf`` sorting last) of one long row."""
    n = row.shape[0]
    picks = torch.randint(n, (_SAMPLE,), generator=_fixed(row.device), device=row.device)
    sample = row[picks].sort().values
    size, share = sample.shape[0], low / n
    margin = int(5 * (size * share * (1 - share)) ** 0.5) + 8  # sample ranks spread ~ sqrt(S p (1 - p))
    first = sample[max(0, low * size // n - margin)]
    second = sample[min(size - 1, high * size // n + margin)]
    inside = (row >= first) & (row <= second)
    below = int((row < first).sum())
    between = row[inside]
    if not below <= low <= high < below + between.shape[0]:  # the bracket missed: select in full
        return row.kthvalue(low + 1).values, row.kthvalue(high + 1).values
    ordered = between.topk(high - below + 1, largest=False).values
    return ordered[low - below], ordered[high - below]

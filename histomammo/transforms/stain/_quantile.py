"""Exact row quantiles of large ``(N, P)`` tensors, as ``numpy.percentile`` (linear), batched.

Stain methods need the 1st/99th percentiles of angles and concentrations over every pixel of
an image (a million for a 1024x1024 tile). On the CPU they come from numpy: short rows
sorted together (``numpy.sort``), long rows partitioned (``numpy.partition``, introselect,
vectorised with AVX-512 where the CPU has it: about 1.5 ms for a million values, 15x torch's
``kthvalue``). On other devices short rows use ``topk`` over the share of the row nearest the
quantile, long rows Floyd and Rivest's selection: a sample
(a fixed pseudo-random choice of pixels: strides would follow the image's columns) brackets the wanted order statistics between two pivots, one counting pass places them, and
only the few values between the pivots are ordered. The result is exact either way: a
bracket that misses (never seen on images) falls back to ``kthvalue``.

References
----------
Floyd & Rivest, "Algorithm 489: the algorithm SELECT", Communications of the ACM 18(3), 1975.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["quantile"]

_LONG_ROW = 1 << 16  # from here on, partitioned (CPU) or sample-bracketed selection
_SAMPLE = 8192


def quantile(values: torch.Tensor, q: float | Sequence[float], mask: torch.Tensor | None = None) -> torch.Tensor:
    """``q``-quantile of each row of ``(N, P)`` values over the pixels of ``mask``.

    Linear interpolation between order statistics, as ``numpy.percentile``'s default; a row
    with no pixel in its mask gives 0. A float ``q`` gives ``(N,)``, a sequence of them
    ``(N, len(q))`` (on the CPU from one ordering of the rows). On ``meta`` tensors (and
    short rows off the CPU) nothing is read on the host.
    """
    single = isinstance(q, (int, float))
    qs = [float(q)] if isinstance(q, (int, float)) else [float(one) for one in q]
    n = values.shape[1]
    if mask is None:
        count = values.new_full(values.shape[:1], n, dtype=torch.long)
    else:
        count = mask.sum(dim=1, dtype=values.dtype).long()
    last = (count - 1).clamp_min(0)
    positions = [last.to(values.dtype) * one for one in qs]
    lows = [position.floor().long().clamp_max(n - 1) for position in positions]
    highs = [torch.minimum(low + 1, last) for low in lows]
    on_cpu = values.device.type == "cpu" and values.dtype in (torch.float32, torch.float64)
    pairs = _selected(values, mask, lows, highs, count) if on_cpu else None
    results = []
    for i, (one, position, low, high) in enumerate(zip(qs, positions, lows, highs, strict=True)):
        below, above = _elsewhere(values, mask, one, low, high, last) if pairs is None else pairs[i]
        result = below + (above - below) * (position - low.to(values.dtype))
        results.append(torch.where(count > 0, result, torch.zeros_like(result)))
    return results[0] if single else torch.stack(results, -1)


def _elsewhere(values: torch.Tensor, mask: torch.Tensor | None, q: float, low: torch.Tensor, high: torch.Tensor,
               last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Order statistics ``low <= high`` off the CPU, in torch: bracketed for long rows, else ``topk``."""
    pair = None
    if values.shape[1] >= _LONG_ROW and values.device.type != "meta":
        if q <= 0.5:
            filled = values if mask is None else values.masked_fill(~mask, float("inf"))
            pair = _bracketed(filled, low, high)
        else:  # from the top: the masked-out values must not fall between the pivots
            filled = values.neg() if mask is None else values.neg().masked_fill_(~mask, float("inf"))
            pair = _bracketed(filled, last - high, last - low)
            pair = None if pair is None else (-pair[1], -pair[0])
    if pair is None:
        end = float("inf") if q <= 0.5 else float("-inf")  # masked values sort past the end used
        filled = values if mask is None else values.masked_fill(~mask, end)
        pair = _topk(filled, low, high, last, q)
    return pair


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


def _selected(values: torch.Tensor, mask: torch.Tensor | None, lows: list[torch.Tensor],
              highs: list[torch.Tensor], count: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """CPU rows: order statistics ``low <= high`` for each quantile, by numpy, or None.

    Masked-out values become ``+inf``, which sort past every rank asked for. Short rows are
    sorted all at once (numpy's vectorised sort); in a long row ``numpy.partition``
    (introselect, vectorised on CPUs with AVX-512) places each ``low`` in one pass over what
    lies above the previous one, and ``high`` (``low + 1`` or ``low``) is the smallest value
    after it. Empty rows give 0 (discarded by the caller).
    """
    rows = values.detach().numpy()
    rows = rows if mask is None else np.where(mask.numpy(), rows, np.inf)
    if rows.shape[1] < _LONG_ROW:
        ordered, index = np.sort(rows, axis=1), np.arange(len(rows))
        return [(torch.from_numpy(ordered[index, low.numpy()]), torch.from_numpy(ordered[index, high.numpy()]))
                for low, high in zip(lows, highs, strict=True)]
    result = np.zeros((len(lows), 2, len(rows)), dtype=rows.dtype)
    for i, size in enumerate(count.tolist()):
        if size == 0:
            continue
        work, start = rows[i] if mask is not None else rows[i].copy(), 0  # np.where made a copy
        for j in sorted(range(len(lows)), key=lambda j: int(lows[j][i])):
            low, high = int(lows[j][i]), int(highs[j][i])
            work[start:].partition(low - start)
            result[j, :, i] = work[low], work[low + 1:].min() if high > low else work[low]
            start = low
    pairs = torch.from_numpy(result)
    return [(pair[0], pair[1]) for pair in pairs]


def _fixed(device: torch.device) -> torch.Generator:
    """A generator seeded the same on every call: the sample, hence the work, is reproducible."""
    return torch.Generator(device).manual_seed(0x5EED)


def _bracketed(filled: torch.Tensor, low: torch.Tensor,
               high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Order statistics ``low <= high`` (0-based, ``+inf`` last) of each row, or None on a miss.

    The same pseudo-random columns of every row, sorted, give two pivots per row whose
    ranks surely straddle the wanted ones; one pass counts the values below the first and
    keeps those between, which are ordered within their rows.
    """
    rows, n = filled.shape
    picks = torch.randint(n, (_SAMPLE,), generator=_fixed(filled.device), device=filled.device)
    sample = filled[:, picks].sort(dim=1).values
    share = low.to(torch.float64) / n
    margin = (5 * (_SAMPLE * share * (1 - share)).sqrt()).long() + 8  # sample ranks spread ~ sqrt(S p (1 - p))
    lower, upper = low * _SAMPLE // n - margin, high * _SAMPLE // n + margin
    first = sample.gather(1, lower.clamp(0, _SAMPLE - 1)[:, None])
    second = sample.gather(1, upper.clamp(0, _SAMPLE - 1)[:, None])
    first = torch.where(lower[:, None] < 0, float("-inf"), first)  # past the sample: open bracket
    second = torch.where(upper[:, None] >= _SAMPLE, float("inf"), second)
    below = (filled < first).sum(dim=1, dtype=filled.dtype).long()  # float sums of bools are faster
    inside = (filled >= first) & (filled <= second)
    counts = inside.sum(dim=1, dtype=filled.dtype).long()
    if not bool(((below <= low) & (high < below + counts)).all()):
        return None
    between = filled[inside]  # row after row
    row_of = torch.repeat_interleave(torch.arange(rows, device=filled.device), counts)
    order = between.sort(stable=True).indices
    order = order[row_of[order].sort(stable=True).indices]  # by row, then by value
    ordered = between[order]
    start = counts.cumsum(0) - counts
    return ordered[start + low - below], ordered[start + high - below]

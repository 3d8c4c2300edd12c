"""Percentile bootstrap confidence intervals, resampling images or whole patients."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from histomammo.metrics._convert import to_numpy

__all__ = ["bootstrap_ci"]

_log = logging.getLogger("histomammo.metrics")


def _resample_indices(
    rng: np.random.Generator, n_items: int, members: list[np.ndarray] | None
) -> np.ndarray:
    if members is None:
        return rng.integers(0, n_items, size=n_items)
    picked = rng.integers(0, len(members), size=len(members))
    return np.concatenate([members[i] for i in picked])


def bootstrap_ci(
    metric_fn: Callable[..., float],
    *arrays: Any,
    n: int = 1000,
    seed: int = 0,
    groups: Any = None,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Percentile bootstrap confidence interval of ``metric_fn(*arrays)``.

    None of the seed papers report uncertainty; this is the library's addition. Each of the
    ``n`` resamples draws, with replacement, as many items as the data hold: images, or,
    when ``groups`` are given, whole groups (patients), so that the views and breasts of
    one woman stay together and the interval is not made too narrow by their correlation.

    Parameters
    ----------
    metric_fn : callable
        ``metric_fn(*resampled_arrays) -> float``, e.g. [`roc_auc`][histomammo.metrics.classification.roc_auc].
    *arrays : array-like
        Arrays sharing their first dimension ``N`` (e.g. scores and labels).
    n : int
        Number of resamples.
    seed : int
        Seed of the ``numpy.random.Generator`` drawing the resamples.
    groups : array-like, shape (N,), optional
        Group (patient) identifier per item.
    confidence : float
        Central coverage of the interval, in (0, 1).

    Returns
    -------
    dict of str to float
        ``estimate`` (the metric on all data), ``low``, ``high`` (percentiles
        ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``) and ``n_valid``: the number of
        resamples on which the metric was defined. A resample on which ``metric_fn`` raises
        ``ValueError`` (e.g. an AUC with one class only) is skipped.

    Raises
    ------
    ValueError
        For mismatched lengths, bad ``n`` / ``confidence``, or when fewer than half of the
        resamples give a defined metric.

    Examples
    --------
    >>> from histomammo.metrics.classification import roc_auc
    >>> ci = bootstrap_ci(roc_auc, [0.1, 0.4, 0.35, 0.8, 0.7, 0.2], [0, 0, 1, 1, 1, 0], n=200)
    >>> ci["low"] <= ci["estimate"] <= ci["high"]
    True
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of resamples; got {n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    data = [to_numpy(a, f"arrays[{i}]") for i, a in enumerate(arrays)]
    if not data:
        raise ValueError("bootstrap_ci needs at least one array to resample")
    n_items = len(data[0])
    if any(len(a) != n_items for a in data):
        raise ValueError(f"arrays must share their first dimension; got {[len(a) for a in data]}")
    members = None
    if groups is not None:
        g = to_numpy(groups, "groups")
        if g.shape != (n_items,):
            raise ValueError(f"groups must have shape ({n_items},); got {g.shape}")
        _, inverse = np.unique(g, return_inverse=True)
        order = np.argsort(inverse, kind="mergesort")
        members = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        idx = _resample_indices(rng, n_items, members)
        try:
            values.append(float(metric_fn(*(a[idx] for a in data))))
        except ValueError:
            continue
    if len(values) < n / 2:
        raise ValueError(
            f"the metric was undefined on {n - len(values)} of {n} resamples; "
            "too few items (or too few of one class) to bootstrap"
        )
    if len(values) < n:
        _log.info("bootstrap: metric undefined on %d of %d resamples", n - len(values), n)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return {
        "estimate": float(metric_fn(*data)),
        "low": float(low),
        "high": float(high),
        "n_valid": len(values),
    }

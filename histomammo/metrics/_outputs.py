"""Model outputs to binary scores: ``(N,)`` scores, ``(N, 2)`` logits or probabilities
(private to `histomammo.metrics.classification`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, softmax

from histomammo.metrics._convert import to_numpy

__all__ = ["as_outputs", "check_labels", "positive_scores"]

# Rows of an (N, C) output in [0, 1] that sum to 1 within this are taken as probabilities.
_ROW_SUM_TOLERANCE = 1e-3


def as_outputs(preds: Any, name: str = "preds") -> np.ndarray:
    """Finite float64 ``(N,)`` or ``(N, C)`` outputs (an ``(N, 1)`` column becomes ``(N,)``)."""
    p = to_numpy(preds, name)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (N,) or (N, C); got shape {p.shape}")
    if not np.issubdtype(p.dtype, np.number) and p.dtype != bool:
        raise ValueError(f"{name} must be numeric; got dtype {p.dtype}")
    p = p.astype(np.float64)
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contain {int(np.sum(~np.isfinite(p)))} NaN or infinite values")
    return p


def _looks_like_probabilities(p: np.ndarray) -> bool:
    return bool(np.all((p >= 0) & (p <= 1))
                and np.allclose(p.sum(axis=1), 1.0, rtol=0, atol=_ROW_SUM_TOLERANCE))


def probabilities(p: np.ndarray, from_logits: bool | None) -> np.ndarray:
    """``(N, C)`` class probabilities: the softmax of logits, or the rows as given."""
    if from_logits is None:
        from_logits = not _looks_like_probabilities(p)
    return softmax(p, axis=1) if from_logits else p


def positive_scores(preds: Any, from_logits: bool | None, name: str = "preds") -> np.ndarray:
    """The positive-class score ``(N,)`` float64 of binary model outputs.

    ``(N,)`` scores are used as given (``from_logits=True``: their sigmoid); ``(N, 2)``
    outputs give ``softmax(preds)[:, 1]``, or column 1 when they are probabilities
    (``from_logits=False``, or ``None`` and every row in [0, 1] summing to 1).
    """
    p = as_outputs(preds, name)
    if p.ndim == 1:
        return expit(p) if from_logits else p
    if p.shape[1] != 2:
        raise ValueError(
            f"{name} must have shape (N,) or (N, 2) for a binary metric; got shape {p.shape} "
            "(C > 2 classes: score one class against the rest yourself)"
        )
    return probabilities(p, from_logits)[:, 1]


def check_labels(labels: Any, n: int, classes: int = 2, name: str = "targets") -> np.ndarray:
    """Integer labels ``(n,)`` in ``[0, classes)`` (bool accepted) as int64."""
    y = to_numpy(labels, name)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match preds; got shape {y.shape}")
    unique = np.unique(y)
    allowed = np.arange(classes)
    if not np.all(np.isin(unique, allowed)):
        what = "0 or 1" if classes == 2 else f"class indices in [0, {classes})"
        raise ValueError(f"{name} must be {what}; got values {unique[:10].tolist()}")
    return y.astype(np.int64)

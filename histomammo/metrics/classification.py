"""Binary classification metrics: ROC, AUC, accuracy and the thesis's specificity measure.

Every function takes ``(scores, labels)`` in torchmetrics' order, accepts numpy arrays, torch
tensors or sequences, and returns Python floats (curves: a dict of numpy arrays).

Conventions
-----------
- ``scores``: shape ``(N,)``, the score of the positive class (a probability or any real
  number; larger means "more likely positive"), or ``(N, 2)`` two-way softmax outputs, of
  which column 1 (the positive class) is used.
- ``labels``: shape ``(N,)``, 0 (negative) or 1 (positive); bool is accepted.
- A sample is called positive when ``score >= threshold`` (scikit-learn's convention for
  ``roc_curve`` thresholds, used here throughout).

References
----------
.. [1] Thesis "Whole-mammogram classification" (``seeds/mammography_whole_image_thesis.txt``),
   section 5.2 (the specificity measure), 6.4 (validation threshold applied to test, table
   6.3) and 6.6 (view aggregation, table 6.4).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from histomammo.metrics._bootstrap import bootstrap_ci

__all__ = [
    "roc_curve",
    "roc_auc",
    "accuracy",
    "sensitivity_specificity",
    "threshold_at_sensitivity",
    "specificity_at_sensitivity",
    "aggregate_views",
    "bootstrap_ci",
]

_AGGREGATES = {"mean", "max", "min"}


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check_inputs(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(scores float64 (N,), labels bool (N,))``."""
    s = _as_array(scores)
    y = _as_array(labels)
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    if s.ndim != 1:
        raise ValueError(f"scores must have shape (N,) or (N, 2); got shape {s.shape}")
    if y.ndim != 1 or y.shape[0] != s.shape[0]:
        raise ValueError(
            f"labels must have shape ({s.shape[0]},) to match scores; got shape {y.shape}"
        )
    if not np.issubdtype(s.dtype, np.number) and s.dtype != bool:
        raise ValueError(f"scores must be numeric; got dtype {s.dtype}")
    s = s.astype(np.float64)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"scores contain {int(np.sum(~np.isfinite(s)))} NaN or infinite values")
    unique = np.unique(y)
    if not np.all(np.isin(unique, [0, 1])):
        raise ValueError(f"labels must be 0 or 1; got values {unique[:10].tolist()}")
    return s, y.astype(bool)


def _check_both_classes(y: np.ndarray, what: str) -> None:
    if y.all() or not y.any():
        only = "positive" if y.all() else "negative"
        raise ValueError(f"{what} is undefined when every label is {only} (n={y.size})")


def _cumulative_counts(s: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """False/true positive counts at each distinct score, in decreasing score order."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # the last index of each run of tied scores: ties move fpr and tpr together
    last_of_run = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    tps = np.cumsum(y_sorted)[last_of_run]
    fps = (last_of_run + 1) - tps
    return fps, tps, s_sorted[last_of_run]


def roc_curve(scores: Any, labels: Any, drop_intermediate: bool = True) -> dict[str, np.ndarray]:
    """Receiver operating characteristic curve, computed as :func:`sklearn.metrics.roc_curve`.

    Parameters
    ----------
    scores : array-like, shape (N,) or (N, 2)
        Positive-class scores (see the module's conventions).
    labels : array-like, shape (N,)
        0 or 1.
    drop_intermediate : bool
        Drop thresholds at which the curve only continues a straight segment (scikit-learn's
        default); the AUC does not change.

    Returns
    -------
    dict
        ``"fpr"``, ``"tpr"`` (float64, increasing, starting at 0) and ``"thresholds"``
        (float64, decreasing; the first is ``inf``, so that nothing is called positive),
        all of the same length.

    Raises
    ------
    ValueError
        If the shapes disagree, scores are not finite, labels are not 0/1, or one class is
        missing.

    Examples
    --------
    >>> curve = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> curve["tpr"].tolist(), curve["fpr"].tolist()
    ([0.0, 0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5, 1.0])
    """
    s, y = _check_inputs(scores, labels)
    _check_both_classes(y, "the ROC curve")
    fps, tps, thresholds = _cumulative_counts(s, y)
    if drop_intermediate and fps.size > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    return {
        "fpr": fps / fps[-1],
        "tpr": tps / tps[-1],
        "thresholds": np.r_[np.inf, thresholds],
    }


def roc_auc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve (trapezoidal; a tie between a positive and a negative counts
    one half, exactly as :func:`sklearn.metrics.roc_auc_score`).

    Parameters
    ----------
    scores : array-like, shape (N,) or (N, 2)
        Positive-class scores.
    labels : array-like, shape (N,)
        0 or 1; both classes must be present.

    Returns
    -------
    float
        In [0, 1].

    Examples
    --------
    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    >>> roc_auc([0.5, 0.5], [0, 1])
    0.5
    """
    curve = roc_curve(scores, labels, drop_intermediate=False)
    return float(np.trapezoid(curve["tpr"], curve["fpr"]))


def accuracy(scores: Any, labels: Any, threshold: float = 0.5) -> float:
    """Fraction of samples whose prediction ``score >= threshold`` equals the label.

    Parameters
    ----------
    scores : array-like, shape (N,) or (N, 2)
        Positive-class scores (for two-way softmax outputs at ``threshold=0.5`` this is the
        arg-max prediction, up to exact ties which count as positive).
    labels : array-like, shape (N,)
        0 or 1.
    threshold : float
        Decision threshold; the thesis's "Acc" uses 1/2 and "T-Acc" the validation threshold.

    Examples
    --------
    >>> accuracy([0.2, 0.7, 0.6], [0, 1, 0])
    0.6666666666666666
    """
    s, y = _check_inputs(scores, labels)
    if s.size == 0:
        raise ValueError("accuracy of zero samples is undefined")
    return float(np.mean((s >= threshold) == y))


def sensitivity_specificity(scores: Any, labels: Any, threshold: float) -> tuple[float, float]:
    """``(sensitivity, specificity)`` when ``score >= threshold`` is called positive.

    Examples
    --------
    >>> sensitivity_specificity([0.2, 0.7, 0.6, 0.9], [0, 1, 0, 1], threshold=0.65)
    (1.0, 1.0)
    """
    s, y = _check_inputs(scores, labels)
    _check_both_classes(y, "sensitivity and specificity")
    predicted = s >= threshold
    return float(np.mean(predicted[y])), float(np.mean(~predicted[~y]))


def threshold_at_sensitivity(scores: Any, labels: Any, sensitivity: float = 0.9) -> float:
    """The thesis's cut-off: the ``1 - n`` quantile of the positive scores (section 5.2).

    Quantile rule: with ``P`` positives, the threshold is the ``k``-th largest positive score,
    ``k = ceil(n * P)``. Calling ``score >= threshold`` positive then reaches a sensitivity of
    at least ``n`` on these same scores (``k / P >= n``; more when scores tie at the
    threshold), which is why table 6.3 says "validation sensitivity is 90% by definition". It
    is the highest threshold that does, so the specificity is the largest possible at that
    sensitivity. (Interpolating quantiles such as numpy's default would not guarantee it.)

    Parameters
    ----------
    scores : array-like, shape (N,) or (N, 2)
        Positive-class scores.
    labels : array-like, shape (N,)
        0 or 1; at least one positive.
    sensitivity : float
        Target sensitivity ``n`` in (0, 1].

    Returns
    -------
    float
        The threshold.

    Examples
    --------
    >>> threshold_at_sensitivity([0.9, 0.8, 0.7, 0.6, 0.5, 0.1], [1, 1, 1, 1, 1, 0], 0.8)
    0.6
    """
    if not 0.0 < sensitivity <= 1.0:
        raise ValueError(f"sensitivity must be in (0, 1]; got {sensitivity}")
    s, y = _check_inputs(scores, labels)
    positives = np.sort(s[y])[::-1]
    if positives.size == 0:
        raise ValueError("threshold_at_sensitivity needs at least one positive label; got none")
    # the tolerance keeps 0.9 * 10 == 9 from becoming 10 through rounding error
    k = max(1, math.ceil(sensitivity * positives.size - 1e-9))
    return float(positives[k - 1])


def specificity_at_sensitivity(
    val_scores: Any,
    val_labels: Any,
    test_scores: Any,
    test_labels: Any,
    sensitivity: float = 0.9,
) -> dict[str, float]:
    """One row of the thesis's table 6.3: threshold fixed on validation, applied to test.

    Parameters
    ----------
    val_scores, val_labels : array-like, shape (N_val,) / (N_val, 2)
        Validation scores and 0/1 labels, which fix the threshold.
    test_scores, test_labels : array-like, shape (N_test,) / (N_test, 2)
        Test scores and labels, evaluated at that threshold.
    sensitivity : float
        Target sensitivity on validation (the thesis uses 0.9).

    Returns
    -------
    dict of str to float
        ``threshold``, ``val_auc``, ``val_specificity``, ``test_auc``, ``test_sensitivity``,
        ``test_specificity``, ``test_accuracy`` (at 0.5) and ``test_threshold_accuracy`` (at
        the threshold): the columns Val AUC, Val Spec, Test AUC, Test Sen, Test Spec and
        Test Acc / T-Acc of table 6.3, as fractions.

    Examples
    --------
    >>> row = specificity_at_sensitivity([0.1, 0.6, 0.7, 0.9], [0, 0, 1, 1],
    ...                                  [0.2, 0.65, 0.8], [0, 1, 1])
    >>> row["threshold"], row["test_sensitivity"], row["test_specificity"]
    (0.7, 0.5, 1.0)
    """
    threshold = threshold_at_sensitivity(val_scores, val_labels, sensitivity)
    _, val_spec = sensitivity_specificity(val_scores, val_labels, threshold)
    test_sen, test_spec = sensitivity_specificity(test_scores, test_labels, threshold)
    return {
        "threshold": threshold,
        "val_auc": roc_auc(val_scores, val_labels),
        "val_specificity": val_spec,
        "test_auc": roc_auc(test_scores, test_labels),
        "test_sensitivity": test_sen,
        "test_specificity": test_spec,
        "test_accuracy": accuracy(test_scores, test_labels, 0.5),
        "test_threshold_accuracy": accuracy(test_scores, test_labels, threshold),
    }


def aggregate_views(
    scores: Any, groups: Any, how: str = "mean", labels: Any = None
) -> dict[str, np.ndarray]:
    """Per-breast scores from per-view scores (thesis section 6.6, table 6.4).

    Parameters
    ----------
    scores : array-like, shape (N,) or (N, 2)
        Per-image positive-class scores.
    groups : array-like, shape (N,)
        A breast identifier per image (e.g. ``"patient/L"``); any sortable values.
    how : {"mean", "max", "min"}
        How the views of one breast combine.
    labels : array-like, shape (N,), optional
        Per-image 0/1 labels; they must agree within a breast, and come back per breast.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"groups"`` (the sorted distinct identifiers), ``"scores"`` (float64, one per group)
        and, when ``labels`` were given, ``"labels"`` (int64). Run
        :func:`specificity_at_sensitivity` on them for a table 6.4 row.

    Examples
    --------
    >>> out = aggregate_views([0.2, 0.4, 0.9], ["a", "a", "b"], how="max")
    >>> out["groups"].tolist(), out["scores"].tolist()
    (['a', 'b'], [0.4, 0.9])
    """
    if how not in _AGGREGATES:
        raise ValueError(f"how must be one of {sorted(_AGGREGATES)}; got {how!r}")
    s, _ = _check_inputs(scores, np.zeros(len(_as_array(scores)), dtype=int))
    g = _as_array(groups)
    if g.shape != s.shape:
        raise ValueError(f"groups must have shape {s.shape} to match scores; got {g.shape}")
    unique, inverse = np.unique(g, return_inverse=True)
    order = np.argsort(inverse, kind="mergesort")
    starts = np.r_[0, np.flatnonzero(np.diff(inverse[order])) + 1]
    if how == "mean":
        aggregated = np.add.reduceat(s[order], starts) / np.bincount(inverse)
    else:
        ufunc = np.maximum if how == "max" else np.minimum
        aggregated = ufunc.reduceat(s[order], starts)
    out = {"groups": unique, "scores": aggregated}
    if labels is not None:
        _, y = _check_inputs(s, labels)
        y = y.astype(np.int64)
        high, low = np.maximum.reduceat(y[order], starts), np.minimum.reduceat(y[order], starts)
        if np.any(high != low):
            bad = unique[high != low][:5].tolist()
            raise ValueError(f"labels differ between the views of groups {bad}; expected one")
        out["labels"] = high
    return out

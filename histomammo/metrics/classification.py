"""Binary classification metrics: ROC, AUC, accuracy and the thesis's specificity measure.

Every function takes ``(preds, targets)`` in torchmetrics' order, accepts numpy arrays, torch
tensors (any device, with or without grad) or sequences, and returns Python floats (several
numbers: a dict; curves: a dict of numpy arrays).

Conventions
-----------
- ``preds``: model outputs as they come. ``(N,)``: the score of the positive class (a
  probability or any real number; larger means "more likely positive"). ``(N, 2)``: two-way
  logits or probabilities, scored by ``softmax(preds)[:, 1]``;
  [`accuracy`][histomammo.metrics.classification.accuracy] also takes ``(N, C)`` and uses the
  arg-max.
- ``from_logits``: ``None`` (the default) softmaxes an ``(N, C)`` output unless it already
  is a probability table (every value in [0, 1], every row summing to 1 within 1e-3), and
  uses ``(N,)`` scores as given; ``True`` always applies the softmax (``(N,)``: the
  sigmoid); ``False`` never does. So ``Trainer(..., metrics={"auc": roc_auc})`` scores a
  two-logit model by its tumour probability.
- ``targets``: shape ``(N,)``, 0 (negative) or 1 (positive); bool is accepted.
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

import numpy as np
import numpy.typing as npt

from histomammo._compat import trapezoid
from histomammo.metrics._bootstrap import bootstrap_ci
from histomammo.metrics._convert import to_numpy
from histomammo.metrics._outputs import as_outputs, check_labels, positive_scores

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


def _check_inputs(
    preds: npt.ArrayLike, targets: npt.ArrayLike, from_logits: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(scores float64 (N,), labels bool (N,))``."""
    s = positive_scores(preds, from_logits)
    return s, check_labels(targets, s.shape[0]).astype(bool)


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




def roc_curve(
    preds: npt.ArrayLike, targets: npt.ArrayLike, drop_intermediate: bool = True, *, from_logits: bool | None = None
) -> dict[str, np.ndarray]:
    """Receiver operating characteristic curve, computed as ``sklearn.metrics.roc_curve``.

    Parameters
    ----------
    preds : array-like, shape (N,) or (N, 2)
        Scores, or two-way logits / probabilities (see the module's conventions).
    targets : array-like, shape (N,)
        0 or 1.
    drop_intermediate : bool
        Drop thresholds at which the curve only continues a straight segment (scikit-learn's
        default); the AUC does not change.
    from_logits : bool or None
        How ``preds`` become scores (module conventions; default: softmax of ``(N, 2)``
        logits, probabilities and ``(N,)`` scores as given).

    Returns
    -------
    dict
        ``"fpr"``, ``"tpr"`` (float64, increasing, starting at 0) and ``"thresholds"``
        (float64, decreasing; the first is ``inf``, so that nothing is called positive),
        all of the same length.

    Raises
    ------
    ValueError
        If the shapes disagree, scores are not finite, targets are not 0/1, or one class is
        missing.

    Examples
    --------
    >>> curve = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> curve["tpr"].tolist(), curve["fpr"].tolist()
    ([0.0, 0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5, 1.0])
    """
    s, y = _check_inputs(preds, targets, from_logits)
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


def roc_auc(preds: npt.ArrayLike, targets: npt.ArrayLike, *, from_logits: bool | None = None) -> float:
    """Area under the ROC curve (trapezoidal; a tie between a positive and a negative counts
    one half, exactly as ``sklearn.metrics.roc_auc_score``).

    Parameters
    ----------
    preds : array-like, shape (N,) or (N, 2)
        Scores, or two-way logits / probabilities: ``(N, 2)`` logits are scored by
        ``softmax(preds)[:, 1]`` (module conventions).
    targets : array-like, shape (N,)
        0 or 1; both classes must be present.
    from_logits : bool or None
        See the module's conventions.

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
    >>> import torch
    >>> logits = torch.tensor([[2.0, 0.1], [0.3, 0.2], [-1.0, 1.5]], requires_grad=True)
    >>> roc_auc(logits, torch.tensor([0, 1, 1]))  # scored by softmax(logits)[:, 1]
    1.0
    """
    curve = roc_curve(preds, targets, drop_intermediate=False, from_logits=from_logits)
    return float(trapezoid(curve["tpr"], curve["fpr"]))


def accuracy(
    preds: npt.ArrayLike, targets: npt.ArrayLike, threshold: float | None = None, *, from_logits: bool | None = None
) -> float:
    """Fraction of samples predicted right.

    Parameters
    ----------
    preds : array-like, shape (N,) or (N, C)
        ``(N,)`` positive-class scores, called positive when ``score >= threshold``
        (default 0.5); or ``(N, C)`` logits or probabilities, predicted by their arg-max
        (unless a ``threshold`` is given for ``C = 2``: then ``softmax(preds)[:, 1] >=
        threshold``, as the thesis's "T-Acc").
    targets : array-like, shape (N,)
        ``(N,)`` scores: 0 or 1. ``(N, C)`` outputs: class indices in ``[0, C)``.
    threshold : float, optional
        Decision threshold on the positive-class score; the thesis's "Acc" uses 1/2 and
        "T-Acc" the validation threshold.
    from_logits : bool or None
        See the module's conventions (the arg-max does not depend on it).

    Examples
    --------
    >>> accuracy([0.2, 0.7, 0.6], [0, 1, 0])
    0.6666666666666666
    >>> accuracy([[2.0, 0.5, 0.1], [0.1, 0.2, 3.0]], [0, 1])  # arg-max of (N, C)
    0.5
    """
    p = as_outputs(preds)
    if p.ndim == 2 and threshold is None:
        y = check_labels(targets, p.shape[0], classes=max(p.shape[1], 2))
        if p.shape[0] == 0:
            raise ValueError("accuracy of zero samples is undefined")
        return float(np.mean(p.argmax(axis=1) == y))
    s, y = _check_inputs(p, targets, from_logits)
    if s.size == 0:
        raise ValueError("accuracy of zero samples is undefined")
    return float(np.mean((s >= (0.5 if threshold is None else threshold)) == y))


def sensitivity_specificity(
    preds: npt.ArrayLike, targets: npt.ArrayLike, threshold: float = 0.5, *, from_logits: bool | None = None
) -> dict[str, float]:
    """Sensitivity and specificity when ``score >= threshold`` is called positive.

    Parameters
    ----------
    preds : array-like, shape (N,) or (N, 2)
        Scores, or two-way logits / probabilities (see the module's conventions).
    targets : array-like, shape (N,)
        0 or 1; both classes must be present.
    threshold : float
        Decision threshold on the positive-class score.
    from_logits : bool or None
        See the module's conventions.

    Returns
    -------
    dict of str to float
        ``"sensitivity"`` (true-positive rate) and ``"specificity"`` (true-negative rate).

    Examples
    --------
    >>> sensitivity_specificity([0.2, 0.7, 0.6, 0.9], [0, 1, 0, 1], threshold=0.65)
    {'sensitivity': 1.0, 'specificity': 1.0}
    """
    s, y = _check_inputs(preds, targets, from_logits)
    _check_both_classes(y, "sensitivity and specificity")
    predicted = s >= threshold
    return {"sensitivity": float(np.mean(predicted[y])),
            "specificity": float(np.mean(~predicted[~y]))}


def threshold_at_sensitivity(
    preds: npt.ArrayLike, targets: npt.ArrayLike, sensitivity: float = 0.9, *, from_logits: bool | None = None
) -> float:
    """The thesis's cut-off: the ``1 - n`` quantile of the positive scores (section 5.2).

    Quantile rule: with ``P`` positives, the threshold is the ``k``-th largest positive score,
    ``k = ceil(n * P)``. Calling ``score >= threshold`` positive then reaches a sensitivity of
    at least ``n`` on these same scores (``k / P >= n``; more when scores tie at the
    threshold), which is why table 6.3 says "validation sensitivity is 90% by definition". It
    is the highest threshold that does, so the specificity is the largest possible at that
    sensitivity. (Interpolating quantiles such as numpy's default would not guarantee it.)

    Parameters
    ----------
    preds : array-like, shape (N,) or (N, 2)
        Scores, or two-way logits / probabilities (see the module's conventions); the
        threshold is on the positive-class score (the probability for ``(N, 2)`` logits).
    targets : array-like, shape (N,)
        0 or 1; at least one positive.
    sensitivity : float
        Target sensitivity ``n`` in (0, 1].
    from_logits : bool or None
        See the module's conventions.

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
    s, y = _check_inputs(preds, targets, from_logits)
    positives = np.sort(s[y])[::-1]
    if positives.size == 0:
        raise ValueError("threshold_at_sensitivity needs at least one positive target; got none")
    # the tolerance keeps 0.9 * 10 == 9 from becoming 10 through rounding error
    k = max(1, math.ceil(sensitivity * positives.size - 1e-9))
    return float(positives[k - 1])


def specificity_at_sensitivity(
    val_preds: npt.ArrayLike,
    val_targets: npt.ArrayLike,
    test_preds: npt.ArrayLike,
    test_targets: npt.ArrayLike,
    sensitivity: float = 0.9,
    *,
    from_logits: bool | None = None,
) -> dict[str, float]:
    """One row of the thesis's table 6.3: threshold fixed on validation, applied to test.

    Parameters
    ----------
    val_preds, val_targets : array-like, shape (N_val,) or (N_val, 2) / (N_val,)
        Validation outputs and 0/1 targets, which fix the threshold.
    test_preds, test_targets : array-like, shape (N_test,) or (N_test, 2) / (N_test,)
        Test outputs and targets, evaluated at that threshold.
    sensitivity : float
        Target sensitivity on validation (the thesis uses 0.9).
    from_logits : bool or None
        See the module's conventions; applies to both sets.

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
    val_s, val_y = _check_inputs(val_preds, val_targets, from_logits)
    test_s, test_y = _check_inputs(test_preds, test_targets, from_logits)
    threshold = threshold_at_sensitivity(val_s, val_y, sensitivity)
    val = sensitivity_specificity(val_s, val_y, threshold)
    test = sensitivity_specificity(test_s, test_y, threshold)
    return {
        "threshold": threshold,
        "val_auc": roc_auc(val_s, val_y),
        "val_specificity": val["specificity"],
        "test_auc": roc_auc(test_s, test_y),
        "test_sensitivity": test["sensitivity"],
        "test_specificity": test["specificity"],
        "test_accuracy": accuracy(test_s, test_y, 0.5),
        "test_threshold_accuracy": accuracy(test_s, test_y, threshold),
    }


def aggregate_views(
    preds: npt.ArrayLike, groups: npt.ArrayLike, how: str = "mean", targets: npt.ArrayLike | None = None, *,
    from_logits: bool | None = None,
) -> dict[str, np.ndarray]:
    """Per-breast scores from per-view scores (thesis section 6.6, table 6.4).

    Parameters
    ----------
    preds : array-like, shape (N,) or (N, 2)
        Per-image scores, or two-way logits / probabilities (module conventions).
    groups : array-like, shape (N,)
        A breast identifier per image (e.g. ``"patient/L"``); any sortable values.
    how : {"mean", "max", "min"}
        How the views of one breast combine (their positive-class scores).
    targets : array-like, shape (N,), optional
        Per-image 0/1 labels; they must agree within a breast, and come back per breast.
    from_logits : bool or None
        See the module's conventions.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"groups"`` (the sorted distinct identifiers), ``"scores"`` (float64, one per group)
        and, when ``targets`` were given, ``"labels"`` (int64). Run
        [`specificity_at_sensitivity`][histomammo.metrics.classification.specificity_at_sensitivity]
        on them for a table 6.4 row.

    Examples
    --------
    >>> out = aggregate_views([0.2, 0.4, 0.9], ["a", "a", "b"], how="max")
    >>> out["groups"].tolist(), out["scores"].tolist()
    (['a', 'b'], [0.4, 0.9])
    """
    if how not in _AGGREGATES:
        raise ValueError(f"how must be one of {sorted(_AGGREGATES)}; got {how!r}")
    s = positive_scores(preds, from_logits)
    g = to_numpy(groups, "groups")
    if g.shape != s.shape:
        raise ValueError(f"groups must have shape {s.shape} to match preds; got {g.shape}")
    unique, inverse = np.unique(g, return_inverse=True)
    order = np.argsort(inverse, kind="mergesort")
    starts = np.r_[0, np.flatnonzero(np.diff(inverse[order])) + 1]
    if how == "mean":
        aggregated = np.add.reduceat(s[order], starts) / np.bincount(inverse)
    else:
        ufunc = np.maximum if how == "max" else np.minimum
        aggregated = ufunc.reduceat(s[order], starts)
    out = {"groups": unique, "scores": aggregated}
    if targets is not None:
        y = check_labels(targets, s.shape[0])
        high, low = np.maximum.reduceat(y[order], starts), np.minimum.reduceat(y[order], starts)
        if np.any(high != low):
            bad = unique[high != low][:5].tolist()
            raise ValueError(f"the labels differ between the views of groups {bad}; expected one "
                             "per group (targets)")
        out["labels"] = high
    return out

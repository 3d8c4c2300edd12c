"""Detection metrics: true-positive and false-discovery rates against the score threshold,
average precision at IoU 0.5, and the counts at one threshold.

Inputs are what torchvision's detectors produce and consume: ``predictions`` a list (one per
image) of dicts with ``"boxes"`` (N, 4) XYXY and ``"scores"`` (N,), optionally ``"labels"``;
``targets`` a list of dicts with ``"boxes"`` (M, 4) XYXY, optionally ``"labels"``. Tensors or
numpy arrays both work.

Matching rule
-------------
The seed paper does not state how a detection is matched to a ground-truth cell. Here each
image's detections are taken in decreasing score order (ties keep their input order), and
each takes the *best still-unmatched* ground truth that qualifies: the highest IoU with IoU
>= ``iou`` (``match="iou"``, the COCO rule), or the nearest centre within ``max_distance``
pixels (``match="center"``). When several ground truths are exactly equally good (integer
boxes often tie), the detection takes the *last* of them in the target's order, as
pycocotools' ``COCOeval.evaluateImg`` does (it keeps a later ground truth whose IoU is not
below the best so far). A matched detection is a true positive, any other a false positive;
unmatched ground truths are misses.

Because a detection's match depends only on the detections scored above it, the matches of
the detections kept at any threshold are a prefix of one matching of all detections: one
sort and one matching pass give the rates at every threshold (the benchmark checks this
against a per-threshold matching loop).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, overload

import numpy as np

from histomammo.metrics._convert import to_numpy

__all__ = [
    "average_precision",
    "detection_counts",
    "rates_vs_threshold",
]

def _array(value: Any, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    arr = to_numpy(value, what, np.float64)
    if arr.size == 0:
        arr = arr.reshape((0,) + shape_tail)
    if arr.shape[1:] != shape_tail or arr.ndim != 1 + len(shape_tail):
        raise ValueError(f"{what} must have shape (N, {', '.join(map(str, shape_tail))})"
                         f"[:len], but got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    return arr


@overload
def _select(item: Mapping[str, Any], where: str, label: int | None, scores: Literal[True]
            ) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def _select(item: Mapping[str, Any], where: str, label: int | None, scores: Literal[False]
            ) -> tuple[np.ndarray, None]: ...


def _select(item: Mapping[str, Any], where: str, label: int | None, scores: bool
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(boxes (N, 4), scores (N,) or None)`` of one prediction/target, of ``label`` only."""
    if not isinstance(item, Mapping) or "boxes" not in item or (scores and "scores" not in item):
        raise ValueError(f"{where} must be a dict with 'boxes'" + (" and 'scores'" if scores else ""))
    boxes = _array(item["boxes"], (4,), f"{where}['boxes']")
    score = _array(item["scores"], (), f"{where}['scores']") if scores else None
    if score is not None and len(score) != len(boxes):
        raise ValueError(f"{where}: {len(boxes)} boxes but {len(score)} scores")
    if label is not None:
        if "labels" not in item:
            raise ValueError(f"{where} has no 'labels', but label={label} was asked for")
        keep = _array(item["labels"], (), f"{where}['labels']") == label
        boxes, score = boxes[keep], (score[keep] if score is not None else None)
    return boxes, score


def _pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    wh = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:])
                 - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _quality(det: np.ndarray, gt: np.ndarray, match: str, iou: float,
             max_distance: float | None) -> np.ndarray:
    """(D, G) match quality, higher is better, ``-inf`` where the pair does not qualify."""
    if match == "iou":
        q = _pairwise_iou(det, gt)
        return np.where(q >= iou, q, -np.inf)
    centre_d = (det[:, :2] + det[:, 2:]) / 2
    centre_g = (gt[:, :2] + gt[:, 2:]) / 2
    dist = np.linalg.norm(centre_d[:, None, :] - centre_g[None, :, :], axis=-1)
    if max_distance is None:  # half the shorter side of each ground-truth box
        limit = np.minimum(gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1])[None, :] / 2
    else:
        limit = max_distance
    return np.where(dist <= limit, -dist, -np.inf)


def _greedy_match(quality: np.ndarray) -> np.ndarray:
    """Greedy one-to-one matching of detections (rows, in score order) to ground truths;
    among equally good free ground truths the last one wins (COCO's rule).

    Parameters
    ----------
    quality : ndarray (D, G)
        Higher is better; ``-inf`` where a pair does not qualify.

    Returns
    -------
    ndarray of bool (D,)
        Whether each detection took a ground truth.

    Examples
    --------
    >>> import numpy as np
    >>> _greedy_match(np.array([[0.9, 0.6], [0.8, -np.inf], [0.7, 0.5]])).tolist()
    [True, False, True]
    >>> _greedy_match(np.array([[0.5, 0.5], [0.5, -np.inf]])).tolist()  # tie: last taken
    [True, True]
    """
    matched = np.zeros(quality.shape[0], dtype=bool)
    if quality.shape[1] == 0:
        return matched
    q = quality.copy()
    last = q.shape[1] - 1
    for d in np.flatnonzero(np.isfinite(q).any(axis=1)):
        g = last - int(np.argmax(q[d, ::-1]))  # the last of the best, as COCO
        if np.isfinite(q[d, g]):
            matched[d] = True
            q[:, g] = -np.inf  # taken: no later detection may have it
    return matched


def _matched_detections(
    predictions: Sequence[Mapping[str, Any]], targets: Sequence[Mapping[str, Any]],
    match: Literal["center", "iou"], iou: float, max_distance: float | None, label: int | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """``(scores, is_true_positive, number of ground truths)`` over all images."""
    if match not in ("center", "iou"):
        raise ValueError(f"match must be 'center' or 'iou', but got {match!r}")
    if not 0 < iou <= 1:
        raise ValueError(f"iou must be in (0, 1], but got {iou!r}")
    if max_distance is not None and not max_distance >= 0:
        raise ValueError(f"max_distance must be >= 0 or None, but got {max_distance!r}")
    if len(predictions) != len(targets):
        raise ValueError(f"got {len(predictions)} predictions for {len(targets)} targets; "
                         "expected one of each per image")
    all_scores, all_tp, n_gt = [], [], 0
    for i, (pred, target) in enumerate(zip(predictions, targets, strict=True)):
        boxes, scores = _select(pred, f"predictions[{i}]", label, scores=True)
        gt, _ = _select(target, f"targets[{i}]", label, scores=False)
        order = np.argsort(-scores, kind="stable")
        boxes, scores = boxes[order], scores[order]
        all_tp.append(_greedy_match(_quality(boxes, gt, match, iou, max_distance)))
        all_scores.append(scores)
        n_gt += len(gt)
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    tp = np.concatenate(all_tp) if all_tp else np.zeros(0, dtype=bool)
    return scores, tp, n_gt


def rates_vs_threshold(
    predictions: Sequence[Mapping[str, Any]],
    targets: Sequence[Mapping[str, Any]],
    thresholds: Sequence[float] | np.ndarray | None = None,
    match: Literal["center", "iou"] = "center",
    iou: float = 0.5,
    max_distance: float | None = None,
    label: int | None = None,
) -> dict[str, np.ndarray]:
    """True-positive rate and false-discovery rate at every score threshold (figure 4).

    A detection is kept at threshold ``t`` when its score is ``>= t``. Matching follows the
    module's rule (greedy, one-to-one, in score order), computed once for all thresholds.

    Parameters
    ----------
    predictions : list of dict
        Per image: ``"boxes"`` (N, 4) XYXY, ``"scores"`` (N,), optional ``"labels"``.
    targets : list of dict
        Per image: ``"boxes"`` (M, 4) XYXY, optional ``"labels"``.
    thresholds : sequence of float, optional
        Ascending or not; default every distinct detection score (the exact curve).
    match : {"center", "iou"}
        Centre distance ``<= max_distance``, or IoU ``>= iou``.
    iou : float
        IoU needed with ``match="iou"``.
    max_distance : float, optional
        Pixels, with ``match="center"``; default half the shorter side of each
        ground-truth box (the detection's centre lies inside the cell's box-inscribed circle).
    label : int, optional
        Evaluate only predictions and targets of this label (both need ``"labels"``).

    Returns
    -------
    dict of ndarray
        ``thresholds`` (T,), ``tpr`` = TP / ground truths (0 when there are none),
        ``fdr`` = FP / (TP + FP) (0 when nothing is kept), and the counts ``tp``, ``fp``,
        ``fn`` (T,) int64 and ``n_ground_truth`` (0-d int64).

    Examples
    --------
    >>> import numpy as np
    >>> preds = [{"boxes": np.array([[0, 0, 10, 10], [50, 50, 60, 60]]),
    ...           "scores": np.array([0.9, 0.3])}]
    >>> gts = [{"boxes": np.array([[1, 1, 11, 11], [30, 30, 40, 40]])}]
    >>> r = rates_vs_threshold(preds, gts, thresholds=[0.1, 0.5])
    >>> r["tpr"].tolist(), r["fdr"].tolist()
    ([0.5, 0.5], [0.5, 0.0])
    """
    scores, tp, n_gt = _matched_detections(predictions, targets, match, iou, max_distance, label)
    order = np.argsort(-scores, kind="stable")
    sorted_scores, cum_tp = scores[order], np.cumsum(tp[order])
    if thresholds is None:
        thresholds = np.unique(scores)
    thresholds = to_numpy(thresholds, "thresholds", np.float64).reshape(-1)
    if not np.isfinite(thresholds).all():
        raise ValueError("thresholds must be finite")
    # number of detections with score >= t: sorted_scores is descending
    kept = np.searchsorted(-sorted_scores, -thresholds, side="right")
    tp_t = np.where(kept > 0, cum_tp[np.maximum(kept - 1, 0)] if len(cum_tp) else 0, 0)
    tp_t = tp_t.astype(np.int64)
    fp_t = kept.astype(np.int64) - tp_t
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.where(n_gt > 0, tp_t / max(n_gt, 1), 0.0)
        fdr = np.where(kept > 0, fp_t / np.maximum(kept, 1), 0.0)
    return {"thresholds": thresholds, "tpr": tpr.astype(np.float64), "fdr": fdr,
            "tp": tp_t, "fp": fp_t, "fn": (n_gt - tp_t).astype(np.int64),
            "n_ground_truth": np.asarray(n_gt, dtype=np.int64)}


def detection_counts(
    predictions: Sequence[Mapping[str, Any]],
    targets: Sequence[Mapping[str, Any]],
    threshold: float = 0.05,
    match: Literal["center", "iou"] = "center",
    iou: float = 0.5,
    max_distance: float | None = None,
    label: int | None = None,
) -> dict[str, float]:
    """Counts and rates at one score threshold (default 0.05, the paper's figure).

    Parameters are those of
    [`rates_vs_threshold`][histomammo.metrics.detection.rates_vs_threshold].

    Returns
    -------
    dict
        ``tp``, ``fp``, ``fn``, ``n_ground_truth`` (int) and ``recall`` (= TPR),
        ``precision`` and ``fdr`` (float; precision 1 and FDR 0 when nothing is kept).

    Examples
    --------
    >>> import numpy as np
    >>> preds = [{"boxes": np.array([[0, 0, 10, 10]]), "scores": np.array([0.9])}]
    >>> detection_counts(preds, [{"boxes": np.array([[0, 0, 10, 10]])}])["recall"]
    1.0
    """
    r = rates_vs_threshold(predictions, targets, [threshold], match, iou, max_distance, label)
    tp, fp, fn = int(r["tp"][0]), int(r["fp"][0]), int(r["fn"][0])
    return {"tp": tp, "fp": fp, "fn": fn, "n_ground_truth": int(r["n_ground_truth"]),
            "recall": float(r["tpr"][0]), "precision": tp / (tp + fp) if tp + fp else 1.0,
            "fdr": float(r["fdr"][0])}


def average_precision(
    predictions: Sequence[Mapping[str, Any]],
    targets: Sequence[Mapping[str, Any]],
    iou: float = 0.5,
    label: int | None = None,
) -> float:
    """Average precision at IoU ``iou`` (default 0.5), COCO's 101-point definition.

    Detections of all images are ranked by score (stable in image order, as COCO's
    mergesort); each is matched by the IoU rule above; precision is made monotone from
    the right and sampled at recalls 0, 0.01, ..., 1 (0 beyond the highest recall reached).
    This is COCO's ``AP50`` for one class with no crowd regions, area ranges or
    per-image detection cap, ties between ground truths included (the module's matching
    rule: the last of equally good ground truths, as pycocotools).

    Parameters ``predictions``, ``targets``, ``iou`` (needed to match, ``>= iou``) and
    ``label`` are those of
    [`rates_vs_threshold`][histomammo.metrics.detection.rates_vs_threshold].

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        No ground-truth box at all (AP is undefined), or malformed inputs.

    Examples
    --------
    >>> import numpy as np
    >>> preds = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]]),
    ...           "scores": np.array([0.9, 0.8])}]
    >>> round(average_precision(preds, [{"boxes": np.array([[0, 0, 10, 10]])}]), 4)
    1.0
    """
    scores, tp, n_gt = _matched_detections(predictions, targets, "iou", iou, None, label)
    if n_gt == 0:
        raise ValueError("average_precision: the targets hold no ground-truth box; "
                         "AP is undefined")
    order = np.argsort(-scores, kind="mergesort")
    cum_tp = np.cumsum(tp[order])
    recall = cum_tp / n_gt
    precision = cum_tp / np.arange(1, len(cum_tp) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    levels = np.linspace(0.0, 1.0, 101)
    at = np.searchsorted(recall, levels, side="left")
    sampled = np.where(at < len(envelope), envelope[np.minimum(at, len(envelope) - 1)]
                       if len(envelope) else 0.0, 0.0)
    return float(np.mean(sampled))

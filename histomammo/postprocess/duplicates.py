"""One detection per cell: a point non-maximum suppression of detector outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from histomammo.postprocess._convert import to_numpy

__all__ = ["suppress_duplicates"]


def _boxes_and_scores(item: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(item, Mapping) or "boxes" not in item or "scores" not in item:
        raise ValueError(f"{where} must be a dict with 'boxes' and 'scores'")
    boxes = to_numpy(item["boxes"], f"{where}['boxes']").astype(np.float64)
    scores = to_numpy(item["scores"], f"{where}['scores']").astype(np.float64)
    boxes = boxes.reshape(0, 4) if boxes.size == 0 else boxes
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{where}['boxes'] must have shape (N, 4), but got {boxes.shape}")
    if scores.shape != (len(boxes),):
        raise ValueError(f"{where}: {len(boxes)} boxes but {scores.size} scores")
    if not (np.isfinite(boxes).all() and np.isfinite(scores).all()):
        raise ValueError(f"{where} holds NaN or infinite boxes or scores")
    return boxes, scores


def _kept(boxes: np.ndarray, scores: np.ndarray, min_distance: float) -> np.ndarray:
    """Indices kept, in decreasing score order (ties in input order)."""
    order = np.argsort(-scores, kind="stable")
    centres = (boxes[order, :2] + boxes[order, 2:]) / 2
    keep: list[int] = []
    for j in range(len(order)):
        if not keep or np.hypot(*(centres[keep] - centres[j]).T).min() > min_distance:
            keep.append(j)
    return order[keep]


def _take(value: Any, index: np.ndarray, n: int) -> Any:
    """``value[index]`` for a tensor (on its device) or array with ``n`` rows; else unchanged."""
    if getattr(value, "shape", None) is None or len(value.shape) == 0 or value.shape[0] != n:
        return value
    if hasattr(value, "detach"):
        import torch  # only tensors reach here

        return value[torch.as_tensor(index, dtype=torch.long, device=value.device)]
    return np.asarray(value)[index]


def suppress_duplicates(predictions: Sequence[Mapping[str, Any]],
                        min_distance: float) -> list[dict[str, Any]]:
    """Keep, per image, the detections whose centre is ``min_distance`` from every better one.

    A point non-maximum suppression: detections are taken in decreasing score order and one
    is dropped when its box centre lies within ``min_distance`` pixels of a detection already
    kept (of any label). Cell annotations are points, and one nucleus should give one
    detection. The BreCaHAD seed paper's ``box_nms_thresh=0.8`` keeps boxes a few pixels apart
    (two 32 px boxes 3 px apart have IoU 0.83) and boxes nested in one another (a 16 px box
    inside a 32 px one has IoU 0.25), and its foreground IoU of 0.9 leaves such boxes
    untrained, so a trained detector reports each nucleus several times; the paper notes
    "many false positive bounding boxes". This step is the library's addition, not the
    paper's; apply it to the predictions before
    [`rates_vs_threshold`][histomammo.metrics.detection.rates_vs_threshold]. Choose
    ``min_distance`` below the distance between two distinct cells' centres.

    Parameters
    ----------
    predictions : list of dict
        ``{"boxes" (N, 4) XYXY, "scores" (N,), ...}`` per image, numpy or tensors (any
        device but ``meta``: the scores decide what is kept); every other entry with a first
        dimension of N (e.g. ``"labels"``) is filtered alike.
    min_distance : float
        In the boxes' pixels, >= 0.

    Returns
    -------
    list of dict
        The kept detections, in decreasing score order, same types as given; tensors stay
        on their device.

    Examples
    --------
    >>> import torch
    >>> p = {"boxes": torch.tensor([[0., 0, 32, 32], [3, 2, 35, 34], [60, 0, 92, 32]]),
    ...      "scores": torch.tensor([0.9, 0.95, 0.5]), "labels": torch.tensor([1, 1, 1])}
    >>> kept = suppress_duplicates([p], min_distance=16)[0]
    >>> kept["scores"].tolist(), kept["boxes"][:, 0].tolist()
    ([0.949999988079071, 0.5], [3.0, 60.0])
    """
    if not min_distance >= 0:
        raise ValueError(f"min_distance must be >= 0 pixels, but got {min_distance!r}")
    kept = []
    for i, prediction in enumerate(predictions):
        boxes, scores = _boxes_and_scores(prediction, f"predictions[{i}]")
        index = _kept(boxes, scores, min_distance)
        kept.append({key: _take(value, index, len(boxes)) for key, value in prediction.items()})
    return kept

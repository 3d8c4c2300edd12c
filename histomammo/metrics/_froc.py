"""Camelyon16's lesion-level FROC, its evaluation mask, slide-level AUC and heatmap NMS.

Definitions follow the challenge's evaluation script (``Evaluation_FROC.py`` by Babak
Ehteshami Bejnordi, 2016, distributed with the CAMELYON16 data set, CC0) and the paper
describing the challenge:

- **Evaluation mask**: each annotated tumour region grown by 75 um (pixels closer than
  37.5 um to it: the script's ``distance < 75 / (2 * resolution)`` on the distance transform,
  "the equivalent size of 5 tumour cells"), holes filled, then labelled with 8-connectivity;
  one label per lesion.
- **Isolated tumour cells (ITC)**: labelled regions whose major axis (skimage's
  ``major_axis_length``) is under 275 um. A detection inside an ITC counts neither as a true
  nor as a false positive, and ITCs are not lesions to find.
- **Hits**: a detection point inside a (non-ITC) lesion is a true positive for it (a lesion
  keeps the highest probability of its hits; several hits are one TP); outside every lesion,
  or on a slide without tumour, a false positive.
- **FROC**: for every threshold ``t`` among the distinct probabilities of all FPs and all
  lesions (an unfound lesion has probability 0), except the smallest, the FPs with
  probability ``>= t`` per slide and the share of lesions found with probability ``>= t``;
  then the point (0, 0). The **score** is the mean sensitivity, linearly interpolated along
  the curve, at 1/4, 1/2, 1, 2, 4 and 8 false positives per slide.

Coordinates are ``(y, x)`` level-0 pixels (the script reads its CSVs' ``X, Y`` the same way
up to its own transposition of the mask, which is not repeated here).

References
----------
Ehteshami Bejnordi et al., "Diagnostic Assessment of Deep Learning Algorithms for Detection
of Lymph Node Metastases in Women With Breast Cancer", JAMA 318(22), 2017 (CAMELYON16).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage
from skimage import measure

from histomammo.metrics.classification import roc_auc

__all__ = [
    "FROC_FP_RATES",
    "evaluation_mask",
    "froc",
    "heatmap_to_detections",
    "slide_auc",
]

#: False positives per slide at which CAMELYON16 averages the sensitivity.
FROC_FP_RATES: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def evaluation_mask(tumour: np.ndarray, mpp: float, downsample: float = 1.0
                    ) -> tuple[np.ndarray, set[int]]:
    """Camelyon16's labelled lesions of one slide, and which labels are ITCs.

    Parameters
    ----------
    tumour : numpy.ndarray
        ``(h, w)`` bool tumour annotation.
    mpp : float
        Microns per level-0 pixel (CAMELYON16's script uses 0.243).
    downsample : float
        Level-0 pixels per mask pixel (the script's ``2 ** level``; it evaluates at level 5).

    Returns
    -------
    labels : numpy.ndarray
        ``(h, w)`` int32, 0 outside lesions, ``1..L`` per grown lesion.
    itc : set of int
        Labels whose major axis is under 275 um.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((200, 200), bool); mask[20:80, 20:80] = True; mask[150:152, 150:152] = True
    >>> labels, itc = evaluation_mask(mask, mpp=8.0)  # 8 um per pixel
    >>> int(labels.max()), sorted(itc)
    (2, [2])
    """
    tumour = np.asarray(tumour, dtype=bool)
    pixel = mpp * downsample  # microns per mask pixel
    grown = ndimage.distance_transform_edt(~tumour) < 75.0 / (2 * pixel)
    labels = measure.label(ndimage.binary_fill_holes(grown), connectivity=2).astype(np.int32)
    itc = {region.label for region in measure.regionprops(labels)
           if region.axis_major_length < 275.0 / pixel}
    return labels, itc


def _points(detections: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 2)`` (y, x) points and ``(N,)`` probabilities of one slide's detections."""
    if isinstance(detections, Mapping):
        scores = np.asarray(detections["scores"], dtype=np.float64).reshape(-1)
        if "points" in detections:
            points = np.asarray(detections["points"], dtype=np.float64).reshape(-1, 2)
        else:  # boxes XYXY: their centres
            boxes = np.asarray(detections["boxes"], dtype=np.float64).reshape(-1, 4)
            points = np.stack([(boxes[:, 1] + boxes[:, 3]) / 2, (boxes[:, 0] + boxes[:, 2]) / 2], 1)
    else:
        rows = np.asarray(detections, dtype=np.float64).reshape(-1, 3)
        scores, points = rows[:, 0], rows[:, 1:]
    if len(points) != len(scores):
        raise ValueError(f"{len(points)} detection points but {len(scores)} scores")
    return points, scores


def _slide_hits(points: np.ndarray, scores: np.ndarray, labels: np.ndarray | None,
                itc: set[int], downsample: float) -> tuple[np.ndarray, np.ndarray]:
    """False-positive probabilities and each lesion's best probability (0 if unfound)."""
    if labels is None or labels.max() == 0:
        return scores, np.zeros(0)
    rows = np.clip((points[:, 0] // downsample).astype(np.int64), 0, labels.shape[0] - 1)
    cols = np.clip((points[:, 1] // downsample).astype(np.int64), 0, labels.shape[1] - 1)
    hit = labels[rows, cols]
    lesions = np.array([v for v in range(1, int(labels.max()) + 1) if v not in itc], np.int64)
    best = np.zeros(int(labels.max()) + 1)
    np.maximum.at(best, hit, scores)
    return scores[hit == 0], best[lesions]


def froc(detections: Sequence[Any], lesion_masks: Sequence[np.ndarray | None], *,
         mpp: float = 0.243, mask_downsample: float = 32.0,
         fp_rates: Sequence[float] = FROC_FP_RATES) -> dict[str, Any]:
    """CAMELYON16's FROC score: mean sensitivity at 1/4 to 8 false positives per slide.

    Parameters
    ----------
    detections : sequence
        Per slide: a mapping with ``"scores"`` ``(N,)`` and ``"points"`` ``(N, 2)`` (y, x)
        level-0 pixels (or ``"boxes"`` ``(N, 4)`` XYXY, scored at their centres), or an
        ``(N, 3)`` array of ``(probability, y, x)``.
    lesion_masks : sequence
        Per slide, its bool tumour annotation at ``mask_downsample`` (None or all False for a
        slide without tumour).
    mpp : float
        Microns per level-0 pixel (0.243 in CAMELYON16's script).
    mask_downsample : float
        Level-0 pixels per mask pixel (the script evaluates at level 5: 32).
    fp_rates : sequence of float
        Where the sensitivity is read.

    Returns
    -------
    dict
        ``"score"`` (float), ``"sensitivities"`` (list of floats at ``fp_rates``),
        ``"fps_per_slide"`` and ``"sensitivity"`` (the curve, numpy arrays, FPs decreasing),
        ``"lesions"`` (int, the ITCs excluded).

    Raises
    ------
    ValueError
        As many detection lists as masks are needed, and at least one lesion.

    Examples
    --------
    >>> import numpy as np
    >>> tumour = np.zeros((64, 64), bool); tumour[10:40, 10:40] = True
    >>> found = [{"points": [[800, 800], [1900, 1900]], "scores": [0.9, 0.4]}, {"points":
    ...          [[100, 100]], "scores": [0.3]}]
    >>> round(froc(found, [tumour, None])["score"], 3)
    1.0
    """
    if len(detections) != len(lesion_masks):
        raise ValueError(f"{len(detections)} slides of detections but {len(lesion_masks)} masks")
    false_pos, best = [], []
    for found, mask in zip(detections, lesion_masks, strict=True):
        points, scores = _points(found)
        labels, itc = (None, set()) if mask is None else evaluation_mask(mask, mpp,
                                                                         mask_downsample)
        fp, tp = _slide_hits(points, scores, labels, itc, mask_downsample)
        false_pos.append(fp)
        best.append(tp)
    fps, tps = np.concatenate(false_pos), np.concatenate(best)
    if len(tps) == 0:
        raise ValueError("the masks hold no lesion (other than isolated tumour cells); the "
                         "FROC needs at least one")
    thresholds = np.unique(np.concatenate([fps, tps]))[1:]
    fp_curve = np.append((fps[None, :] >= thresholds[:, None]).sum(1), 0) / len(detections)
    sens_curve = np.append((tps[None, :] >= thresholds[:, None]).sum(1), 0) / len(tps)
    sensitivities = np.interp(fp_rates, fp_curve[::-1], sens_curve[::-1])
    return {"score": float(np.mean(sensitivities)),
            "sensitivities": [float(s) for s in sensitivities],
            "fps_per_slide": fp_curve, "sensitivity": sens_curve, "lesions": int(len(tps))}


def slide_auc(preds: Any, targets: Any) -> float:
    """CAMELYON16's slide-level task: ROC AUC of one tumour probability per slide.

    Parameters
    ----------
    preds : array-like
        ``(S,)`` per-slide probabilities (e.g. the maximum of each slide's heatmap).
    targets : array-like
        ``(S,)`` 1 for a slide with metastases, 0 for a normal one.

    Examples
    --------
    >>> slide_auc([0.9, 0.2, 0.7, 0.1], [1, 0, 1, 0])
    1.0
    """
    return roc_auc(preds, targets)


def heatmap_to_detections(heatmap: Any, *, channel: int = 1, threshold: float = 0.5,
                          radius: float | None = None) -> dict[str, np.ndarray]:
    """Lesion detections from a probability heatmap by non-maximum suppression.

    Repeatedly takes the most probable remaining cell at or above ``threshold`` as a detection
    and suppresses every cell within ``radius`` of it (the CAMELYON16 entrants' NMS, e.g. Wang
    et al. 2016), done in one pass over the cells sorted by probability.

    Parameters
    ----------
    heatmap : Heatmap or numpy.ndarray
        A [`Heatmap`][histomammo.inference.Heatmap] (any object with ``probabilities``
        ``(rows, cols, C)``, ``stride``, ``patch_size``, ``downsample`` and ``origin``), or a
        2-D probability array whose cells are pixels.
    channel : int
        Class channel of a heatmap (1: tumour in a two-class softmax); unused for a 2-D array.
    threshold : float
        Lowest probability reported.
    radius : float, optional
        Suppression radius in level-0 pixels (array pixels for an array); two grid steps by
        default.

    Returns
    -------
    dict
        ``"points"`` ``(N, 2)`` float64 level-0 (y, x) of the cells' patch centres,
        ``"scores"`` ``(N,)`` float64, by decreasing score; NaN cells are never detections.

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.zeros((5, 9)); probs[2, 2] = 0.9; probs[2, 3] = 0.8; probs[2, 7] = 0.7
    >>> found = heatmap_to_detections(probs, radius=1.5)
    >>> found["points"].tolist(), found["scores"].tolist()
    ([[2.5, 2.5], [2.5, 7.5]], [0.9, 0.7])
    """
    if isinstance(heatmap, np.ndarray):
        values, step, offset = np.asarray(heatmap, dtype=np.float64), 1.0, (0.5, 0.5)
    else:
        values = np.asarray(heatmap.probabilities[..., channel], dtype=np.float64)
        step = heatmap.stride * heatmap.downsample
        half = heatmap.patch_size * heatmap.downsample / 2
        offset = (heatmap.origin[0] + half, heatmap.origin[1] + half)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D probability map, got shape {values.shape}")
    radius_cells = 2.0 if radius is None else radius / step
    values = np.where(np.isnan(values), -np.inf, values)
    order = np.argsort(-values, axis=None, kind="stable")
    order = order[values.ravel()[order] >= threshold]
    suppressed = np.zeros(values.shape, dtype=bool)
    reach = int(np.floor(radius_cells))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    disk = dy**2 + dx**2 <= radius_cells**2
    picked = []
    for flat in order:
        r, c = divmod(int(flat), values.shape[1])
        if suppressed[r, c]:
            continue
        picked.append((r, c))
        ys, xs = r + dy[disk], c + dx[disk]
        inside = (ys >= 0) & (ys < values.shape[0]) & (xs >= 0) & (xs < values.shape[1])
        suppressed[ys[inside], xs[inside]] = True
    cells = np.array(picked, dtype=np.float64).reshape(-1, 2)
    points = np.stack([offset[0] + cells[:, 0] * step, offset[1] + cells[:, 1] * step], axis=1)
    scores = np.array([values[r, c] for r, c in picked], dtype=np.float64)
    return {"points": points, "scores": scores}

"""Detection metrics against brute-force references written from their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from histomammo.metrics.detection import (
    average_precision,
    detection_counts,
    rates_vs_threshold,
)


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _reference_match(boxes, scores, gts, match="iou", iou=0.5, max_distance=None):
    """Greedy matching of one image, plain loops: list of (score, is_tp)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable
    taken, out = set(), []
    for d in order:
        best, best_q = None, -np.inf
        for g, gt in enumerate(gts):
            if g in taken:
                continue
            if match == "iou":
                q = _iou(boxes[d], gt)
                ok = q >= iou
            else:
                dc = ((boxes[d][0] + boxes[d][2]) / 2, (boxes[d][1] + boxes[d][3]) / 2)
                gc = ((gt[0] + gt[2]) / 2, (gt[1] + gt[3]) / 2)
                dist = np.hypot(dc[0] - gc[0], dc[1] - gc[1])
                limit = (min(gt[2] - gt[0], gt[3] - gt[1]) / 2 if max_distance is None
                         else max_distance)
                q, ok = -dist, dist <= limit
            if ok and q > best_q:
                best, best_q = g, q
        if best is not None:
            taken.add(best)
        out.append((scores[d], best is not None))
    return out


def _reference_rates(preds, gts, thresholds, **kw):
    """Per threshold: keep detections >= t, match from scratch, count."""
    n_gt = sum(len(g["boxes"]) for g in gts)
    tpr, fdr = [], []
    for t in thresholds:
        tp = fp = 0
        for p, g in zip(preds, gts, strict=True):
            keep = [i for i, s in enumerate(p["scores"]) if s >= t]
            res = _reference_match([p["boxes"][i] for i in keep], [p["scores"][i] for i in keep],
                                   list(g["boxes"]), **kw)
            tp += sum(ok for _, ok in res)
            fp += sum(not ok for _, ok in res)
        tpr.append(tp / n_gt if n_gt else 0.0)
        fdr.append(fp / (tp + fp) if tp + fp else 0.0)
    return np.array(tpr), np.array(fdr)


def _random_case(rng, n_images=6, n_gt=8, n_det=15, size=100.0):
    preds, gts = [], []
    for _ in range(n_images):
        centres = rng.uniform(10, size - 10, (n_gt, 2))
        gt = np.concatenate([centres - 8, centres + 8], axis=1)
        near = gt[rng.integers(0, n_gt, n_det)] + rng.normal(0, 4, (n_det, 4))
        near[:, 2:] = np.maximum(near[:, 2:], near[:, :2] + 1)
        preds.append({"boxes": near, "scores": rng.uniform(0, 1, n_det)})
        gts.append({"boxes": gt})
    return preds, gts


@pytest.mark.parametrize("match", ["iou", "center"])
def test_rates_match_reference(rng, match):
    preds, gts = _random_case(rng)
    thresholds = np.linspace(0, 1, 21)
    ours = rates_vs_threshold(preds, gts, thresholds, match=match)
    tpr, fdr = _reference_rates(preds, gts, thresholds, match=match)
    np.testing.assert_allclose(ours["tpr"], tpr)
    np.testing.assert_allclose(ours["fdr"], fdr)
    assert (ours["tp"] + ours["fn"] == ours["n_ground_truth"]).all()


def test_rates_default_thresholds_are_every_score(rng):
    preds, gts = _random_case(rng, n_images=2)
    ours = rates_vs_threshold(preds, gts, match="center", max_distance=5.0)
    scores = np.concatenate([p["scores"] for p in preds])
    np.testing.assert_array_equal(ours["thresholds"], np.unique(scores))
    tpr, fdr = _reference_rates(preds, gts, ours["thresholds"], match="center", max_distance=5.0)
    np.testing.assert_allclose(ours["tpr"], tpr)
    np.testing.assert_allclose(ours["fdr"], fdr)


def test_matching_is_one_to_one_and_greedy_in_score_order():
    gt = {"boxes": np.array([[0, 0, 10, 10], [4, 0, 14, 10]], dtype=float)}
    # the top-scored detection sits best on gt 1 and takes it; the second then gets gt 0
    pred = {"boxes": np.array([[4, 0, 14, 10], [3, 0, 13, 10], [0, 0, 10, 10]], dtype=float),
            "scores": np.array([0.9, 0.8, 0.7])}
    r = rates_vs_threshold([pred], [gt], [0.85, 0.75, 0.0], match="iou", iou=0.5)
    assert r["tp"].tolist() == [1, 2, 2] and r["fp"].tolist() == [0, 0, 1]
    twice = {"boxes": np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=float),
             "scores": np.array([0.5, 0.5])}
    counts = detection_counts([twice], [{"boxes": gt["boxes"][:1]}], threshold=0.1)
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 1, 0)


def test_torch_inputs_labels_and_empty_images():
    pred = {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]),
            "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([1, 2])}
    target = {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]),
              "labels": torch.tensor([1, 1])}
    empty_pred = {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0)}
    empty_target = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    both = detection_counts([pred, empty_pred], [target, empty_target], label=1)
    assert (both["tp"], both["fp"], both["fn"], both["n_ground_truth"]) == (1, 0, 1, 2)
    nothing = rates_vs_threshold([empty_pred], [empty_target], [0.5])
    assert nothing["tpr"].tolist() == [0.0] and nothing["fdr"].tolist() == [0.0]


def test_bad_inputs_are_refused():
    good = {"boxes": np.zeros((1, 4)), "scores": np.ones(1)}
    with pytest.raises(ValueError, match="one of each per image"):
        rates_vs_threshold([good], [])
    with pytest.raises(ValueError, match=r"predictions\[0\]\['boxes'\] must have shape"):
        rates_vs_threshold([{"boxes": np.zeros((2, 3)), "scores": np.ones(2)}], [good])
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        rates_vs_threshold([{"boxes": np.zeros((2, 4)), "scores": np.ones(1)}], [good])
    with pytest.raises(ValueError, match="'scores'"):
        rates_vs_threshold([{"boxes": np.zeros((1, 4))}], [good])
    with pytest.raises(ValueError, match="NaN"):
        rates_vs_threshold([{"boxes": np.zeros((1, 4)), "scores": [np.nan]}], [good])
    with pytest.raises(ValueError, match="match must be"):
        rates_vs_threshold([good], [good], match="nearest")
    with pytest.raises(ValueError, match="no 'labels'"):
        rates_vs_threshold([good], [good], label=1)
    with pytest.raises(ValueError, match="AP is undefined"):
        average_precision([good], [{"boxes": np.zeros((0, 4))}])


def _reference_ap(preds, gts, iou=0.5):
    """Brute force: precision/recall at every rank by re-matching the top-k from scratch,
    then the mean over 101 recall levels of the best precision at recall >= r."""
    flat = sorted(((s, i) for i, p in enumerate(preds) for s in p["scores"]), key=lambda x: -x[0])
    n_gt = sum(len(g["boxes"]) for g in gts)
    points = []
    for k in range(1, len(flat) + 1):
        cut = flat[k - 1][0]
        tp = fp = 0
        for p, g in zip(preds, gts, strict=True):
            keep = [j for j, s in enumerate(p["scores"]) if s >= cut]
            res = _reference_match([p["boxes"][j] for j in keep], [p["scores"][j] for j in keep],
                                   list(g["boxes"]), "iou", iou)
            tp += sum(ok for _, ok in res)
            fp += sum(not ok for _, ok in res)
        points.append((tp / (tp + fp), tp / n_gt))
    levels = np.linspace(0, 1, 101)
    return float(np.mean([max([p for p, r in points if r >= level], default=0.0)
                          for level in levels]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_matches_brute_force(seed):
    preds, gts = _random_case(np.random.default_rng(seed), n_images=3, n_gt=5, n_det=8)
    assert average_precision(preds, gts) == pytest.approx(_reference_ap(preds, gts), abs=1e-12)


def test_average_precision_extremes():
    gt = [{"boxes": np.array([[0, 0, 10, 10], [20, 0, 30, 10]], dtype=float)}]
    perfect = [{"boxes": gt[0]["boxes"], "scores": np.array([0.9, 0.8])}]
    assert average_precision(perfect, gt) == 1.0
    wrong = [{"boxes": np.array([[50, 50, 60, 60]], dtype=float), "scores": np.array([0.9])}]
    assert average_precision(wrong, gt) == 0.0
    half = [{"boxes": gt[0]["boxes"][:1], "scores": np.array([0.9])}]
    assert average_precision(half, gt) == pytest.approx(51 / 101)

"""True-positive and false-discovery rates at 100 score thresholds over 120 patches.

Claim: :func:`histomammo.metrics.detection.rates_vs_threshold`, which sorts the detections
once and matches them once (the matches kept at any threshold are a prefix of one greedy
matching in score order), is at least 20x faster than the straightforward loop written from
the definition: for every threshold, keep the detections scoring at least that much and
match each image's detections to its ground truth from scratch (greedy, one-to-one, in
score order, each detection taking the nearest unmatched cell centre within the distance).
Both give identical rates, which is asserted.

The workload is the seed paper's test set: 120 patches, 200 detections per patch (the
model's ``box_detections_per_img``), about 40 tumour cells per patch, 100 thresholds.
The peer's matching of one image is vectorised numpy like ours, so the ratio measures the
algorithm (one pass against one pass per threshold), not Python against numpy.

Run: ``python benchmarks/bench_detection_metrics.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse

import numpy as np
from harness import measure, print_ratio, report

from histomammo.metrics.detection import rates_vs_threshold


def workload(rng: np.random.Generator, patches: int, detections: int, cells: int):
    """Per patch: ``cells`` 32 px boxes and ``detections`` scored boxes, some near cells."""
    predictions, targets = [], []
    for _ in range(patches):
        centres = rng.uniform(0, [680, 512], (cells, 2))
        near = centres[rng.integers(0, cells, detections)] + rng.normal(0, 10, (detections, 2))
        far = rng.uniform(0, [680, 512], (detections, 2))
        det = np.where(rng.random((detections, 1)) < 0.6, near, far)
        predictions.append({"boxes": np.concatenate([det - 16, det + 16], axis=1),
                            "scores": rng.random(detections)})
        targets.append({"boxes": np.concatenate([centres - 16, centres + 16], axis=1)})
    return predictions, targets


def _match_image(boxes: np.ndarray, scores: np.ndarray, gt: np.ndarray) -> int:
    """True positives of one image: greedy in score order, nearest free centre <= half side
    (the last of equally near centres, the library's COCO tie rule)."""
    order = np.argsort(-scores, kind="stable")
    det_c = (boxes[order, :2] + boxes[order, 2:]) / 2
    gt_c = (gt[:, :2] + gt[:, 2:]) / 2
    limit = np.minimum(gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]) / 2
    free = np.ones(len(gt), dtype=bool)
    tp = 0
    for centre in det_c:
        dist = np.hypot(*(gt_c - centre).T)
        ok = free & (dist <= limit)
        if ok.any():
            candidates = np.flatnonzero(ok)
            free[candidates[len(candidates) - 1 - np.argmin(dist[candidates][::-1])]] = False
            tp += 1
    return tp


def per_threshold_loop(predictions, targets, thresholds):
    """The definition, threshold by threshold."""
    n_gt = sum(len(t["boxes"]) for t in targets)
    tpr, fdr = [], []
    for t in thresholds:
        tp = fp = 0
        for pred, target in zip(predictions, targets, strict=True):
            keep = pred["scores"] >= t
            hits = _match_image(pred["boxes"][keep], pred["scores"][keep], target["boxes"])
            tp, fp = tp + hits, fp + int(keep.sum()) - hits
        tpr.append(tp / n_gt)
        fdr.append(fp / (tp + fp) if tp + fp else 0.0)
    return np.array(tpr), np.array(fdr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=120)
    parser.add_argument("--detections", type=int, default=200)
    parser.add_argument("--cells", type=int, default=40)
    parser.add_argument("--thresholds", type=int, default=100)
    args = parser.parse_args()
    predictions, targets = workload(np.random.default_rng(0), args.patches, args.detections,
                                    args.cells)
    thresholds = np.linspace(0, 0.99, args.thresholds)

    ours = rates_vs_threshold(predictions, targets, thresholds, match="center")
    tpr, fdr = per_threshold_loop(predictions, targets, thresholds)
    np.testing.assert_allclose(ours["tpr"], tpr, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours["fdr"], fdr, rtol=0, atol=1e-12)
    print(f"{args.patches} patches x {args.detections} detections, {args.thresholds} "
          f"thresholds; rates identical (TPR at the lowest threshold {tpr[0]:.4f})")

    fast = measure("histomammo rates_vs_threshold",
                   lambda: rates_vs_threshold(predictions, targets, thresholds), repeats=3)
    slow = measure("per-threshold matching loop",
                   lambda: per_threshold_loop(predictions, targets, thresholds),
                   warmup=0, repeats=1)
    report(fast)
    report(slow)
    print_ratio(fast, slow, "per-threshold matching loop")


if __name__ == "__main__":
    main()

"""The official GlaS object metrics on a GlaS-sized test part, against a brute-force reference.

Claim: :func:`histomammo.metrics.segmentation.glas_metrics` (one bincount for all overlaps,
exact Hausdorff distances from distance transforms restricted to each pair's bounding boxes,
nearest-object search pruned by a box lower bound) gives the same numbers (to 1e-9) as a
reference written straight from the definitions, far faster. The peer is that reference
(``tests/metrics/glas_reference.py``): objects as pixel sets, overlaps by set intersection
over all pairs, Hausdorff distances by scipy's exact ``directed_hausdorff`` (an early-break
algorithm, the one most public ports call) on all pixels.

Data: 20 images of 775x522 (the GlaS size) with about 15 elliptical glands each, some
touching; the predictions are shifted, dilated or eroded copies with missed, merged and
spurious glands. The floor is one pass over the pixels (copying both label images).

Run: ``python benchmarks/bench_glas_metrics.py`` (a minute or two on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from harness import measure, print_ratio, report
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "metrics"))
from glas_reference import reference_glas  # noqa: E402

from histomammo.metrics.segmentation import glas_metrics  # noqa: E402

SHAPE = (522, 775)


def gland_image(rng: np.random.Generator, n: int = 15) -> np.ndarray:
    labels = np.zeros(SHAPE, np.int32)
    rows, cols = np.indices(SHAPE)
    for k in range(1, n + 1):
        r, c = rng.integers(30, SHAPE[0] - 30), rng.integers(30, SHAPE[1] - 30)
        a, b = rng.uniform(15, 45, size=2)
        theta = rng.uniform(0, np.pi)
        dr, dc = rows - r, cols - c
        u = dr * np.cos(theta) + dc * np.sin(theta)
        v = -dr * np.sin(theta) + dc * np.cos(theta)
        wobble = 1 + 0.15 * np.sin(3 * np.arctan2(v, u) + k)  # irregular, some non-convex
        labels[((u / a) ** 2 + (v / b) ** 2 < wobble**2) & (labels == 0)] = k * 17
    return labels


def prediction(rng: np.random.Generator, gt: np.ndarray) -> np.ndarray:
    pred = np.roll(gt, tuple(rng.integers(-4, 5, size=2)), axis=(0, 1))
    grow = rng.random() < 0.5
    pred = ndimage.grey_dilation(pred, size=3) if grow else ndimage.grey_erosion(pred, size=3)
    values = [v for v in np.unique(pred) if v]
    pred[pred == values[0]] = 0  # a missed gland
    pred[pred == values[1]] = values[2]  # a merged pair
    spurious = ndimage.gaussian_filter(rng.standard_normal(SHAPE), 6) > 0.15
    blobs, _ = ndimage.label(spurious & (pred == 0))
    pred[blobs > 0] = 4000 + blobs[blobs > 0]  # spurious blobs, one label each
    return pred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(args.images):
        gt = gland_image(rng)
        pairs.append((prediction(rng, gt), gt))
    n_gt = np.mean([len(np.unique(g)) - 1 for _, g in pairs])
    print(f"{args.images} images of {SHAPE[1]}x{SHAPE[0]}, {n_gt:.1f} glands each on average")

    preds, targets = [p for p, _ in pairs], [g for _, g in pairs]
    ours_scores = glas_metrics(preds, targets)
    ref_scores = reference_glas(pairs)
    for key in ("f1", "object_dice", "object_hausdorff"):
        assert abs(ours_scores[key] - ref_scores[key]) <= 1e-9, (key, ours_scores, ref_scores)
    print("scores equal to the reference:", {k: round(ours_scores[k], 4) for k in ref_scores})

    ours = measure("histomammo glas_metrics", lambda: glas_metrics(preds, targets), repeats=args.repeats)
    peer = measure("brute-force reference", lambda: reference_glas(pairs), warmup=0, repeats=1)
    floor = measure("floor: one pass over the pixels",
                    lambda: [(p.copy(), g.copy()) for p, g in pairs], repeats=args.repeats)
    for timing in (ours, peer, floor):
        report(timing)
    print(f"per image: histomammo {ours.min_s / args.images * 1e3:.1f} ms, "
          f"reference {peer.min_s / args.images * 1e3:.1f} ms, "
          f"floor {floor.min_s / args.images * 1e3:.3f} ms")
    print_ratio(ours, peer, "brute-force reference")


if __name__ == "__main__":
    main()

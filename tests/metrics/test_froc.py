"""froc, evaluation_mask, heatmap_to_detections and slide_auc against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest

from histomammo.metrics import evaluation_mask, froc, heatmap_to_detections, slide_auc


def reference_mask(tumour, pixel_um):
    """Growth by direct distances, 8-connected flood fill labels, ITC from covariance."""
    ys, xs = np.nonzero(tumour)
    yy, xx = np.mgrid[: tumour.shape[0], : tumour.shape[1]]
    grown = np.zeros(tumour.shape, bool)
    for y, x in zip(ys, xs, strict=True):
        grown |= np.hypot(yy - y, xx - x) < 75 / (2 * pixel_um)
    labels = np.zeros(tumour.shape, int)
    count = 0
    for start in zip(*np.nonzero(grown), strict=True):  # flood fill, 8 neighbours
        if labels[start]:
            continue
        count += 1
        stack = [start]
        labels[start] = count
        while stack:
            y, x = stack.pop()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    n = (y + dy, x + dx)
                    if 0 <= n[0] < grown.shape[0] and 0 <= n[1] < grown.shape[1] and \
                            grown[n] and not labels[n]:
                        labels[n] = count
                        stack.append(n)
    itc = set()
    for label in range(1, count + 1):
        points = np.argwhere(labels == label).astype(float)
        cov = np.cov(points.T, bias=True) if len(points) > 1 else np.zeros((2, 2))
        if 4 * np.sqrt(max(np.linalg.eigvalsh(cov).max(), 0)) < 275 / pixel_um:
            itc.add(label)
    return labels, itc


def reference_froc(detections, masks, pixel_um, downsample, rates):
    """Sweep every threshold, counting hits geometrically at each."""
    lesions, fps_all = [], []
    for found, mask in zip(detections, masks, strict=True):
        labels, itc = reference_mask(mask, pixel_um) if mask is not None else (None, set())
        for (y, x), score in zip(found["points"], found["scores"], strict=True):
            label = 0 if labels is None else labels[int(y // downsample), int(x // downsample)]
            if label == 0:
                fps_all.append(score)
        if labels is not None:
            for label in set(range(1, labels.max() + 1)) - itc:
                hits = [s for (y, x), s in zip(found["points"], found["scores"], strict=True)
                        if labels[int(y // downsample), int(x // downsample)] == label]
                lesions.append(hits)
    candidates = sorted(set(fps_all) | {max(h, default=0.0) for h in lesions})[1:]
    fp_curve, sens = [], []
    for t in candidates:
        fp_curve.append(sum(s >= t for s in fps_all) / len(detections))
        sens.append(sum(any(s >= t for s in hits) for hits in lesions) / len(lesions))
    fp_curve.append(0.0)
    sens.append(0.0)
    return float(np.mean(np.interp(rates, fp_curve[::-1], sens[::-1]))), len(lesions)


def random_case(rng, slides=4, shape=(64, 64)):
    masks, detections = [], []
    for index in range(slides):
        mask = np.zeros(shape, bool)
        if index % 2 == 0:
            for _ in range(rng.integers(1, 4)):
                y, x = rng.integers(0, shape[0] - 36, 2)
                h, w = rng.integers(1, 36, 2)  # 8 to 280 um: lesions and ITCs
                mask[y : y + h, x : x + w] = True
        masks.append(mask if mask.any() else None)
        n = rng.integers(3, 15)
        detections.append({"points": rng.uniform(0, shape[0] * 32, (n, 2)),
                           "scores": np.round(rng.uniform(0, 1, n), 2)})  # ties included
        if masks[-1] is not None:  # and points on the tumour
            on = np.argwhere(mask)[rng.integers(0, mask.sum(), 3)] * 32 + 16
            detections[-1]["points"] = np.concatenate([detections[-1]["points"], on])
            detections[-1]["scores"] = np.append(detections[-1]["scores"], rng.uniform(0, 1, 3))
    return detections, masks


def test_evaluation_mask_matches_reference(rng):
    for _ in range(5):
        tumour = np.zeros((40, 40), bool)
        for _ in range(3):
            y, x = rng.integers(0, 34, 2)
            tumour[y : y + rng.integers(1, 6), x : x + rng.integers(1, 9)] = True
        labels, itc = evaluation_mask(tumour, mpp=0.243, downsample=32)
        ref_labels, ref_itc = reference_mask(tumour, 0.243 * 32)
        assert np.array_equal(labels > 0, ref_labels > 0)
        assert labels.max() == ref_labels.max()
        # same regions (label numbers may differ): compare ITC regions as pixel sets
        ours = {frozenset(map(tuple, np.argwhere(labels == v))) for v in itc}
        theirs = {frozenset(map(tuple, np.argwhere(ref_labels == v))) for v in ref_itc}
        assert ours == theirs


def test_matches_reference(rng):
    for _ in range(6):
        detections, masks = random_case(rng)
        result = froc(detections, masks, mpp=0.243, mask_downsample=32)
        expected, lesions = reference_froc(detections, masks, 0.243 * 32, 32,
                                           (0.25, 0.5, 1, 2, 4, 8))
        assert result["lesions"] == lesions and lesions > 0
        assert result["score"] == pytest.approx(expected, abs=1e-12)


def test_itc_excluded():
    tumour = np.zeros((64, 64), bool)
    tumour[5:35, 5:35] = True  # ~233 um, grown past 275 um: a lesion
    tumour[55, 55] = True  # one pixel: an isolated tumour cell
    on_itc = {"points": [[55 * 32 + 5, 55 * 32 + 5]], "scores": [0.99]}
    result = froc([on_itc], [tumour], mpp=0.243, mask_downsample=32)
    assert result["lesions"] == 1 and result["score"] == 0.0  # neither TP nor FP
    assert len(result["fps_per_slide"]) == 1  # no false positive at any threshold


def test_exception():
    with pytest.raises(ValueError, match="2 slides of detections but 1 masks"):
        froc([{"points": [], "scores": []}] * 2, [None])
    with pytest.raises(ValueError, match="no lesion"):
        froc([{"points": [[1, 1]], "scores": [0.5]}], [None])


def reference_nms(values, threshold, radius):
    values = values.copy()
    picked = []
    yy, xx = np.mgrid[: values.shape[0], : values.shape[1]]
    while values.max() >= threshold:
        r, c = np.unravel_index(np.argmax(values), values.shape)
        picked.append((r, c, values[r, c]))
        values[np.hypot(yy - r, xx - c) <= radius] = -1
    return picked


def test_heatmap_nms_matches_reference(rng):
    for _ in range(5):
        values = rng.random((20, 30))
        found = heatmap_to_detections(values, threshold=0.6, radius=2.5)
        expected = reference_nms(values, 0.6, 2.5)
        assert [tuple(p) for p in found["points"]] == [(r + 0.5, c + 0.5) for r, c, _ in expected]
        assert found["scores"].tolist() == [s for *_, s in expected]


def test_heatmap_geometry():
    class Grid:  # a Heatmap's fields
        probabilities = np.full((4, 5, 2), np.nan)
        stride, patch_size, downsample, origin = 32, 64, 4.0, (0, 0)

    Grid.probabilities[1, 3] = (0.1, 0.9)
    found = heatmap_to_detections(Grid(), threshold=0.5)
    assert found["points"].tolist() == [[1 * 128 + 128, 3 * 128 + 128]]  # patch centre


def test_slide_auc():
    assert slide_auc([0.9, 0.2, 0.7, 0.1], [1, 0, 1, 0]) == 1.0
    assert slide_auc([0.1, 0.9], [1, 0]) == 0.0

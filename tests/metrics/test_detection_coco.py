"""average_precision is COCO's AP50 (IoU 0.5, no per-image cap), exact ties between ground
truths included: pycocotools gives a detection the last of equally good ground truths."""

from __future__ import annotations

import numpy as np
import pytest

from histomammo.metrics.detection import average_precision, detection_counts


def _two_box_case():
    """Detection 0 ties (IoU 9/11) between both ground truths; detection 1 fits only the
    first (IoU 7/13, and 5/15 with the second)."""
    gts = [{"boxes": np.array([[0, 0, 10, 10], [2, 0, 12, 10]])}]
    preds = [{"boxes": np.array([[1, 0, 11, 10], [-3, 0, 7, 10]]),
              "scores": np.array([0.9, 0.8])}]
    return preds, gts


def test_tied_iou_goes_to_the_last_ground_truth_pinned():
    preds, gts = _two_box_case()
    # COCO: detection 0 takes ground truth 1, detection 1 then takes ground truth 0.
    # (Taking the first of the tied ground truths would leave detection 1 unmatched:
    # AP 51/101 = 0.505.) pycocotools 2.0.11 gives 1.0 on this case.
    assert average_precision(preds, gts) == 1.0
    counts = detection_counts(preds, gts, threshold=0.0, match="iou")
    assert (counts["tp"], counts["fp"], counts["fn"]) == (2, 0, 0)
    # the ground truths' order decides: reversed, detection 0 takes [0, 0, 10, 10]
    reversed_gts = [{"boxes": gts[0]["boxes"][::-1].copy()}]
    assert average_precision(preds, reversed_gts) == pytest.approx(51 / 101)


def _coco_ap50(preds, gts):
    """AP50 by pycocotools: one category, IoU 0.5, no detection cap, every area."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(box):
        x0, y0, x1, y1 = (float(v) for v in box)
        return [x0, y0, x1 - x0, y1 - y0]

    images, annotations, results = [], [], []
    for image_id, (pred, gt) in enumerate(zip(preds, gts, strict=True), start=1):
        images.append({"id": image_id, "width": 100, "height": 100})
        for box in gt["boxes"]:
            b = xywh(box)
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": 1, "bbox": b, "area": b[2] * b[3],
                                "iscrowd": 0})
        for box, score in zip(pred["boxes"], pred["scores"], strict=True):
            results.append({"image_id": image_id, "category_id": 1, "bbox": xywh(box),
                            "score": float(score)})
    coco_gt = COCO()
    coco_gt.dataset = {"images": images, "annotations": annotations,
                       "categories": [{"id": 1, "name": "cell"}]}
    coco_gt.createIndex()
    evaluation = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
    evaluation.params.iouThrs = np.array([0.5])
    evaluation.params.maxDets = [10_000]
    evaluation.params.areaRng = [[0, 1e10]]
    evaluation.params.areaRngLbl = ["all"]
    evaluation.evaluate()
    evaluation.accumulate()
    precision = evaluation.eval["precision"][0, :, 0, 0, 0]
    return float(np.mean(np.where(precision > -1, precision, 0.0)))


def _integer_case(rng, n_images=3):
    """Integer boxes: ground truths 2 px apart on a grid, detections 1 px off them, so that
    many detections tie exactly between two ground truths (and scores tie too)."""
    preds, gts = [], []
    for _ in range(n_images):
        corners = np.unique(rng.integers(0, 6, (rng.integers(1, 7), 2)) * 2, axis=0)
        gt = np.concatenate([corners, corners + 10], axis=1)
        n_det = rng.integers(1, 10)
        shifted = corners[rng.integers(0, len(corners), n_det)] + rng.integers(-1, 2, (n_det, 2))
        size = rng.integers(9, 12, (n_det, 1))
        preds.append({"boxes": np.concatenate([shifted, shifted + size], axis=1),
                      "scores": np.round(rng.random(n_det), 1)})
        gts.append({"boxes": gt})
    return preds, gts


def test_matches_pycocotools_on_the_pinned_case():
    pytest.importorskip("pycocotools")
    preds, gts = _two_box_case()
    assert _coco_ap50(preds, gts) == average_precision(preds, gts) == 1.0


def test_matches_pycocotools_with_ties():
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(0)
    for _ in range(60):
        preds, gts = _integer_case(rng)
        assert average_precision(preds, gts) == pytest.approx(_coco_ap50(preds, gts),
                                                              abs=1e-12)

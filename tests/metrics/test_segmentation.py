"""Official GlaS object metrics: hand-computed cases, the brute-force reference, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from glas_reference import reference_glas
from scipy import ndimage
from scipy.spatial.distance import cdist

from histomammo.metrics.segmentation import (
    count_score,
    glas_metrics,
    object_dice,
    object_f1,
    object_hausdorff,
    pixel_dice,
)

KEYS = ("f1", "object_dice", "object_hausdorff")


def random_instances(rng, shape=(48, 56), n=6, fill=0.55, dtype=np.int64, big=True):
    """Touching blobs: Voronoi cells of random seeds intersected with a smooth random mask."""
    seeds = rng.integers(0, [shape[0], shape[1]], size=(n, 2))
    rows, cols = np.indices(shape)
    distance = (rows[..., None] - seeds[:, 0]) ** 2 + (cols[..., None] - seeds[:, 1]) ** 2
    cells = distance.argmin(-1) + 1
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), 3)
    mask = noise > np.quantile(noise, 1 - fill)
    labels = np.where(mask, cells, 0)
    values = rng.choice(np.arange(1, 5000), size=n + 1, replace=False)
    if big:
        values = values + 300  # above 255: an 8-bit port would wrap these
    values[0] = 0
    return values[labels].astype(dtype)


def perturb(rng, gt):
    """A plausible prediction: shifted, some objects dropped, merged or split, spurious blobs."""
    pred = np.roll(gt, rng.integers(-2, 3, size=2), axis=(0, 1)).copy()
    labels = [v for v in np.unique(pred) if v]
    if labels and rng.random() < 0.5:
        pred[pred == labels[0]] = 0  # a missed gland
    if len(labels) > 2 and rng.random() < 0.5:
        pred[pred == labels[1]] = labels[2]  # two glands merged
    spurious = ndimage.gaussian_filter(rng.standard_normal(gt.shape), 2) > 1.2
    pred[spurious & (pred == 0)] = 65000  # false positives, one odd label
    return pred


def unzip(pairs):
    """``(preds, targets)`` lists of ``[(pred, target), ...]`` (the reference takes pairs)."""
    return [p for p, _ in pairs], [t for _, t in pairs]


def assert_matches_reference(pairs, aggregate="pooled", **kwargs):
    ours = glas_metrics(*unzip(pairs), aggregate, **kwargs)
    ref = reference_glas(pairs, aggregate, **kwargs)
    for key in KEYS:
        assert ours[key] == pytest.approx(ref[key], abs=1e-9, rel=1e-12), key


def test_hand_computed_case():
    gt = np.zeros((10, 10), np.int32)
    gt[0:4, 0:4] = 1  # 16 px
    gt[6:10, 6:10] = 2  # 16 px
    pred = np.zeros_like(gt)
    pred[0:4, 0:3] = 5  # 12 px inside gt 1: 12 > 8 -> TP
    pred[6:8, 6:8] = 6  # 4 px inside gt 2: 4 <= 8 -> FP
    scores = glas_metrics([pred], [gt])
    assert (scores["tp"], scores["fp"], scores["fn"]) == (1, 1, 1)
    assert scores["f1"] == pytest.approx(0.5)
    dice_1, dice_2 = 2 * 12 / 28, 2 * 4 / 20
    gt_term = (16 * dice_1 + 16 * dice_2) / 32
    pred_term = (12 * dice_1 + 4 * dice_2) / 16
    assert scores["object_dice"] == pytest.approx(0.5 * (gt_term + pred_term))
    # Hausdorff: gt1 vs pred5 -> column 3 is 1 px away; gt2 vs pred6 -> corner (9,9) to (7,7)
    h1, h2 = 1.0, math.hypot(2, 2)
    expected = 0.5 * ((16 * h1 + 16 * h2) / 32 + (12 * h1 + 4 * h2) / 16)
    assert scores["object_hausdorff"] == pytest.approx(expected)


def test_half_overlap_is_not_enough():
    gt = np.zeros((4, 4), int)
    gt[:, :2] = 1  # 8 px
    pred = np.zeros_like(gt)
    pred[:2, :2] = 1  # exactly half: not a true positive (strictly more than half is)
    assert glas_metrics([pred], [gt])["tp"] == 0
    pred[2, 0] = 1
    assert glas_metrics([pred], [gt])["tp"] == 1


def test_background_is_never_a_partner():
    gt = np.zeros((10, 10), int)
    gt[0:2, 0:2] = 3
    pred = np.zeros_like(gt)
    pred[0:5, 0:5] = 1  # mostly background under it; its partner is still gt 3
    scores = glas_metrics([pred], [gt])
    assert scores["tp"] == 1
    assert scores["object_dice"] == pytest.approx(2 * 4 / 29)


def test_ties_go_to_the_smaller_label():
    gt = np.zeros((4, 8), int)
    gt[:, 0:4] = 9  # 16 px
    gt[:, 4:6] = 4  # 8 px
    pred = np.zeros_like(gt)
    pred[0:2, 2:6] = 1  # 4 px over each: its partner is 4, the smaller label
    scores = glas_metrics([pred], [gt])
    pred_term = 2 * 4 / (8 + 8)  # with gland 9 as partner it would be 2 * 4 / (8 + 16)
    gt_term = (16 * 2 * 4 / 24 + 8 * 2 * 4 / 16) / 24
    assert scores["object_dice"] == pytest.approx(0.5 * (pred_term + gt_term))
    assert_matches_reference([(pred, gt)])


@pytest.mark.parametrize("aggregate", ["pooled", "per_image"])
def test_matches_reference_on_random_images(aggregate):
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(12):
        gt = random_instances(rng, dtype=[np.int64, np.uint16, np.int32][i % 3])
        pairs.append((perturb(rng, gt), gt))
    assert_matches_reference(pairs, aggregate)


def test_matches_reference_on_non_convex_objects():
    """Rings and U shapes: interior points decide some distances, so boundary-only is wrong."""
    rows, cols = np.indices((40, 40))
    radius = np.hypot(rows - 20, cols - 20)
    gt = np.zeros((40, 40), np.int64)
    gt[(radius > 10) & (radius < 16)] = 1000  # a ring
    gt[18:23, 18:23] = 2  # a blob in its hole
    pred = np.zeros_like(gt)
    pred[(radius > 11) & (radius < 15) & (cols < 30)] = 7  # a C shape
    pred[2:6, 30:38] = 8  # unmatched: its nearest object decides
    u_shape = np.zeros_like(gt)
    u_shape[5:35, 5:10] = 1
    u_shape[30:35, 5:35] = 1
    u_shape[5:35, 30:35] = 1
    pairs = [(pred, gt), (u_shape * 3, u_shape * 4), (np.roll(u_shape, 3, 1) * 5, gt)]
    for aggregate in ("pooled", "per_image"):
        assert_matches_reference(pairs, aggregate)


def test_reference_hausdorff_equals_all_pairs_definition():
    rng = np.random.default_rng(3)
    gt = random_instances(rng, shape=(20, 20), n=2, big=False)
    pred = np.zeros_like(gt)
    pred[gt == np.unique(gt)[1]] = 1
    pred = np.roll(pred, 2, 0)
    a = np.argwhere(pred == 1)
    b = np.argwhere(gt == np.unique(gt)[1])
    d = cdist(a, b)
    brute = max(d.min(1).max(), d.min(0).max())
    from histomammo.metrics._instances import Instances, object_hausdorff_distance

    pi, gi = Instances.from_labels(pred), Instances.from_labels(gt)
    assert object_hausdorff_distance(pi, 1, gi, 1) == pytest.approx(brute)


def test_labels_above_255_do_not_wrap():
    gt = np.zeros((6, 6), np.int64)
    gt[0:3, 0:3] = 256
    gt[3:6, 3:6] = 512  # both wrap to 0 in uint8
    scores = glas_metrics([gt.copy()], [gt])
    assert scores["n_gt"] == 2 and scores["f1"] == 1.0
    negative = np.where(gt > 0, -gt, 0)
    assert glas_metrics([negative], [gt])["f1"] == 1.0


def test_touching_glands_stay_apart():
    gt = np.zeros((4, 8), int)
    gt[:, :4], gt[:, 4:] = 1, 2  # touching: a port that relabels by connectivity merges them
    pred = np.zeros_like(gt)
    pred[:, :] = 1  # one merged prediction: it covers gland 1 (its partner, a tie to the
    # smaller label) and gland 2 is missed; relabelling the truth would report 1 of 1 found
    scores = glas_metrics([pred], [gt])
    assert (scores["n_gt"], scores["tp"], scores["fp"], scores["fn"]) == (2, 1, 0, 1)


def test_empty_cases_follow_the_official_code():
    empty = np.zeros((5, 5), int)
    full = empty.copy()
    full[1:3, 1:3] = 1
    both = glas_metrics([empty], [empty])
    assert (both["f1"], both["object_dice"], both["object_hausdorff"]) == (1.0, 1.0, 0.0)
    for pair in ((empty, full), (full, empty)):
        one = glas_metrics([pair[0]], [pair[1]])
        assert (one["f1"], one["object_dice"]) == (0.0, 0.0)
        assert one["object_hausdorff"] == math.inf
        finite = glas_metrics([pair[0]], [pair[1]], empty_distance="diagonal")["object_hausdorff"]
        assert finite == pytest.approx(math.hypot(5, 5))
        assert glas_metrics([pair[0]], [pair[1]], empty_distance=40.0)["object_hausdorff"] == 40.0


def test_pooled_and_per_image_differ_as_documented():
    """A big well-segmented gland and a tiny missed one in another image."""
    big = np.zeros((30, 30), int)
    big[0:25, 0:25] = 1
    small = np.zeros((30, 30), int)
    small[0:3, 0:3] = 1
    small_pred = np.zeros_like(small)
    small_pred[20:23, 20:23] = 1  # wrong place: Dice 0
    pairs = [(big, big), (small_pred, small)]
    pooled = glas_metrics(*unzip(pairs))["object_dice"]
    per_image = glas_metrics(*unzip(pairs), "per_image")["object_dice"]
    assert pooled == pytest.approx(625 / 634)  # weights: 625 and 9 pixels pooled
    assert per_image == pytest.approx(0.5)
    assert_matches_reference(pairs, "pooled")
    assert_matches_reference(pairs, "per_image")


def test_single_metric_functions_agree():
    rng = np.random.default_rng(1)
    gt = random_instances(rng)
    pairs = [(perturb(rng, gt), gt)]
    scores = glas_metrics(*unzip(pairs))
    assert object_f1(*unzip(pairs)) == scores["f1"]
    assert object_dice(*unzip(pairs)) == scores["object_dice"]
    assert object_hausdorff(*unzip(pairs)) == scores["object_hausdorff"]


def test_exception():
    with pytest.raises(TypeError, match="integer instance labels"):
        glas_metrics([np.zeros((3, 3), float)], [np.zeros((3, 3), int)])
    with pytest.raises(ValueError, match="differ in shape"):
        glas_metrics([np.zeros((3, 3), int)], [np.zeros((3, 4), int)])
    with pytest.raises(ValueError, match="2-D"):
        glas_metrics([np.zeros(3, int)], [np.zeros(3, int)])
    with pytest.raises(ValueError, match="at least one"):
        glas_metrics([], [])
    with pytest.raises(ValueError, match="aggregate"):
        glas_metrics([np.zeros((3, 3), int)], [np.zeros((3, 3), int)], "mean")


def test_boolean_input_is_split_into_components():
    mask = np.zeros((5, 5), bool)
    mask[0, 0] = mask[1, 1] = True  # diagonal neighbours: one 8-connected object
    mask[4, 4] = True
    assert glas_metrics([mask], [mask])["n_gt"] == 2


def test_count_score_and_pixel_dice():
    gt = np.zeros((8, 8), int)
    gt[0:2, 0:2], gt[0:2, 2:4], gt[5:7, 5:7] = 1, 2, 3  # two touching: binarised they merge
    pred = np.zeros((8, 8), float)
    pred[5:7, 5:7] = 0.9
    assert count_score([pred], [gt]) == pytest.approx(0.5)
    assert count_score([np.zeros((8, 8))], [gt]) == 0.0
    assert count_score([gt, pred], [gt, gt]) == pytest.approx(0.75)
    assert pixel_dice([pred], [gt]) == pytest.approx(2 * 4 / (4 + 12))
    assert pixel_dice([np.zeros((2, 2))], [np.zeros((2, 2))]) == 1.0
    with pytest.raises(ValueError, match="differ in shape"):
        pixel_dice([np.zeros((2, 2))], [np.zeros((3, 2))])


def test_nearest_object_lower_bound_never_exceeds_the_distance():
    from histomammo.metrics._instances import (
        Instances,
        hausdorff_lower_bound,
        object_hausdorff_distance,
    )

    rng = np.random.default_rng(5)
    for _ in range(5):
        a = Instances.from_labels(random_instances(rng, n=5))
        b = Instances.from_labels(perturb(rng, random_instances(rng, n=5)))
        for i in range(1, a.count + 1):
            for j in range(1, b.count + 1):
                exact = object_hausdorff_distance(a, i, b, j)
                assert hausdorff_lower_bound(a, i, b, j) <= exact + 1e-12


def test_tile_pruning_is_exact(monkeypatch):
    from histomammo.metrics import _instances

    rng = np.random.default_rng(11)
    pairs = []
    for _ in range(3):
        gt = random_instances(rng, shape=(160, 200), n=5)
        pairs.append((perturb(rng, gt), gt))
    pruned = glas_metrics(*unzip(pairs))
    monkeypatch.setattr(_instances, "_PRUNE_ABOVE", 1 << 40)
    unpruned = glas_metrics(*unzip(pairs))
    monkeypatch.setattr(_instances, "_PRUNE_ABOVE", 0)
    always = glas_metrics(*unzip(pairs))
    for key in KEYS:
        assert pruned[key] == unpruned[key] == always[key]
    assert pruned["object_hausdorff"] == pytest.approx(reference_glas(pairs)["object_hausdorff"])

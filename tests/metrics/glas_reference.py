"""A brute-force GlaS evaluation written straight from the definitions, for tests and benchmarks.

Objects are Python sets of pixel coordinates, overlaps are set intersections over all
pairs, partners are found by counting, Hausdorff distances come from scipy's exact
``directed_hausdorff`` on all pixels. Slow on purpose: nothing is shared with
``histomammo.metrics``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import directed_hausdorff


def _objects(labels):
    objects = {}
    for value in np.unique(labels):
        if value != 0:
            rows, cols = np.nonzero(labels == value)
            objects[int(value)] = set(zip(rows.tolist(), cols.tolist(), strict=True))
    return objects


def _hausdorff(a, b):
    pa, pb = np.array(sorted(a), float), np.array(sorted(b), float)
    return max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])


def _partner(obj, others):
    best, best_count = None, 0
    for label in sorted(others):
        count = len(obj & others[label])
        if count > best_count:
            best, best_count = label, count
    return best


def _side(own, others, empty):
    """(total area, sum area*dice, sum area*hausdorff) over the objects of ``own``."""
    area = dice = haus = 0.0
    for obj in own.values():
        area += len(obj)
        partner = _partner(obj, others)
        if partner is not None:
            other = others[partner]
            dice += len(obj) * 2 * len(obj & other) / (len(obj) + len(other))
            haus += len(obj) * _hausdorff(obj, other)
        else:
            distances = [_hausdorff(obj, o) for o in others.values()]
            haus += len(obj) * (min(distances) if distances else empty)
    return area, dice, haus


def image_terms(pred, gt, empty=math.inf):
    p, g = _objects(pred), _objects(gt)
    tp = 0
    for obj in p.values():
        partner = _partner(obj, g)
        if partner is not None and len(obj & g[partner]) > len(g[partner]) / 2:
            tp += 1
    return len(p), len(g), tp, _side(p, g, empty), _side(g, p, empty)


def _finish(n_pred, n_gt, tp, ps, gs, empty):
    if n_pred == 0 and n_gt == 0:
        return {"f1": 1.0, "object_dice": 1.0, "object_hausdorff": 0.0}

    def term(side, index, other, if_empty):
        if side[0]:
            return side[index] / side[0]
        return if_empty if other[0] else 0.0

    return {
        "f1": 2 * tp / (n_pred + n_gt),
        "object_dice": 0.5 * (term(gs, 1, ps, 0.0) + term(ps, 1, gs, 0.0)),
        "object_hausdorff": 0.5 * (term(gs, 2, ps, empty) + term(ps, 2, gs, empty)),
    }


def reference_glas(pairs, aggregate="pooled", empty=math.inf):
    terms = [image_terms(p, g, empty) for p, g in pairs]
    if aggregate == "per_image":
        rows = [_finish(*t, empty) for t in terms]
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    n_pred = sum(t[0] for t in terms)
    n_gt = sum(t[1] for t in terms)
    tp = sum(t[2] for t in terms)
    ps = tuple(sum(t[3][i] for t in terms) for i in range(3))
    gs = tuple(sum(t[4][i] for t in terms) for i in range(3))
    return _finish(n_pred, n_gt, tp, ps, gs, empty)

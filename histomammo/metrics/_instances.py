"""Instance label images as the GlaS metrics see them: consecutive ids, areas, overlaps, boxes,
and the exact Hausdorff distance between two objects (private to `histomammo.metrics.segmentation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from histomammo.metrics._convert import to_numpy

__all__ = ["Instances", "hausdorff_lower_bound", "object_hausdorff_distance", "overlap_matrix"]

# Below this label value a lookup table (one pass) replaces np.unique (a sort).
_LUT_LIMIT = 1 << 24


@dataclass(frozen=True)
class Instances:
    """One instance label image relabelled ``1..n`` in increasing order of the original labels.

    Attributes
    ----------
    ids : ndarray of int32, shape (H, W)
        0 for background, ``k`` for the k-th smallest original non-zero label.
    labels : ndarray, shape (n,)
        The original label of each id (``labels[k - 1]`` for id ``k``).
    areas : ndarray of int64, shape (n,)
        Pixel count of each object.
    boxes : list of tuple of slice
        Bounding box of each object, as `scipy.ndimage.find_objects` gives it.
    """

    ids: np.ndarray
    labels: np.ndarray
    areas: np.ndarray
    boxes: list[tuple[slice, ...]]
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def count(self) -> int:
        return len(self.labels)

    @classmethod
    def from_labels(cls, labels: np.ndarray, name: str = "labels") -> Instances:
        array = to_numpy(labels, name)
        if array.ndim != 2:
            raise ValueError(f"{name} must be a 2-D label image, got shape {array.shape}")
        if array.dtype == bool:
            array = ndimage.label(array, structure=np.ones((3, 3), bool))[0]
        elif not np.issubdtype(array.dtype, np.integer):
            raise TypeError(
                f"{name} must hold integer instance labels (0 = background), got dtype "
                f"{array.dtype}; threshold probabilities first, e.g. with "
                "histomammo.postprocess.probabilities_to_instances"
            )
        ids, originals = _consecutive(array)
        areas = np.bincount(ids.ravel(), minlength=len(originals) + 1)[1:].astype(np.int64)
        boxes = ndimage.find_objects(ids, max_label=len(originals))
        return cls(ids=ids, labels=originals, areas=areas, boxes=boxes)


def _consecutive(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map the non-zero labels to ``1..n`` keeping their order; any integer width, no wrap."""
    if array.size == 0:
        return np.zeros(array.shape, np.int32), np.zeros(0, array.dtype)
    low, high = int(array.min()), int(array.max())
    if low >= 0 and high < _LUT_LIMIT:
        present = np.bincount(array.ravel()) > 0
        present[0] = False
        originals = np.flatnonzero(present)
        lut = np.zeros(high + 1, np.int32)
        lut[originals] = np.arange(1, len(originals) + 1, dtype=np.int32)
        return lut[array], originals.astype(array.dtype)
    originals, inverse = np.unique(array, return_inverse=True)
    inverse = inverse.reshape(array.shape).astype(np.int32)
    zero = np.searchsorted(originals, 0)
    has_zero = zero < len(originals) and originals[zero] == 0
    # ids: labels below zero keep 1..zero, zero becomes 0, labels above shift down by one
    ids = np.where(inverse < zero, inverse + 1, inverse + (0 if has_zero else 1))
    if has_zero:
        ids[inverse == zero] = 0
        originals = np.delete(originals, zero)
    return ids.astype(np.int32), originals


def overlap_matrix(pred: Instances, gt: Instances) -> np.ndarray:
    """Pixel counts of every (predicted id, ground-truth id) pair, background row/column 0.

    One pass over the pixels: ``bincount(pred * (n_gt + 1) + gt)``.
    """
    if pred.ids.shape != gt.ids.shape:
        raise ValueError(
            f"predicted and ground-truth label images differ in shape: {pred.ids.shape} "
            f"vs {gt.ids.shape}"
        )
    width = gt.count + 1
    flat = pred.ids.astype(np.int64).ravel() * width + gt.ids.ravel()
    counts = np.bincount(flat, minlength=(pred.count + 1) * width)
    return counts.reshape(pred.count + 1, width)


def _coordinates(inst: Instances, k: int) -> np.ndarray:
    """(N, 2) row/column coordinates of every pixel of object ``k`` (cached)."""
    key = ("points", k)
    if key not in inst._cache:
        box = inst.boxes[k - 1]
        rows, cols = np.nonzero(inst.ids[box] == k)
        inst._cache[key] = np.stack([rows + box[0].start, cols + box[1].start], axis=1)
    return inst._cache[key]


def _boundary_tree(inst: Instances, k: int) -> cKDTree:
    """A k-d tree of the pixels of object ``k`` that have a 4-neighbour outside it (cached).

    The pixel of an object nearest to any pixel outside it is always one of these: from an
    interior pixel, the neighbour one step towards the outside point is strictly nearer.
    """
    key = ("boundary", k)
    if key not in inst._cache:
        box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in inst.boxes[k - 1])
        mask = inst.ids[box] == k
        edge = mask & ~ndimage.binary_erosion(mask, border_value=0)
        rows, cols = np.nonzero(edge)
        inst._cache[key] = cKDTree(np.stack([rows + box[0].start, cols + box[1].start], axis=1))
    return inst._cache[key]


# Side of the square tiles that group source pixels for pruning, and the largest distance
# between two pixels of one tile.
_TILE = 8
_TILE_RADIUS = (_TILE - 1) * 2**0.5
_PRUNE_ABOVE = 4 * _TILE * _TILE  # smaller sources are queried whole


def _directed_hausdorff(a: Instances, i: int, b: Instances, j: int) -> float:
    """``max`` over every pixel of object ``i`` of its distance to object ``j``.

    All of the object's pixels are sources (its interior can be farther from ``j`` than its
    boundary when ``j`` is not convex), but pixels inside ``j`` are at distance 0 and skipped,
    so a well-matched pair only queries its thin rim of disagreement. Large sources are
    pruned exactly: one pixel per 8x8 tile is queried first, and a tile is searched in full
    only if its pixel's distance plus the tile's diameter exceeds the largest distance found
    (distance to a set is 1-Lipschitz, so no pixel of another tile can beat it).
    """
    points = _coordinates(a, i)
    outside = points[b.ids[points[:, 0], points[:, 1]] != j]
    if len(outside) == 0:
        return 0.0
    tree = _boundary_tree(b, j)
    if len(outside) <= _PRUNE_ABOVE:
        return float(np.max(tree.query(outside)[0]))
    tile = (outside[:, 0] // _TILE) * (b.ids.shape[1] // _TILE + 1) + outside[:, 1] // _TILE
    _, first, which = np.unique(tile, return_index=True, return_inverse=True)
    near = tree.query(outside[first])[0]
    best = np.max(near)
    open_tiles = np.flatnonzero(near + _TILE_RADIUS > best)
    rest = outside[np.isin(which, open_tiles)]
    return float(max(best, np.max(tree.query(rest)[0])))


def object_hausdorff_distance(a: Instances, i: int, b: Instances, j: int) -> float:
    """Exact Euclidean Hausdorff distance, in pixels, between object ``i`` of ``a`` and ``j`` of ``b``.

    Both directed distances run over every pixel of the source object (so non-convex objects
    are exact), against the target's boundary pixels, which hold the nearest pixel of the
    target to any point outside it.
    """
    return max(_directed_hausdorff(a, i, b, j), _directed_hausdorff(b, j, a, i))


def _max_distance_to_box(points: np.ndarray, box: tuple[slice, ...]) -> float:
    gaps = [
        np.maximum(np.maximum(s.start - p, p - (s.stop - 1)), 0)
        for p, s in zip(points.T, box, strict=True)
    ]
    return float(np.sqrt((gaps[0] ** 2 + gaps[1] ** 2).max()))


def hausdorff_lower_bound(a: Instances, i: int, b: Instances, j: int) -> float:
    """A cheap lower bound of the Hausdorff distance between object ``i`` of ``a`` and ``j`` of ``b``.

    Every pixel of object ``j`` lies in its bounding box, so the distance from a pixel of
    object ``i`` to object ``j`` is at least its distance to that box; the largest such
    distance (and the same the other way round) bounds the Hausdorff distance from below.
    The distance to a box is convex, so its maximum over an object is reached at a vertex of
    the object's convex hull, which is a boundary pixel: only those are visited. Used to skip
    exact computations while searching for the nearest object.
    """
    return max(
        _max_distance_to_box(_boundary_tree(a, i).data, b.boxes[j - 1]),
        _max_distance_to_box(_boundary_tree(b, j).data, a.boxes[i - 1]),
    )

"""Gland segmentation post-processing: the three steps the GlaS 2015 entrants used.

The seed (section 7) lists them — removing small objects, filling holes, disconnecting weakly
connected objects — and applied none. Each function here is optional and composable, works
on integer label images of any width (0 background) and keeps each object's label where it
can; [`probabilities_to_instances`][histomammo.postprocess.glas.probabilities_to_instances]
chains them from a probability map. Numpy arrays or torch tensors (any device but ``meta``)
go in; a tensor comes back as a tensor on its device.

Examples
--------
>>> import numpy as np
>>> prob = np.zeros((12, 12)); prob[1:6, 1:6] = 0.9; prob[8, 8] = 0.9
>>> labels = probabilities_to_instances(prob, min_size=4)
>>> sorted(np.unique(labels).tolist())
[0, 1]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import ndimage

from histomammo.postprocess._convert import follows_input

__all__ = [
    "fill_holes",
    "probabilities_to_instances",
    "remove_small_objects",
    "split_weak_connections",
]

_EIGHT = np.ones((3, 3), bool)


def _labels(image: np.ndarray, name: str = "labels") -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D label image, got shape {array.shape}")
    if array.dtype == bool:
        return ndimage.label(array, _EIGHT)[0]
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{name} must be an integer label image or a boolean mask, got dtype {array.dtype}; "
            "use probabilities_to_instances for probability maps"
        )
    return array


def _objects(labels: np.ndarray) -> Iterator[tuple[int, tuple[slice, ...]]]:
    """(label, bounding box) of every object, through one consecutive relabelling."""
    values, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.reshape(labels.shape)
    for index, box in enumerate(ndimage.find_objects(inverse + 1), start=0):
        if box is not None and values[index] != 0:
            yield values[index], box


@follows_input
def remove_small_objects(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Set objects smaller than ``min_size`` pixels to background; the others keep their labels.

    Parameters
    ----------
    labels : ndarray or Tensor, shape (H, W)
        Integer instance labels (any width), or a boolean mask (its 8-connected components).
    min_size : int
        Smallest area kept, in pixels.

    Returns
    -------
    ndarray or Tensor
        A new label image of the input's dtype (int32 for a boolean mask); a tensor on the
        input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 1, 0, 300]])
    >>> remove_small_objects(labels, 2).tolist()
    [[1, 1, 0, 0]]
    """
    labels = _labels(labels)
    values, counts = np.unique(labels, return_counts=True)
    small = values[(counts < min_size) & (values != 0)]
    out = labels.copy()
    out[np.isin(labels, small)] = 0
    return out


@follows_input
def fill_holes(labels: np.ndarray) -> np.ndarray:
    """Fill background holes enclosed by a single object with that object's label.

    A hole is background that the object encloses on its own: background not reachable from
    outside the object's bounding box without crossing the object. A gap closed only by two
    touching objects is left alone.

    Examples
    --------
    >>> import numpy as np
    >>> ring = np.full((5, 5), 7); ring[2, 2] = 0
    >>> int(fill_holes(ring)[2, 2])
    7
    """
    labels = _labels(labels)
    out = labels.copy()
    for value, box in _objects(labels):
        padded = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        window = labels[padded]
        mask = window == value
        holes = ndimage.binary_fill_holes(mask) & (window == 0)
        out[padded][holes] = value
    return out


@follows_input
def split_weak_connections(labels: np.ndarray, *, h: float = 2.0, min_size: int = 0
                           ) -> np.ndarray:
    """Split objects at narrow necks with a distance-transform watershed.

    Within each object the Euclidean distance to the background has one peak per lobe; peaks
    standing at least ``h`` pixels above the saddle between them (h-maxima) seed a watershed
    of the negated distance, restricted to the object. The largest piece keeps the object's
    label; the others get new labels above the image's maximum.

    Parameters
    ----------
    labels : ndarray or Tensor, shape (H, W)
        Integer instance labels, a boolean mask, or a probability map (float; thresholded at
        0.5 first).
    h : float
        Depth of the neck, in pixels of radius, needed to split.
    min_size : int
        Pieces smaller than this are not split off: they keep the object's label.

    Examples
    --------
    >>> import numpy as np
    >>> dumbbell = np.zeros((11, 25), int)
    >>> dumbbell[1:10, 1:10] = 1; dumbbell[1:10, 15:24] = 1; dumbbell[5, 10:15] = 1
    >>> len(np.unique(split_weak_connections(dumbbell))) - 1
    2
    """
    from skimage.morphology import local_maxima, reconstruction
    from skimage.segmentation import watershed

    array = np.asarray(labels)
    if np.issubdtype(array.dtype, np.floating):
        array = array > 0.5
    labels = _labels(array)
    out = labels.copy()
    next_label = int(labels.max(initial=0)) + 1
    for value, box in _objects(labels):
        mask = labels[box] == value
        distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        # h-maxima by reconstruction: skimage's h_maxima keeps both of two equal peaks even
        # when the saddle between them is shallower than h
        raised = reconstruction(distance - h, distance)
        markers = ndimage.label(local_maxima(raised) & mask, _EIGHT)[0]
        if markers.max() < 2:
            continue
        pieces = watershed(-distance, markers, mask=mask)
        areas = np.bincount(pieces.ravel())
        areas[0] = 0
        keep = int(areas.argmax())
        window = out[box]
        for piece in range(1, len(areas)):
            if piece == keep or areas[piece] < max(min_size, 1):
                continue
            window[pieces == piece] = next_label
            next_label += 1
    return out


@follows_input
def probabilities_to_instances(
    probabilities: np.ndarray,
    threshold: float = 0.5,
    *,
    min_size: int = 0,
    fill: bool = False,
    split: bool = False,
    h: float = 2.0,
) -> np.ndarray:
    """Instance labels from a foreground probability map, with optional post-processing.

    Thresholds (``> threshold``), labels 8-connected components, then applies in order
    [`fill_holes`][histomammo.postprocess.glas.fill_holes] (``fill``),
    [`split_weak_connections`][histomammo.postprocess.glas.split_weak_connections] (``split``,
    with ``h``) and [`remove_small_objects`][histomammo.postprocess.glas.remove_small_objects]
    (``min_size``). With all off this is the seed's own conversion (binarise, no
    post-processing).

    Parameters
    ----------
    probabilities : ndarray or Tensor, shape (H, W)
        Foreground probabilities (a tensor may live on any device but ``meta``).
    threshold : float
        Pixels above it are foreground.
    min_size, fill, split, h
        The optional steps, as above.

    Returns
    -------
    ndarray or Tensor of int32, shape (H, W)
        Instance labels ``1..n`` (0 background); a tensor on the input's device for a tensor.

    Examples
    --------
    >>> import torch
    >>> prob = torch.zeros(6, 6); prob[1:3, 1:3] = 0.9; prob[4:, 4:] = 0.8
    >>> probabilities_to_instances(prob).unique().tolist()
    [0, 1, 2]
    """
    prob = np.asarray(probabilities)
    if prob.ndim != 2:
        raise ValueError(f"probabilities must be a 2-D map, got shape {prob.shape}")
    if not np.isfinite(prob).all():
        raise ValueError("probabilities contain NaN or infinite values")
    labels = ndimage.label(prob > threshold, _EIGHT)[0].astype(np.int32)
    if fill:
        labels = fill_holes(labels)
    if split:
        labels = split_weak_connections(labels, h=h)
    if min_size:
        labels = remove_small_objects(labels, min_size)
    return labels

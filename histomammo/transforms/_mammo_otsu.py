"""Otsu's threshold on the full integer histogram (thesis section 5.1.1), and OpenCV's 8-bit variant."""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["otsu_threshold"]

# Beyond this many grey levels a bincount histogram would cost more memory than the image.
_MAX_INTEGER_BINS = 1 << 24


def otsu_threshold(
    image: np.ndarray,
    bins: int | None = None,
    *,
    method: Literal["exact", "opencv8"] = "exact",
) -> float:
    """Otsu's threshold: foreground is ``image > threshold``.

    Otsu's method maximises the between-class variance ``w0 * w1 * (mu1 - mu0) ** 2`` over
    all thresholds of the grey-level histogram, computed with running sums in O(n + b) for
    n pixels and b grey levels (thesis section 5.1.1).

    Parameters
    ----------
    image : numpy.ndarray
        Any shape, integer or float dtype. NaN is refused.
    bins : int, optional
        Histogram bins. By default an integer image gets one bin per grey level between its
        minimum and maximum (4096 bins for full-range 12-bit data, not an 8-bit copy), and a
        float image 256 equal bins between its extremes, as `skimage.filters.threshold_otsu`
        does; the result then equals scikit-image's on the same data. Given explicitly,
        ``bins`` equal-width bins between the extremes are used for any dtype (scikit-image
        ignores ``nbins`` for integer images).
    method : {"exact", "opencv8"}
        ``"opencv8"`` reproduces the thesis's OpenCV pipeline: the image is min-max scaled to
        an 8-bit copy (rounded, like ``cv2.normalize(..., NORM_MINMAX, CV_8U)``) and Otsu runs
        on its 256 levels, so up to 4096 / 256 = 16 stored grey levels fall in one bin. The
        threshold is returned in the image's own units (``image > t`` selects the pixels whose
        8-bit value is above OpenCV's threshold, up to values exactly half a level off).

    Returns
    -------
    float
        The threshold, in the image's units. A constant image returns its value.

    Raises
    ------
    ValueError
        An empty image, NaN values, bad ``bins`` or ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[10, 11, 12], [200, 201, 202]], dtype=np.uint16)
    >>> otsu_threshold(image)
    12.0
    >>> bool(otsu_threshold(image, method="opencv8") < 200)
    True
    """
    values = np.asarray(image).reshape(-1)
    if values.size == 0:
        raise ValueError("otsu_threshold needs a non-empty image, got size 0")
    if values.dtype.kind not in "uifb":
        raise ValueError(f"otsu_threshold needs a numeric image, got dtype {values.dtype}")
    if bins is not None and (int(bins) != bins or bins < 2):
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise ValueError("otsu_threshold got an image with NaN values")
    if method == "opencv8":
        return _otsu_opencv8(values)
    if method != "exact":
        raise ValueError(f"method must be 'exact' or 'opencv8', got {method!r}")
    counts, centers = _histogram(values, bins)
    if counts.size < 2 or np.count_nonzero(counts) < 2:
        return float(values[0]) if counts.size < 2 else float(centers[np.argmax(counts)])
    return float(centers[_otsu_index(counts, centers)])


def _histogram(values: np.ndarray, bins: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin centres; one bin per level for integers (bincount, O(n + b))."""
    if values.dtype.kind in "ub" and bins is None:
        values = values.astype(np.uint8, copy=False) if values.dtype.kind == "b" else values
        low, high = int(values.min()), int(values.max())
        if high < _MAX_INTEGER_BINS:
            counts = np.bincount(values, minlength=high + 1)[low:]
            return counts, np.arange(low, high + 1, dtype=np.float64)
    if values.dtype.kind == "i" and bins is None:
        low, high = int(values.min()), int(values.max())
        if high - low < _MAX_INTEGER_BINS:
            counts = np.bincount((values - low).astype(np.intp, copy=False))
            return counts, np.arange(low, high + 1, dtype=np.float64)
    lowest, highest = float(values.min()), float(values.max())
    if lowest == highest:
        return np.array([values.size]), np.array([lowest])
    counts, edges = np.histogram(values, bins=256 if bins is None else int(bins),
                                 range=(lowest, highest))
    return counts, (edges[:-1] + edges[1:]) / 2


def _otsu_index(counts: np.ndarray, centers: np.ndarray) -> int:
    """Index of the last bin of the background class (scikit-image's arithmetic, tie order)."""
    counts = counts.astype(np.float64)
    weight0 = np.cumsum(counts)
    weight1 = np.cumsum(counts[::-1])[::-1]
    mass = counts * centers
    mean0 = np.cumsum(mass) / weight0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean1 = (np.cumsum(mass[::-1]) / weight1[::-1])[::-1]
    between = weight0[:-1] * weight1[1:] * (mean0[:-1] - mean1[1:]) ** 2
    return int(np.nanargmax(between))


def _otsu_opencv8(values: np.ndarray) -> float:
    low, high = float(values.min()), float(values.max())
    if low == high:
        return low
    scale = 255.0 / (high - low)
    eight_bit = np.rint((values - low) * scale).astype(np.uint8)
    counts = np.bincount(eight_bit, minlength=256)
    level = _opencv_otsu_level(counts)
    return low + (level + 0.5) / scale


def _opencv_otsu_level(counts: np.ndarray) -> int:
    """OpenCV's ``getThreshVal_Otsu_8u``: the first level of maximal between-class variance."""
    p = counts / counts.sum()
    levels = np.arange(256, dtype=np.float64)
    q0 = np.cumsum(p)
    mu_total = float((p * levels).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        mu0 = np.cumsum(p * levels) / q0
        mu1 = (mu_total - q0 * mu0) / (1.0 - q0)
        sigma = q0 * (1.0 - q0) * (mu0 - mu1) ** 2
    eps = np.finfo(np.float32).eps  # OpenCV skips levels with a (nearly) empty class
    valid = (np.minimum(q0, 1 - q0) >= eps) & (np.maximum(q0, 1 - q0) <= 1 - eps)
    sigma = np.where(valid, sigma, -np.inf)
    return int(np.argmax(sigma)) if np.isfinite(sigma.max()) else 0

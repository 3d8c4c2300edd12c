"""The thesis's two preprocessing pipelines (section 5.1) and intensity normalisation (6.5)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from histomammo.transforms._mammo_crop import (
    _check_image,
    breast_mask,
    orient_left,
    otsu_crop,
    remove_markers,
)
from histomammo.transforms._mammo_resize import area_resize, downscale_area

__all__ = ["normalize_intensity", "preprocess_crop", "preprocess_naive"]


def preprocess_naive(
    image: np.ndarray,
    *,
    laterality: str | None = None,
    factor: int = 8,
    out_shape: tuple[int, int] = (512, 416),
    fit: Literal["pad", "resize"] = "pad",
    marker_method: Literal["saturated", "outside_breast"] | None = "saturated",
) -> np.ndarray:
    """The thesis's naive pipeline: remove markers, area-downscale by 8, breast to the left.

    Images of 4096x3328 and 3328x2560 pixels (rows x columns) become 512x416 and 416x320
    (section 5.1); the networks take 512x416, which the thesis does not say how it reached
    for the smaller images. Here ``fit="pad"`` (default) pads them at the bottom and right
    (away from the chest wall) with the background value, keeping the pixel scale;
    ``fit="resize"`` area-resizes them to ``out_shape`` instead (stretching the anatomy).
    An image larger than ``out_shape`` after downscaling is area-resized to fit inside it,
    aspect ratio kept, before padding.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, dense tissue bright, any integer or float dtype.
    laterality : {"L", "R"}, optional
        From the DICOM header; inferred from the tissue when None
        ([`orient_left`][histomammo.transforms.mammo.orient_left]).
    factor : int
        Downscaling factor (8 in the thesis).
    out_shape : (int, int)
        Network input ``(rows, columns)``.
    fit : {"pad", "resize"}
        How a downscaled image smaller than ``out_shape`` is brought to it.
    marker_method : {"saturated", "outside_breast"} or None
        [`remove_markers`][histomammo.transforms.mammo.remove_markers] method; the thesis used
        ``"saturated"``. None keeps the
        markers (for ablations that show what the removal takes away).

    Returns
    -------
    numpy.ndarray
        ``out_shape``, the input's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((3328, 2560), np.uint16); image[500:2800, 1200:] = 2000
    >>> image[40:120, 80:400] = 4095   # a burned-in marker block, the brightest value
    >>> out = preprocess_naive(image)
    >>> out.shape, int(out[200, 10]), int(out.max())  # padded; breast to the left; no marker
    ((512, 416), 2000, 2000)
    """
    image = _check_image(image, "preprocess_naive")
    if fit not in ("pad", "resize"):
        raise ValueError(f"fit must be 'pad' or 'resize', got {fit!r}")
    rows, cols = (int(v) for v in out_shape)
    cleaned = image if marker_method is None else remove_markers(image, method=marker_method)
    small = downscale_area(cleaned, factor)
    small, _ = orient_left(small, laterality)
    if fit == "resize":
        return area_resize(small, (rows, cols)) if small.shape != (rows, cols) else small
    if small.shape[0] > rows or small.shape[1] > cols:
        scale = min(rows / small.shape[0], cols / small.shape[1])
        small = area_resize(small, (max(1, int(small.shape[0] * scale)), max(1, int(small.shape[1] * scale))))
    padded = np.full((rows, cols), small.min(), dtype=small.dtype)
    padded[: small.shape[0], : small.shape[1]] = small
    return padded


def preprocess_crop(
    image: np.ndarray,
    *,
    out_size: tuple[int, int] = (224, 224),
    marker_method: Literal["saturated", "outside_breast"] | None = "saturated",
    blur_sigma: float = 1.0,
) -> np.ndarray:
    """The thesis's cropping pipeline: remove markers, then
    [`otsu_crop`][histomammo.transforms.mammo.otsu_crop] to 224x224.

    ``marker_method`` is as for [`preprocess_naive`][histomammo.transforms.mammo.preprocess_naive]
    (None keeps the markers; a marker
    outside the breast's bounding box is cropped away all the same).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((400, 320), np.uint16); image[50:350, :200] = 2500
    >>> preprocess_crop(image).shape
    (224, 224)
    """
    image = _check_image(image, "preprocess_crop")
    cleaned = image if marker_method is None else remove_markers(image, method=marker_method)
    return otsu_crop(cleaned, out_size=out_size, blur_sigma=blur_sigma).image


def normalize_intensity(
    image: np.ndarray,
    method: Literal["percentile", "histogram"] = "percentile",
    *,
    reference: np.ndarray | None = None,
    percentiles: tuple[float, float] = (1.0, 99.0),
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Bring mammograms from different sources to comparable contrast, float32 in [0, 1].

    The thesis found its networks useless on INbreast because the contrast differs wildly
    from the screening archive (section 6.5, figure 6.3) and left the fix to future work;
    these are two standard fixes. ``"percentile"`` windows the breast region: its
    ``percentiles`` map to 0 and 1, values outside are clipped, the background becomes 0.
    ``"histogram"`` maps the breast's grey-level distribution onto that of ``reference``
    (`skimage.exposure.match_histograms`), then scales by the reference's range.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)``, dense tissue bright, any integer or float dtype.
    method : {"percentile", "histogram"}
        See above.
    reference : numpy.ndarray, optional
        ``"histogram"`` only (required): a reference image, whose breast pixels are the
        target distribution, or a 1-D array of reference intensities.
    percentiles : (float, float)
        ``"percentile"`` only: the low and high percentiles of the breast's intensities.
    mask : numpy.ndarray of bool, optional
        The breast region; [`breast_mask`][histomammo.transforms.mammo.breast_mask] when None (the
        whole image if that finds none).

    Returns
    -------
    numpy.ndarray
        float32, same shape, in [0, 1], background 0.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((32, 32), np.uint16); image[4:28, :20] = np.arange(20) * 100 + 500
    >>> out = normalize_intensity(image)
    >>> out.dtype, float(out.min()), float(out.max())
    (dtype('float32'), 0.0, 1.0)
    """
    image = _check_image(image, "normalize_intensity")
    region = _region(image, mask)
    values = image[region].astype(np.float64)
    out = np.zeros(image.shape, np.float32)
    if values.size == 0:
        return out
    if method == "percentile":
        low, high = np.percentile(values, percentiles)
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    elif method == "histogram":
        scaled = _matched(values, reference)
    else:
        raise ValueError(f"method must be 'percentile' or 'histogram', got {method!r}")
    out[region] = np.clip(scaled, 0.0, 1.0)
    return out


def _region(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is None:
        mask = breast_mask(image)
        return np.ones(image.shape, bool) if mask is None else mask
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != image.shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image shape {image.shape}")
    return mask


def _matched(values: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    from skimage.exposure import match_histograms

    if reference is None:
        raise ValueError("method='histogram' needs a reference image or reference intensities")
    reference = np.asarray(reference)
    if reference.ndim == 2:
        reference = reference[_region(reference, None)]
    target = reference.reshape(-1).astype(np.float64)
    if target.size == 0:
        raise ValueError("the reference holds no intensities")
    low, high = float(target.min()), float(target.max())
    matched = match_histograms(values, target)
    return (matched - low) / (high - low) if high > low else np.zeros_like(matched)

"""Tissue masks of H&E slides: PCam's saturation rule and Otsu's threshold.

Both are computed on a low-resolution level of a slide (the whole level fits in memory)
and kept with that level's downsample in a [`TissueMask`][histomammo.transforms.tissue.TissueMask],
which answers "how much of
this level-0 box is tissue" for any box, at any level, in constant time.

References
----------
Veeling et al., "Rotation Equivariant CNNs for Digital Pathology", MICCAI 2018: "slides are
converted to HSV, blurred, and patches filtered out if maximum pixel saturation lies below
0.07". Lu et al., "Data-efficient and weakly supervised computational pathology on
whole-slide images" (CLAM), 2021: Otsu's threshold on the blurred saturation channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from skimage.color import rgb2hsv

from histomammo.transforms._mammo_otsu import otsu_threshold
from histomammo.transforms._slide import Slide

__all__ = ["TissueMask", "otsu_tissue_mask", "saturation_mask", "tissue_mask"]


def _blurred_saturation(rgb: np.ndarray, blur_sigma: float) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")
    saturation = rgb2hsv(rgb)[..., 1]
    return ndimage.gaussian_filter(saturation, blur_sigma) if blur_sigma > 0 else saturation


def saturation_mask(
    rgb: np.ndarray, threshold: float = 0.07, blur_sigma: float = 1.0
) -> np.ndarray:
    """Tissue where the blurred HSV saturation reaches ``threshold`` (PCam's background rule).

    Parameters
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` RGB, uint8 or float in [0, 1].
    threshold : float
        PCam's 0.07: a patch whose maximum saturation lies below it is background, i.e.
        a patch is kept when it holds at least one tissue pixel of this mask.
    blur_sigma : float
        Gaussian blur (pixels of ``rgb``) of the saturation before thresholding.

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` bool, True on tissue.

    Notes
    -----
    The PCam creators blurred the HSV image; here the saturation channel is blurred, the
    only channel the rule reads, which is the same up to the blur of the hue-value mix.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.full((4, 4, 3), 240, np.uint8); rgb[1:3, 1:3] = (200, 100, 180)
    >>> saturation_mask(rgb, blur_sigma=0).astype(int)
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    return _blurred_saturation(rgb, blur_sigma) >= threshold


def otsu_tissue_mask(rgb: np.ndarray, blur_sigma: float = 1.0) -> np.ndarray:
    """Tissue where the blurred saturation exceeds Otsu's threshold of the image.

    Adapts to the slide (faint or strong staining) where
    [`saturation_mask`][histomammo.transforms.tissue.saturation_mask] uses a
    fixed level. An image of one saturation value has no threshold: all background. The
    threshold is the library's one Otsu,
    [`otsu_threshold`][histomammo.transforms.mammo.otsu_threshold] (256 bins between the
    extremes for float data, as scikit-image's ``threshold_otsu``, which it equals there).

    Parameters
    ----------
    rgb : numpy.ndarray
        ``(H, W, 3)`` RGB, uint8 or float in [0, 1].
    blur_sigma : float
        Gaussian blur of the saturation (pixels of ``rgb``).

    Returns
    -------
    numpy.ndarray
        ``(H, W)`` bool, True on tissue.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.full((4, 4, 3), 240, np.uint8); rgb[:, 2:] = (200, 100, 180)
    >>> otsu_tissue_mask(rgb, blur_sigma=0).sum(axis=0)
    array([0, 0, 4, 4])
    """
    saturation = _blurred_saturation(rgb, blur_sigma)
    if saturation.max() - saturation.min() < 1e-6:
        return np.zeros(saturation.shape, dtype=bool)
    return saturation > otsu_threshold(saturation)


@dataclass(frozen=True)
class TissueMask:
    """A tissue mask of one pyramid level and its scale: level-0 pixels per mask pixel.

    Attributes
    ----------
    mask : numpy.ndarray
        ``(h, w)`` bool, True on tissue.
    downsample : float
        Level-0 pixels per mask pixel (a slide level's ``downsample``).
    """

    mask: np.ndarray
    downsample: float
    _summed: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        summed = np.zeros((self.mask.shape[0] + 1, self.mask.shape[1] + 1), dtype=np.int64)
        summed[1:, 1:] = np.cumsum(np.cumsum(self.mask, axis=0), axis=1)
        object.__setattr__(self, "_summed", summed)

    def fraction(self, top: npt.ArrayLike, left: npt.ArrayLike, height: float, width: float) -> np.ndarray:
        """Tissue share of the level-0 box(es) ``top:top+height, left:left+width``.

        ``top`` and ``left`` may be arrays (one box each); the box is mapped to the mask
        pixels it overlaps (at least one), outside the mask counting as background.
        """
        scale = self.downsample
        top, left = np.asarray(top, dtype=np.float64), np.asarray(left, dtype=np.float64)
        y0, x0 = np.floor(top / scale).astype(np.int64), np.floor(left / scale).astype(np.int64)
        y1 = np.ceil((top + height) / scale).astype(np.int64)
        x1 = np.ceil((left + width) / scale).astype(np.int64)
        area = np.maximum((y1 - y0) * (x1 - x0), 1)  # mask pixels the box overlaps
        h, w = self.mask.shape
        y0, y1, x0, x1 = np.clip(y0, 0, h), np.clip(y1, 0, h), np.clip(x0, 0, w), np.clip(x1, 0, w)
        s = self._summed
        inside = s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]
        return inside / area


def tissue_mask(
    image: Slide,
    method: Literal["saturation", "otsu"] = "saturation",
    *,
    level: int = -1,
    **options: float,
) -> TissueMask:
    """Compute a tissue mask of a slide on one of its (low-resolution) levels.

    Parameters
    ----------
    image : histomammo.io.TiffImage
        The slide (anything with ``levels`` and ``read_region`` as ``TiffImage`` has).
    method : {"saturation", "otsu"}
        [`saturation_mask`][histomammo.transforms.tissue.saturation_mask] or
        [`otsu_tissue_mask`][histomammo.transforms.tissue.otsu_tissue_mask].
    level : int
        Level read whole; the smallest (``-1``) by default.
    **options
        Passed to the mask function (``threshold``, ``blur_sigma``).

    Returns
    -------
    TissueMask
        The mask and the level's downsample, so boxes are given in level-0 pixels.
    """
    functions: dict[str, Callable[..., np.ndarray]] = {"saturation": saturation_mask,
                                                       "otsu": otsu_tissue_mask}
    if method not in functions:
        raise ValueError(f"unknown tissue mask method {method!r}; expected one of {list(functions)}")
    chosen = image.levels[level]
    rgb = image.read_region(0, 0, chosen.shape[0], chosen.shape[1], level=chosen.index)
    return TissueMask(functions[method](rgb, **options), float(chosen.downsample))

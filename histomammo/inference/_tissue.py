"""The ``tissue=`` argument of every entry point: Otsu on a thumbnail, none, or the caller's mask."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from skimage.filters import threshold_otsu

from histomammo.errors import DataFormatError
from histomammo.inference._source import SlideSource
from histomammo.transforms.tissue import TissueMask, otsu_tissue_mask

__all__ = ["resolve_tissue"]

_THUMBNAIL_SIDE = 2048  # the longest side a thumbnail is averaged down to


def _block_mean(read: Any, shape: tuple[int, int], factor: int) -> np.ndarray:
    """``factor x factor`` means over a level read 64 output rows/columns at a time."""
    out_h, out_w = -(-shape[0] // factor), -(-shape[1] // factor)
    step = 64 * factor
    rows = []
    for top in range(0, shape[0], step):
        band = []
        for left in range(0, shape[1], step):
            h, w = min(step, shape[0] - top), min(step, shape[1] - left)
            pixels = read(top, left, h, w).astype(np.float32)
            ph, pw = -(-h // factor) * factor, -(-w // factor) * factor
            pixels = np.pad(pixels, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
            band.append(pixels.reshape(ph // factor, factor, pw // factor, factor, -1)
                        .mean(axis=(1, 3)))
        rows.append(np.concatenate(band, axis=1))
    return np.concatenate(rows, axis=0)[:out_h, :out_w]


def _thumbnail(source: SlideSource) -> tuple[np.ndarray, float]:
    """A small ``(h, w, C)`` float image of the whole slide, and its level-0 downsample."""
    slide = source.slide
    if source.is_array:
        factor = max(1, -(-max(slide.shape[:2]) // _THUMBNAIL_SIDE))
        thumb = np.asarray(slide[::factor, ::factor], dtype=np.float32)
        return (thumb[..., None] if thumb.ndim == 2 else thumb), float(factor)
    smallest = slide.levels[-1]
    factor = max(1, -(-max(smallest.shape[:2]) // _THUMBNAIL_SIDE))

    def read(top: int, left: int, h: int, w: int) -> np.ndarray:
        pixels = slide.read_region(top, left, h, w, smallest.index)
        return pixels[..., None] if pixels.ndim == 2 else pixels

    return _block_mean(read, smallest.shape[:2], factor), float(smallest.downsample) * factor


def _otsu(thumb: np.ndarray) -> np.ndarray:
    """Tissue of a thumbnail: Otsu on saturation (RGB), else the Otsu class unlike the border."""
    if thumb.shape[2] == 3:
        scale = 255.0 if thumb.max() > 1.0 else 1.0
        return otsu_tissue_mask(thumb / scale)
    gray = thumb.mean(axis=2)
    if gray.max() - gray.min() < 1e-6:
        return np.zeros(gray.shape, dtype=bool)
    above = gray > threshold_otsu(gray)
    border = np.concatenate([above[0], above[-1], above[:, 0], above[:, -1]])
    return ~above if border.mean() > 0.5 else above


# What every entry point takes as ``tissue``: Otsu's mask, none (every tile), or a mask.
TissueLike = Literal["otsu"] | np.ndarray | TissueMask | None


def resolve_tissue(source: SlideSource, tissue: TissueLike) -> TissueMask | None:
    """The ``tissue`` argument as a mask in level-0 coordinates (None: every tile kept).

    Parameters
    ----------
    source : SlideSource
        The slide.
    tissue : {"otsu", None}, numpy.ndarray or TissueMask
        ``"otsu"``: Otsu's threshold on the blurred saturation of a thumbnail (at most 2048
        pixels a side, averaged from the smallest level), or for one-channel images the Otsu
        class that does not fill the image border. A boolean array at any scale with the
        slide's aspect ratio (its downsample is level-0 height over mask height).
    """
    if tissue is None or isinstance(tissue, TissueMask):
        return tissue
    if isinstance(tissue, str):
        if tissue != "otsu":
            raise ValueError(f"tissue must be 'otsu', None or a boolean mask, got {tissue!r}")
        thumb, downsample = _thumbnail(source)
        return TissueMask(_otsu(thumb), downsample)
    mask = np.asarray(tissue)
    if mask.ndim != 2 or mask.dtype.kind not in "bui":
        raise DataFormatError(f"tissue mask for {source.name}: expected a 2-D boolean array, got "
                              f"shape {mask.shape} of {mask.dtype}")
    height, width = source.level_shapes()[0]
    downsample = height / mask.shape[0]
    if abs(width / downsample - mask.shape[1]) > 1.0:
        raise DataFormatError(
            f"tissue mask of shape {mask.shape} does not have the aspect ratio of {source.name} "
            f"(level 0 is {(height, width)}); expected about "
            f"{(mask.shape[0], round(width / downsample))}")
    return TissueMask(mask.astype(bool), float(downsample))

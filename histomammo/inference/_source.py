"""The pixels a whole-slide prediction reads: one level of a TIFF pyramid, a resampled level, or an array.

``SlideSource`` hides where pixels come from. A [`TiffImage`][histomammo.io.TiffImage] is read
one region at a time (only the TIFF tiles a region needs are decoded, and recently decoded
blocks are kept, see ``BlockCache``); a 2-D or 3-D numpy array is sliced. The *working
grid* is the pixel grid the model sees: a pyramid level, or (``mpp=`` between levels) a level
averaged down by adaptive average pooling. Every coordinate in this package is ``(row, column)``; level-0
coordinates are working coordinates times `SlideSource.downsample`.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import tifffile
import torch

from histomammo.errors import DataFormatError
from histomammo.transforms._slide import Slide

__all__ = ["MPP_TOLERANCE", "SlideSource", "slide_mpp"]

logger = logging.getLogger("histomammo.inference")

#: Relative tolerance of ``mpp=``: a level whose microns per pixel lie within 10% of the request is
#: used as it is (scanners round: a "0.25 um/px" 40x scan is often 0.2425 or 0.2527).
MPP_TOLERANCE = 0.1

_UNITS_PER_MICRON = {2: 1 / 25400, 3: 1e-4, 4: 1e-3, 5: 1.0}  # TIFF ResolutionUnit: inch, cm, mm, um


def slide_mpp(image: Any) -> float | None:
    """Microns per pixel of level 0 of a TIFF, from an SVS description or the resolution tags.

    Returns None when the file states none (no ``MPP =`` in the Aperio description and no
    ``XResolution`` with a ResolutionUnit of inch, centimetre, millimetre or micrometre).
    """
    with tifffile.TiffFile(image.path) as tif:
        page = tif.series[image.series].levels[0].pages[0]
        found = re.search(r"MPP\s*=\s*([0-9.eE+-]+)", page.description or "")
        if found:
            return float(found.group(1))
        unit = page.tags.valueof(296, default=None)
        numerator, denominator = page.tags.valueof(282, default=(0, 1))
    if unit not in _UNITS_PER_MICRON or not numerator or not denominator:
        return None
    pixels_per_unit = numerator / denominator
    return 1.0 / (pixels_per_unit * _UNITS_PER_MICRON[unit])


# What every entry point takes as ``slide``: a pyramid reader (TiffImage, or any object with
# its ``levels``, ``dtype`` and ``read_region``) or one image as a 2-D / 3-D array.
SlideLike = Slide | np.ndarray | torch.Tensor


def _slide_name(slide: Any) -> str:
    path = getattr(slide, "path", None)
    if path is not None:
        return str(path)
    return f"array of shape {tuple(np.shape(slide))}"


class BlockCache:
    """Aligned ``block x block`` regions of one level, least recently used ones dropped.

    Reading a grid of overlapping patches through it decodes each TIFF tile about once.
    """

    def __init__(self, image: Any, level: int, block: int, capacity: int) -> None:
        self.image, self.level, self.block, self.capacity = image, level, block, capacity
        self._blocks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_blocks": OrderedDict()}  # blocks stay in their process

    def _get(self, row: int, col: int) -> np.ndarray:
        key = (row, col)
        if key in self._blocks:
            self._blocks.move_to_end(key)
            return self._blocks[key]
        pixels = self.image.read_region(row * self.block, col * self.block, self.block,
                                        self.block, self.level, bounds="pad")
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        self._blocks[key] = pixels
        if len(self._blocks) > self.capacity:
            self._blocks.popitem(last=False)
        return pixels

    def read(self, top: int, left: int, height: int, width: int) -> np.ndarray:
        """``(height, width, C)`` pixels of the level, which the region must lie inside."""
        size = self.block
        out = None
        for row in range(top // size, (top + height - 1) // size + 1):
            for col in range(left // size, (left + width - 1) // size + 1):
                block = self._get(row, col)
                if out is None:
                    out = np.empty((height, width, block.shape[2]), dtype=block.dtype)
                y0, x0 = max(top, row * size), max(left, col * size)
                y1 = min(top + height, (row + 1) * size)
                x1 = min(left + width, (col + 1) * size)
                out[y0 - top : y1 - top, x0 - left : x1 - left] = \
                    block[y0 - row * size : y1 - row * size, x0 - col * size : x1 - col * size]
        if out is None:  # height or width 0: callers never ask, a tile is at least 1 x 1
            raise ValueError(f"empty region {height} x {width} at ({top}, {left})")
        return out


@dataclass
class SlideSource:
    """The working grid of one slide and how to read it.

    Attributes
    ----------
    slide : TiffImage or numpy.ndarray
        What was given.
    name : str
        The file (or the array's shape), for messages.
    level : int
        Pyramid level read (0 for an array).
    shape : tuple of int
        ``(H, W)`` of the working grid.
    channels : int
        Samples per pixel.
    dtype : numpy.dtype
        The slide's sample type.
    downsample : float
        Level-0 pixels per working pixel.
    scale : float
        Level pixels per working pixel (1.0 unless resampled for ``mpp=``).
    """

    slide: Any
    name: str
    level: int
    shape: tuple[int, int]
    channels: int
    dtype: np.dtype
    downsample: float
    scale: float = 1.0
    cache: BlockCache | None = None

    @property
    def is_array(self) -> bool:
        return isinstance(self.slide, np.ndarray)

    def level_shapes(self) -> list[tuple[int, int]]:
        """``(H, W)`` of every level of the slide (one for an array)."""
        if self.is_array:
            return [self.slide.shape[:2]]
        return [tuple(lv.shape[:2]) for lv in self.slide.levels]

    def level_downsamples(self) -> list[float]:
        if self.is_array:
            return [1.0]
        return [float(lv.downsample) for lv in self.slide.levels]

    def use_cache(self, columns: int, block: int = 512) -> None:
        """Read TIFF regions through a block cache sized for a stripe ``columns`` pixels wide."""
        if not self.is_array:
            capacity = 2 * (-(-int(columns * self.scale) // block) + 2) + 2
            self.cache = BlockCache(self.slide, self.level, block, capacity)

    def _read_level(self, top: int, left: int, height: int, width: int) -> np.ndarray:
        if self.is_array:
            pixels = self.slide[top : top + height, left : left + width]
            return pixels[..., None] if pixels.ndim == 2 else pixels
        if self.cache is not None:
            return self.cache.read(top, left, height, width)
        pixels = self.slide.read_region(top, left, height, width, self.level)
        return pixels[..., None] if pixels.ndim == 2 else pixels

    def read(self, top: int, left: int, height: int, width: int) -> np.ndarray:
        """``(height, width, C)`` pixels of the working grid (inside it), the slide's dtype.

        A resampled grid (``scale`` > 1) reads the level region under the box and averages
        it down with ``torch.nn.functional.adaptive_avg_pool2d`` (each output pixel the mean
        of the level pixels its window overlaps); the result is rounded back to an integer
        dtype.
        """
        if self.scale == 1.0:
            return self._read_level(top, left, height, width)
        y0, x0 = int(np.floor(top * self.scale)), int(np.floor(left * self.scale))
        level_shape = self.level_shapes()[self.level]
        y1 = min(int(np.ceil((top + height) * self.scale)), level_shape[0])
        x1 = min(int(np.ceil((left + width) * self.scale)), level_shape[1])
        region = self._read_level(y0, x0, y1 - y0, x1 - x0)
        tensor = torch.from_numpy(region.astype(np.float32)).permute(2, 0, 1)
        pooled = torch.nn.functional.adaptive_avg_pool2d(tensor, (height, width))
        out = pooled.permute(1, 2, 0).numpy()
        if np.issubdtype(self.dtype, np.integer):
            info = np.iinfo(self.dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        return np.ascontiguousarray(out.astype(self.dtype))


def _array_source(slide: np.ndarray, level: int, mpp: float | None) -> SlideSource:
    name = _slide_name(slide)
    if slide.ndim not in (2, 3) or min(slide.shape[:2]) < 1:
        raise DataFormatError(f"slide: expected a 2-D (H, W) or 3-D (H, W, C) array, got {name}")
    if mpp is not None:
        raise DataFormatError(f"slide ({name}): mpp={mpp} needs a TIFF with a resolution; "
                              "an array has none, pass level=0 (the default)")
    if level not in (0, -1):
        raise IndexError(f"level {level} does not exist: the slide ({name}) is one array, "
                         "level 0 only")
    channels = 1 if slide.ndim == 2 else slide.shape[2]
    return SlideSource(slide, name, 0, tuple(slide.shape[:2]), channels, slide.dtype, 1.0)


def _pick_level(image: Any, mpp: float) -> tuple[int, float]:
    """The level to read and its scale to the working grid, for ``mpp`` microns per pixel."""
    base = slide_mpp(image)
    name = str(image.path)
    if base is None:
        raise DataFormatError(f"{name}: mpp={mpp} was asked but the file states no resolution "
                              "(no 'MPP =' in its description, no XResolution tag); pass level=")
    level_mpps = [base * lv.downsample for lv in image.levels]
    errors = [abs(m - mpp) / mpp for m in level_mpps]
    best = int(np.argmin(errors))
    if errors[best] <= MPP_TOLERANCE:
        return best, 1.0
    finer = [i for i, m in enumerate(level_mpps) if m < mpp]
    if not finer:
        raise DataFormatError(
            f"{name}: mpp={mpp} is finer than every level ({', '.join(f'{m:.4g}' for m in level_mpps)}"
            f" um/px) by more than {MPP_TOLERANCE:.0%}; upsampling would invent detail")
    chosen = finer[-1]  # the coarsest level still finer than asked
    logger.info("%s: no level within %.0f%% of %.4g um/px; resampling level %d (%.4g um/px)",
                name, 100 * MPP_TOLERANCE, mpp, chosen, level_mpps[chosen])
    return chosen, mpp / level_mpps[chosen]


def open_source(slide: SlideLike, level: int = 0, mpp: float | None = None) -> SlideSource:
    """The working grid of ``slide`` at ``level`` (or at ``mpp`` microns per pixel)."""
    if isinstance(slide, torch.Tensor):
        slide = slide.detach().cpu().numpy()
    if isinstance(slide, np.ndarray):
        return _array_source(slide, level, mpp)
    if not hasattr(slide, "levels") or not hasattr(slide, "read_region"):
        raise TypeError(f"slide must be a histomammo.io.TiffImage or a numpy array, got "
                        f"{type(slide).__name__}")
    name = _slide_name(slide)
    scale = 1.0
    if mpp is not None:
        level, scale = _pick_level(slide, float(mpp))
    count = len(slide.levels)
    if not -count <= level < count:
        raise IndexError(f"level {level} does not exist: {name} has {count} level(s), "
                         f"0..{count - 1}")
    chosen = slide.levels[level]
    height, width = chosen.shape[:2]
    shape = (int(height // scale), int(width // scale)) if scale != 1.0 else (height, width)
    channels = 1 if len(chosen.shape) == 2 else chosen.shape[2]
    return SlideSource(slide, name, chosen.index, shape, channels, slide.dtype,
                       float(chosen.downsample) * scale, scale)

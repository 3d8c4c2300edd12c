"""Synthetic whole-slide images: tiled, pyramidal H&E TIFFs with a known tumour mask.

[`make_slide`][histomammo.datasets.synthetic.make_slide] writes a slide of any size tile by tile (it
never holds a level in
memory), in the layouts scanners and converters use: a SubIFD pyramid (OME-TIFF style) or
reduced-resolution pages after the full-resolution one, compressed with zlib, JPEG or
JPEG 2000 (the last two need ``imagecodecs``). It returns the tissue and tumour masks it
drew, at a known downsample, so tissue filters and patch labelling can be checked exactly.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tifffile
from scipy import ndimage

from histomammo._atomic import atomic_write
from histomammo._deps import require
from histomammo.datasets.synthetic._pcam_draw import Stain, draw_tissue, stain_to_rgb, tumour_cells

__all__ = ["SyntheticSlide", "make_slide"]

_BACKGROUND, _STROMA, _LYMPHOID, _TUMOUR = range(4)
_BANK = 3  # distinct tiles drawn per tissue class


@dataclass(frozen=True)
class SyntheticSlide:
    """What [`make_slide`][histomammo.datasets.synthetic.make_slide] drew.

    Attributes
    ----------
    path : pathlib.Path
        The TIFF.
    shape : tuple of int
        ``(H, W)`` of level 0.
    tissue, tumour : numpy.ndarray
        ``(ceil(H / downsample), ceil(W / downsample))`` bool masks; tumour lies in tissue.
    downsample : int
        Level-0 pixels per mask pixel.
    """

    path: Path
    shape: tuple[int, int]
    tissue: np.ndarray
    tumour: np.ndarray
    downsample: int


def _layout(shape: tuple[int, int], downsample: int, rng: np.random.Generator) -> np.ndarray:
    """Class per mask pixel: an irregular tissue section, a tumour region, stroma/lymphoid."""
    h, w = -(-shape[0] // downsample), -(-shape[1] // downsample)
    yy, xx = np.mgrid[:h, :w]
    ellipse = ((yy - h / 2) / (0.42 * h)) ** 2 + ((xx - w / 2) / (0.42 * w)) ** 2
    noise = ndimage.gaussian_filter(rng.standard_normal((h, w)), max(h, w) / 12)
    tissue = (1 - ellipse) + 3 * noise / (noise.std() + 1e-9) * 0.15 > 0.25
    kind = np.where(ndimage.gaussian_filter(rng.standard_normal((h, w)), 3) > 0, _STROMA,
                    _LYMPHOID)
    centre = np.argwhere(tissue)[rng.integers(tissue.sum())] if tissue.any() else (0, 0)
    blob = np.hypot(yy - centre[0], xx - centre[1]) < 0.12 * max(h, w) * (1 + 0.3 * noise)
    return np.where(tissue, np.where(blob, _TUMOUR, kind), _BACKGROUND).astype(np.uint8)


def _tile_bank(tile: int, rng: np.random.Generator) -> dict[int, list[np.ndarray]]:
    stain = Stain.draw(rng)
    bank: dict[int, list[np.ndarray]] = {}
    for label, kind in ((_STROMA, "stroma"), (_LYMPHOID, "lymphoid"), (_TUMOUR, "lymphoid")):
        bank[label] = []
        for _ in range(_BANK):
            h, e = draw_tissue(rng, kind, upright=False, shape=(tile, tile))
            if label == _TUMOUR:
                for _ in range(max(1, tile * tile // 900)):
                    y, x = rng.uniform(0, tile, size=2)
                    tumour_cells(h, e, rng, (int(y), int(y) + 8, int(x), int(x) + 8), False)
            bank[label].append(stain_to_rgb(h, e, stain, rng))
    white = np.float32(stain.white)
    bank[_BACKGROUND] = [
        np.clip(white + rng.normal(0, 1.5, (tile, tile, 3)), 0, 255).astype(np.uint8)
        for _ in range(_BANK)
    ]
    return bank


def _tiles(
    classes: np.ndarray, downsample: int, factor: int, shape: tuple[int, int], tile: int,
    bank: dict[int, list[np.ndarray]],
) -> Iterator[np.ndarray]:
    """Tiles of the level ``factor`` times smaller than level 0, row by row."""
    for ty in range(0, shape[0], tile):
        rows = np.minimum((np.arange(ty, ty + tile) * factor) // downsample, classes.shape[0] - 1)
        for tx in range(0, shape[1], tile):
            cols = np.minimum((np.arange(tx, tx + tile) * factor) // downsample,
                              classes.shape[1] - 1)
            labels = classes[rows][:, cols]
            out = bank[_BACKGROUND][(ty // tile + tx // tile) % _BANK].copy()
            for label in (_STROMA, _LYMPHOID, _TUMOUR):
                here = labels == label
                if here.any():
                    out[here] = bank[label][(ty // tile * 7 + tx // tile * 3) % _BANK][here]
            yield out


def make_slide(
    path: str | os.PathLike[str],
    shape: tuple[int, int] = (4096, 4096),
    *,
    tile: int = 256,
    levels: int = 3,
    compression: Literal["zlib", "jpeg", "jpeg2000", "none"] = "zlib",
    layout: Literal["subifd", "pages"] = "subifd",
    seed: int | np.random.Generator = 0,
    mask_downsample: int = 32,
) -> SyntheticSlide:
    """Write a pyramidal, tiled H&E slide of ``shape`` with a tumour region.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.tif``; written atomically.
    shape : tuple of int
        ``(H, W)`` of level 0.
    tile : int
        Tile size (a multiple of 16).
    levels : int
        Pyramid levels, each half the size of the one before.
    compression : {"zlib", "jpeg", "jpeg2000", "none"}
        Tile compression; JPEG and JPEG 2000 need ``imagecodecs`` (the ``slides`` extra).
    layout : {"subifd", "pages"}
        Reduced levels as SubIFDs of the first page, or as reduced-resolution pages
        (``subfiletype=1``) after it.
    seed : int or numpy.random.Generator
        Source of every random draw.
    mask_downsample : int
        Level-0 pixels per pixel of the returned masks (the slide's tissue layout is drawn
        at that scale).

    Returns
    -------
    SyntheticSlide

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from histomammo.io import TiffImage
    >>> slide = make_slide(pathlib.Path(tempfile.mkdtemp()) / "s.tif", (512, 768), levels=2)
    >>> [lv.shape for lv in TiffImage(slide.path).levels], slide.tumour.shape
    ([(512, 768, 3), (256, 384, 3)], (16, 24))
    """
    if layout not in ("subifd", "pages"):
        raise ValueError(f"layout must be 'subifd' or 'pages', got {layout!r}")
    if compression in ("jpeg", "jpeg2000"):
        require("imagecodecs", extra="slides")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    classes = _layout(shape, mask_downsample, rng)
    bank = _tile_bank(tile, rng)
    path = Path(path)
    options = dict(tile=(tile, tile), photometric="rgb", dtype=np.uint8,
                   compression=None if compression == "none" else compression)
    with atomic_write(path, "wb") as handle:
        # tifffile names its stream after the file; fdopen's is an int
        if isinstance(handle, io.BufferedWriter) and isinstance(handle.raw, io.FileIO):
            handle.raw.name = str(path)
        with tifffile.TiffWriter(handle, bigtiff=True) as tif:
            _write_levels(tif, classes, mask_downsample, shape, tile, levels, layout, bank,
                          options)
    return SyntheticSlide(path, (int(shape[0]), int(shape[1])), classes != _BACKGROUND,
                          classes == _TUMOUR, mask_downsample)


def _write_levels(
    tif: tifffile.TiffWriter, classes: np.ndarray, mask_downsample: int, shape: tuple[int, int],
    tile: int, levels: int, layout: str, bank: dict[int, list[np.ndarray]], options: dict[str, Any],
) -> None:
    """Level 0 then each half-size level, as SubIFDs of the first page or as reduced pages."""
    for level in range(levels):
        factor = 2**level
        size = (-(-shape[0] // factor), -(-shape[1] // factor))
        extra: dict[str, Any] = {"subfiletype": 1} if level else {}
        if level == 0 and layout == "subifd" and levels > 1:
            extra = {"subifds": levels - 1}
        tif.write(_tiles(classes, mask_downsample, factor, size, tile, bank),
                  shape=(*size, 3), **options, **extra)

"""TIFF segment layout for :mod:`histomammo.io.tiff`: open a file, find its pyramid levels,
describe how each is cut into strips or tiles, and refuse what cannot be read.

Private: the public reader is :class:`histomammo.io.tiff.TiffImage`.
"""

from __future__ import annotations

import importlib.util
import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from histomammo.errors import DataFormatError, MissingDependencyError
from histomammo.io._paths import require_file

__all__ = [
    "FORMAT_ERRORS",
    "SegmentGrid",
    "codec_name",
    "open_levels",
    "require_codecs",
]

# What tifffile's parser and decoders (zlib, lzma, imagecodecs) raise on a malformed file;
# caught where the file is opened or a segment decoded and re-raised as DataFormatError.
FORMAT_ERRORS = (
    ValueError,  # includes tifffile.TiffFileError
    RuntimeError,  # imagecodecs' codec errors
    NotImplementedError,
    OSError,
    EOFError,
    KeyError,
    IndexError,
    struct.error,
    zlib.error,
)


@dataclass(frozen=True)
class SegmentGrid:
    """How one level's pixels are cut into strips or tiles, in the TIFF's segment order."""

    height: int
    width: int
    samples: int
    segment_height: int
    segment_width: int
    planar: bool  # PlanarConfiguration 2: each sample has segments of its own
    tiled: bool
    compression: int
    predictor: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.height, self.width) + ((self.samples,) if self.samples > 1 else ())

    @property
    def rows(self) -> int:
        return math.ceil(self.height / self.segment_height)

    @property
    def cols(self) -> int:
        return math.ceil(self.width / self.segment_width)

    def segments_in(
        self, top: int, left: int, bottom: int, right: int
    ) -> Iterator[tuple[int, int, int, int]]:
        """Yield ``(segment index, sample plane, first row, first column)`` per overlap."""
        rows = range(top // self.segment_height, (bottom - 1) // self.segment_height + 1)
        cols = range(left // self.segment_width, (right - 1) // self.segment_width + 1)
        for plane in range(self.samples if self.planar else 1):
            for row in rows:
                for col in cols:
                    index = (plane * self.rows + row) * self.cols + col
                    yield index, plane, row * self.segment_height, col * self.segment_width


def grid_of(page: Any, path: Path, level: int) -> SegmentGrid:
    """Describe one level's segments, refusing what is not a 2-D image."""
    key = page.keyframe
    if key.dtype is None or key.imagedepth != 1:
        raise DataFormatError(
            f"{path}: level {level} has depth {key.imagedepth} and {key.bitspersample}-bit "
            f"samples of SampleFormat {key.sampleformat}; expected a 2-D image of integer "
            "or floating-point samples"
        )
    if key.is_tiled:
        segment = (key.tilelength, key.tilewidth)
    else:
        segment = (min(key.rowsperstrip, key.imagelength), key.imagewidth)
    if min(key.imagelength, key.imagewidth, *segment) < 1:
        raise DataFormatError(
            f"{path}: level {level} is {key.imagelength}x{key.imagewidth} pixels in "
            f"{segment[0]}x{segment[1]} segments; expected positive sizes"
        )
    return SegmentGrid(
        height=key.imagelength,
        width=key.imagewidth,
        samples=key.samplesperpixel,
        segment_height=segment[0],
        segment_width=segment[1],
        planar=key.planarconfig == 2 and key.samplesperpixel > 1,
        tiled=key.is_tiled,
        compression=int(key.compression),
        predictor=int(key.predictor),
    )


def check_segment_table(page: Any, grid: SegmentGrid, path: Path, level: int, size: int) -> None:
    """Refuse a segment table of the wrong length or pointing past the end of the file."""
    offsets = np.asarray(page.dataoffsets, dtype=np.int64)
    counts = np.asarray(page.databytecounts, dtype=np.int64)
    expected = grid.rows * grid.cols * (grid.samples if grid.planar else 1)
    if offsets.size != expected or counts.size != expected:
        raise DataFormatError(
            f"{path}: level {level} lists {offsets.size} segment offsets and {counts.size} "
            f"byte counts; expected {expected} for {grid.shape} pixels in "
            f"{grid.segment_height}x{grid.segment_width} segments"
        )
    stored = counts > 0
    if stored.any():
        end = int((offsets[stored] + counts[stored]).max())
        if offsets[stored].min() < 0 or end > size:
            raise DataFormatError(
                f"{path}: level {level} segment data runs to byte {end} but the file has "
                f"{size} bytes; the file is truncated or its segment table corrupt"
            )


def open_levels(path: Path, series: int) -> tuple[tifffile.TiffFile, list[Any], list[SegmentGrid]]:
    """Open ``path``; return the file, one page per pyramid level and the levels' grids."""
    require_file(path, "a TIFF file")
    tif = None
    try:
        tif = tifffile.TiffFile(path)
        found = len(tif.series)
        if found == 0:
            raise DataFormatError(f"{path}: holds no image; expected a TIFF image")
        if 0 <= series < found:
            pages, grids = _level_pages(tif, path, series)
    except BaseException as err:
        if tif is not None:
            tif.close()
        if isinstance(err, DataFormatError) or not isinstance(err, FORMAT_ERRORS):
            raise
        raise DataFormatError(
            f"{path}: cannot be read as TIFF ({type(err).__name__}: {err}); expected a "
            "complete, readable TIFF file"
        ) from err
    if not 0 <= series < found:
        tif.close()
        raise IndexError(f"series {series} is out of range: {path} has {found} series")
    return tif, pages, grids


def _level_pages(tif: tifffile.TiffFile, path: Path, series: int) -> tuple[list, list]:
    """One page per level of ``series``, and its grid; refuse levels unlike level 0."""
    pages: list[Any] = []
    grids: list[SegmentGrid] = []
    for index, level in enumerate(tif.series[series].levels):
        if len(level.pages) != 1 or level.pages[0] is None:
            raise DataFormatError(
                f"{path}: series {series} level {index} holds {len(level.pages)} pages "
                f"(axes {level.axes!r}, shape {level.shape}); expected one 2-D image "
                "(YX or YXS) per level"
            )
        pages.append(level.pages[0])
        grids.append(grid_of(pages[-1], path, index))
        check_segment_table(pages[-1], grids[-1], path, index, tif.filehandle.size)
        if (grids[-1].samples, pages[-1].dtype) != (grids[0].samples, pages[0].dtype):
            raise DataFormatError(
                f"{path}: level {index} has {grids[-1].samples} samples of {pages[-1].dtype}; "
                f"expected {grids[0].samples} of {pages[0].dtype} as in level 0"
            )
    return pages, grids


def codec_name(names: Any, value: int) -> str:
    """The tifffile enum name of ``value`` (e.g. ``ADOBE_DEFLATE``), else the number."""
    try:
        return names(value).name
    except ValueError:
        return str(value)


def require_codecs(grid: SegmentGrid, path: Path, level: int) -> None:
    """Raise MissingDependencyError or DataFormatError when tifffile cannot decode ``grid``."""
    checks = (
        (tifffile.TIFF.DECOMPRESSORS, grid.compression, "compression", tifffile.COMPRESSION),
        (tifffile.TIFF.UNPREDICTORS, grid.predictor, "predictor", tifffile.PREDICTOR),
    )
    for codecs, value, what, names in checks:
        if value == 1 or value in codecs:  # 1: none; `in` also loads and caches the codec
            continue
        reason = "unsupported"
        try:
            codecs[value]
        except KeyError as err:  # tifffile says why: unknown, or needs imagecodecs
            reason = str(err.args[0]) if err.args else repr(err)
        name = codec_name(names, value)
        if "imagecodecs" in reason and importlib.util.find_spec("imagecodecs") is None:
            raise MissingDependencyError(
                f"{path}: level {level} uses {what} {name}, which needs the 'imagecodecs' "
                "package; install it with: pip install imagecodecs"
            )
        raise DataFormatError(
            f"{path}: level {level} uses {what} {name}, which cannot be decoded ({reason}); "
            "expected a TIFF compression that tifffile supports"
        )

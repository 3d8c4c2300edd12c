"""TIFF segment layout for [`histomammo.io.tiff`][histomammo.io.tiff]: open a file, find its pyramid
levels,
describe how each is cut into strips or tiles, and refuse what cannot be read.

Private: the public reader is [`histomammo.io.tiff.TiffImage`][histomammo.io.TiffImage].
"""

from __future__ import annotations

import importlib
import importlib.util
import lzma
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

# What tifffile's parser and decoders (zlib, lzma, imagecodecs) raise on a malformed file.
# Caught only around calls into tifffile (opening, series detection, tag values, decoding),
# never around this module's own code, and re-raised as DataFormatError.
FORMAT_ERRORS = (
    ValueError,
    tifffile.TiffFileError,  # a plain Exception in tifffile 2023 releases, a ValueError later
    RuntimeError,  # imagecodecs' codec errors
    NotImplementedError,
    OSError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,  # tifffile's arithmetic on a tag whose count changed
    ZeroDivisionError,  # tifffile's series detection on ImageWidth 0
    OverflowError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
)
# Decoded bytes one segment may declare beyond this, relative to the bytes stored for it,
# are refused before tifffile allocates them: no codec tifffile uses compresses a real
# image 100,000-fold, and 64 MiB is more than any real strip or tile.
_SEGMENT_BYTES_ALWAYS_ALLOWED = 64 << 20
_MAX_COMPRESSION_RATIO = 100_000
_PAGE_FIELDS = (
    "imagelength", "imagewidth", "imagedepth", "samplesperpixel", "bitspersample",
    "sampleformat", "planarconfig", "compression", "predictor", "is_tiled", "tilelength",
    "tilewidth", "rowsperstrip", "dtype",
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


def _page_fields(page: Any, path: Path, level: int) -> dict[str, Any]:
    """The keyframe's tag values that describe the segments, read by tifffile."""
    try:
        key = page.keyframe
        return {name: getattr(key, name) for name in _PAGE_FIELDS}
    except FORMAT_ERRORS as err:
        raise DataFormatError(
            f"{path}: level {level} has unreadable tags ({type(err).__name__}: {err}); "
            "expected a readable TIFF image file directory"
        ) from err


def _single_int(value: Any) -> bool:
    """One integer, not a tuple or array (a tag whose count was edited gives those)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _positive(fields: dict[str, Any], name: str, path: Path, level: int) -> int:
    """One tag value, refused unless a single positive integer (a tag's count may be edited)."""
    value = fields[name]
    if _single_int(value) and value >= 1:
        return int(value)
    raise DataFormatError(
        f"{path}: level {level} {name} is {value!r}; expected one positive integer"
    )


def grid_of(page: Any, path: Path, level: int) -> SegmentGrid:
    """Describe one level's segments, refusing what is not a 2-D image or not valid TIFF."""
    fields = _page_fields(page, path, level)
    if fields["dtype"] is None or not (_single_int(fields["imagedepth"])
                                       and fields["imagedepth"] == 1):
        raise DataFormatError(
            f"{path}: level {level} has depth {fields['imagedepth']} and "
            f"{fields['bitspersample']}-bit samples of SampleFormat {fields['sampleformat']}; "
            "expected a 2-D image of integer or floating-point samples"
        )
    planar, tiled = fields["planarconfig"], fields["is_tiled"]
    if not isinstance(tiled, (bool, np.bool_)):  # tifffile's test of a multi-valued TileWidth
        raise DataFormatError(
            f"{path}: level {level} TileWidth / TileLength are {fields['tilewidth']!r} / "
            f"{fields['tilelength']!r}; expected one positive integer each"
        )
    if not (_single_int(planar) and planar in (1, 2)):
        raise DataFormatError(
            f"{path}: level {level} PlanarConfiguration is {planar!r}; expected 1 "
            "(contiguous) or 2 (separate planes)"
        )
    height, width, samples, compression, predictor = (
        _positive(fields, name, path, level) for name in
        ("imagelength", "imagewidth", "samplesperpixel", "compression", "predictor")
    )
    if tiled:
        segment = (_positive(fields, "tilelength", path, level),
                   _positive(fields, "tilewidth", path, level))
    else:
        segment = (min(_positive(fields, "rowsperstrip", path, level), height), width)
    return SegmentGrid(
        height=height,
        width=width,
        samples=samples,
        segment_height=segment[0],
        segment_width=segment[1],
        planar=planar == 2 and samples > 1,
        tiled=bool(tiled),
        compression=compression,
        predictor=predictor,
    )


def check_segment_table(page: Any, grid: SegmentGrid, path: Path, level: int, size: int) -> None:
    """Refuse a segment table of the wrong length or pointing past the end of the file."""
    try:
        offsets, counts = np.asarray(page.dataoffsets), np.asarray(page.databytecounts)
    except FORMAT_ERRORS as err:
        raise DataFormatError(
            f"{path}: level {level} has an unreadable segment table ({type(err).__name__}: "
            f"{err}); expected StripOffsets/TileOffsets and their byte counts"
        ) from err
    expected = grid.rows * grid.cols * (grid.samples if grid.planar else 1)
    if offsets.shape != (expected,) or counts.shape != (expected,):
        raise DataFormatError(
            f"{path}: level {level} lists {offsets.size} segment offsets and {counts.size} "
            f"byte counts; expected {expected} for {grid.shape} pixels in "
            f"{grid.segment_height}x{grid.segment_width} segments"
        )
    if offsets.dtype.kind not in "iu" or counts.dtype.kind not in "iu":
        raise DataFormatError(f"{path}: level {level} segment offsets or byte counts are not "
                              "integers; expected a valid segment table")
    if (offsets.size and offsets.min() < 0) or (counts.size and counts.min() < 0):
        raise DataFormatError(f"{path}: level {level} has negative segment offsets or byte "
                              "counts; expected a valid segment table")
    stored = counts > 0
    # Compared before any arithmetic: offsets near 2**64 would overflow int64.
    if stored.any() and (offsets[stored].max() > size or counts[stored].max() > size
                         or (offsets[stored].astype(np.int64) + counts[stored]).max() > size):
        raise DataFormatError(
            f"{path}: level {level} segment data runs past the end of the file ({size} "
            "bytes); the file is truncated or its segment table corrupt"
        )


def _check_level_size(page: Any, grid: SegmentGrid, path: Path, level: int) -> None:
    """Refuse a level that declares implausibly many pixels for the bytes it stores (a
    SamplesPerPixel of 65535 on a small image, say), before any region is allocated."""
    stored = int(np.asarray(page.databytecounts, dtype=np.int64).sum())
    decoded = grid.height * grid.width * grid.samples * page.dtype.itemsize
    if decoded > max(_SEGMENT_BYTES_ALWAYS_ALLOWED, _MAX_COMPRESSION_RATIO * stored):
        raise DataFormatError(
            f"{path}: level {level} declares {grid.shape} pixels ({decoded} bytes) but "
            f"stores {stored} bytes; expected at most {_MAX_COMPRESSION_RATIO}-fold compression"
        )


def check_segment_size(grid: SegmentGrid, count: int, itemsize: int, where: str) -> None:
    """Refuse to decode a segment that declares implausibly many bytes for those stored."""
    planes = 1 if grid.planar else grid.samples
    decoded = grid.segment_height * grid.segment_width * planes * itemsize
    if decoded > max(_SEGMENT_BYTES_ALWAYS_ALLOWED, _MAX_COMPRESSION_RATIO * count):
        raise DataFormatError(
            f"{where}: the segment declares {decoded} decoded bytes from {count} stored; "
            f"expected at most {_MAX_COMPRESSION_RATIO}-fold compression"
        )


def open_levels(path: Path, series: int) -> tuple[tifffile.TiffFile, list[Any], list[SegmentGrid]]:
    """Open ``path``; return the file, one page per pyramid level and the levels' grids."""
    require_file(path, "a TIFF file")
    tif = None
    try:
        try:
            tif = tifffile.TiffFile(path)
            found, levels = _series_levels(tif, series)
        except FORMAT_ERRORS as err:
            raise DataFormatError(
                f"{path}: cannot be read as TIFF ({type(err).__name__}: {err}); expected a "
                "complete, readable TIFF file"
            ) from err
        if found == 0:
            raise DataFormatError(f"{path}: holds no image; expected a TIFF image")
        if levels is None:
            raise IndexError(f"series {series} is out of range: {path} has {found} series")
        pages, grids = _level_pages(levels, path, series, tif.filehandle.size)
    except BaseException:
        if tif is not None:
            tif.close()
        raise
    return tif, pages, grids


def _series_levels(tif: tifffile.TiffFile, series: int) -> tuple[int, list[tuple[Any, ...]] | None]:
    """How many series tifffile finds, and ``(pages, axes, shape)`` of each level of
    ``series`` (None when out of range), as tifffile detects them."""
    found = len(tif.series)
    if not 0 <= series < found:
        return found, None
    levels = tif.series[series].levels
    return found, [(list(level.pages), level.axes, level.shape) for level in levels]


def _level_pages(levels: list[tuple[Any, ...]], path: Path, series: int, size: int
                 ) -> tuple[list[Any], list[Any]]:
    """One page per level of ``series``, and its grid; refuse levels unlike level 0."""
    pages: list[Any] = []
    grids: list[SegmentGrid] = []
    for index, (level_pages, axes, shape) in enumerate(levels):
        if len(level_pages) != 1 or level_pages[0] is None:
            raise DataFormatError(
                f"{path}: series {series} level {index} holds {len(level_pages)} pages "
                f"(axes {axes!r}, shape {shape}); expected one 2-D image (YX or YXS) per level"
            )
        pages.append(level_pages[0])
        grids.append(grid_of(pages[-1], path, index))
        check_segment_table(pages[-1], grids[-1], path, index, size)
        _check_level_size(pages[-1], grids[-1], path, index)
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


_ZSTD = (34926, 50000)  # COMPRESSION.ZSTD and its older private code


def _zstd_available() -> bool:
    if importlib.util.find_spec("imagecodecs") is not None:
        return True
    try:
        importlib.import_module("compression.zstd")
    except ImportError:
        return False
    return True


def require_codecs(grid: SegmentGrid, path: Path, level: int) -> None:
    """Raise MissingDependencyError or DataFormatError when tifffile cannot decode ``grid``."""
    checks = (
        (tifffile.TIFF.DECOMPRESSORS, grid.compression, "compression", tifffile.COMPRESSION),
        (tifffile.TIFF.UNPREDICTORS, grid.predictor, "predictor", tifffile.PREDICTOR),
    )
    if grid.compression in _ZSTD and not _zstd_available():
        raise MissingDependencyError(
            f"{path}: level {level} uses compression {codec_name(tifffile.COMPRESSION, grid.compression)} "
            "(Zstandard), which tifffile decodes only with the 'imagecodecs' package (or "
            "Python 3.14's compression.zstd); install it with: pip install imagecodecs"
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

"""Region reads from strip, tiled and pyramidal TIFF files larger than memory.

[`TiffImage`][histomammo.io.TiffImage] reads a rectangle of one pyramid level by reading and
decoding only the
strips or tiles (the TIFF's *segments*) that intersect it, through tifffile's own segment
table (``page.dataoffsets``, ``page.databytecounts``) and decoder (``page.decode``): a
512 x 512 region of a 20000 x 20000 slide costs a few tiles, never the whole level.

Pyramid levels are those tifffile finds for the series (``TiffFile.series[i].levels``):
SubIFD pyramids (tifffile's ``subifds=``, OME-TIFF), reduced-resolution pages after the
full-resolution one (``subfiletype=1``), and the vendor layouts tifffile knows (SVS, NDPI).
Pages of different sizes *without* the reduced-resolution flag are separate series to
tifffile; open each with ``series=``.

The file is opened once per process and kept open. Pickling drops the handle (the copy
re-opens the file on first use) and a forked child notices, by process id, that the handle
is its parent's and opens its own, so a ``TiffImage`` works in DataLoader workers under
``fork``, ``spawn`` and ``forkserver``.
"""

from __future__ import annotations

import logging
import operator
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tifffile

from histomammo.errors import DataFormatError, MissingDependencyError
from histomammo.io._paths import FileStamp, file_stamp
from histomammo.io._tiff_segments import (
    FORMAT_ERRORS,
    SegmentGrid,
    check_segment_size,
    codec_name,
    open_levels,
    require_codecs,
)

__all__ = ["TiffImage", "TiffLevel"]

logger = logging.getLogger("histomammo")


@dataclass(frozen=True)
class TiffLevel:
    """One level of a TIFF pyramid.

    Attributes
    ----------
    index : int
        Position in [`TiffImage.levels`][histomammo.io.tiff.TiffImage.levels]; 0 is the full
        resolution.
    shape : tuple of int
        ``(H, W)`` for one sample per pixel, else ``(H, W, C)``.
    downsample : float
        Level-0 pixels per pixel of this level: the mean of the height and width ratios to
        level 0 (OpenSlide's definition); 1.0 for level 0.
    """

    index: int
    shape: tuple[int, ...]
    downsample: float


def _fill_scalar(fill: float, dtype: np.dtype) -> np.ndarray:
    """``fill`` as a 0-d array of ``dtype``; refuse values the dtype cannot hold exactly."""
    value = np.asarray(fill)
    if value.ndim != 0 or value.dtype.kind not in "biuf":
        raise ValueError(f"fill must be a real number, got {fill!r}")
    with np.errstate(invalid="ignore", over="ignore"):  # refused just below, not warned
        cast = value.astype(dtype)
    if not (cast == value or (np.isnan(value) and np.isnan(cast))):
        raise ValueError(f"fill={fill!r} cannot be stored exactly in this image's dtype {dtype}")
    return cast


class TiffImage:
    """A strip, tiled or pyramidal TIFF read one region at a time.

    Parameters
    ----------
    path : str or os.PathLike
        The TIFF file (``.tif``, ``.ome.tif``, ``.svs``, ...).
    series : int, default 0
        Which of tifffile's image series to read; a series is one image and its pyramid.
    reopen_on_change : bool, default False
        What a read does when the file on disk is no longer the one opened (its inode,
        size or modification time changed: rewritten, truncated or replaced): raise
        ``DataFormatError`` (the default), or open the new file and read from it, provided
        its levels have the same shapes, samples and dtype.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    series : int
        The series read.
    levels : tuple of TiffLevel
        Pyramid levels, full resolution first; a plain TIFF has one.
    dtype : numpy.dtype
        The file's own sample type (native byte order), kept by every read.

    Raises
    ------
    MissingFileError
        ``path`` does not exist (a ``FileNotFoundError`` and a ``DataFormatError``).
    DataFormatError
        The file is truncated or not a TIFF; its segment table is corrupt; or a level is
        not one 2-D image (a Z or T stack, a volume, unsupported samples).
    IndexError
        ``series`` is out of range.

    Notes
    -----
    Arrays are HWC whatever the file's planar configuration, HW for one sample per pixel.
    Coordinates are ``(row, column)`` in the pixel grid of the level read; multiply by
    ``levels[i].downsample`` for level-0 pixels. tifffile decodes uncompressed, zlib/deflate,
    LZMA and PackBits segments by itself; Zstandard needs ``imagecodecs`` (or Python 3.14's
    ``compression.zstd``), and JPEG, LZW, JPEG 2000 and the rest need ``imagecodecs``.
    Reads from several threads are safe (file reads are serialised). Each read checks, with
    one ``os.stat``, that the file is still the one opened.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, tifffile
    >>> from histomammo.io import TiffImage
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "slide.tif"
    >>> rgb = np.arange(512 * 768 * 3, dtype=np.uint32).reshape(512, 768, 3).astype(np.uint8)
    >>> with tifffile.TiffWriter(path) as tif:
    ...     tif.write(rgb, tile=(256, 256), subifds=1, photometric="rgb", compression="zlib")
    ...     tif.write(rgb[::2, ::2], tile=(256, 256), subfiletype=1, photometric="rgb")
    >>> with TiffImage(path) as image:
    ...     print(image.shape, image.dtype, [(lv.shape, lv.downsample) for lv in image.levels])
    ...     region = image.read_region(300, 700, 100, 100, bounds="pad", fill=255)
    ...     print(region.shape, (region[:, :68] == rgb[300:400, 700:]).all(), region[0, -1])
    (512, 768, 3) uint8 [((512, 768, 3), 1.0), ((256, 384, 3), 2.0)]
    (100, 100, 3) True [255 255 255]
    """

    def __init__(
        self, path: str | os.PathLike[str], *, series: int = 0, reopen_on_change: bool = False
    ) -> None:
        self.path = Path(path)
        self.series = operator.index(series)
        self.reopen_on_change = bool(reopen_on_change)
        tif, pages, grids = open_levels(self.path, self.series)
        self._stamp: FileStamp = file_stamp(os.fstat(tif.filehandle.fileno()))
        self._grids: tuple[SegmentGrid, ...] = tuple(grids)
        self.dtype: np.dtype = pages[0].dtype
        self.levels: tuple[TiffLevel, ...] = tuple(
            TiffLevel(i, g.shape, (grids[0].height / g.height + grids[0].width / g.width) / 2)
            for i, g in enumerate(grids)
        )
        self._tif: tifffile.TiffFile | None = tif
        self._pages: list[Any] | None = pages
        self._pid = os.getpid()  # the process that owns the handle and the lock
        self._lock = threading.Lock()
        self._closed = False

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the full-resolution level: ``(H, W)`` or ``(H, W, C)``."""
        return self.levels[0].shape

    def __repr__(self) -> str:
        return (
            f"TiffImage({str(self.path)!r}, shape={self.shape}, dtype={self.dtype}, "
            f"levels={len(self.levels)})"
        )

    def __enter__(self) -> TiffImage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file; reads after this raise ValueError. Closing twice is harmless."""
        with self._lock:
            if self._tif is not None:
                self._tif.close()
            self._tif = self._pages = None
            self._closed = True

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_tif=None, _pages=None)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._pid = os.getpid()  # no handle yet: the first read opens one

    def read_region(
        self,
        top: int,
        left: int,
        height: int,
        width: int,
        level: int = 0,
        *,
        bounds: Literal["error", "pad"] = "error",
        fill: float = 0,
    ) -> np.ndarray:
        """Read rows ``top:top+height`` and columns ``left:left+width`` of one level.

        Only the strips or tiles that intersect the region are read and decoded.

        Parameters
        ----------
        top, left : int
            First row and column in the pixel grid of ``level``; negative only with
            ``bounds="pad"``.
        height, width : int
            Size in pixels of ``level``; at least 1.
        level : int, default 0
            Index into [`levels`][histomammo.io.tiff.TiffImage.levels]; ``-1`` is the smallest.
        bounds : {"error", "pad"}, default "error"
            For a region not wholly inside the level: ``"error"`` raises ValueError,
            ``"pad"`` sets the pixels outside the level to ``fill`` (all of them when the
            region misses the level entirely).
        fill : int or float, default 0
            Padding value; it must fit [`dtype`][histomammo.io.tiff.TiffImage.dtype] exactly. Sparse
            tiles (no bytes
            stored) *inside* the level read as the file's no-data value (GDAL_NODATA, else
            0), as tifffile reads them.

        Returns
        -------
        numpy.ndarray
            ``(height, width)`` or ``(height, width, C)`` array of
            [`dtype`][histomammo.io.tiff.TiffImage.dtype].

        Raises
        ------
        ValueError
            ``height`` or ``width`` below 1, unknown ``bounds``, a ``fill`` the dtype cannot
            hold, a region outside the level with ``bounds="error"``, or a closed image.
        IndexError
            ``level`` is out of range.
        DataFormatError
            A segment the region needs is truncated or corrupt, or the file changed on disk.
        MissingFileError
            The file was removed before this process first read from it (after pickling
            or forking).
        MissingDependencyError
            The level's compression needs ``imagecodecs``, which is not installed.

        Examples
        --------
        >>> import tempfile, pathlib, numpy as np, tifffile
        >>> from histomammo.io import TiffImage
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "gray.tif"
        >>> tifffile.imwrite(path, np.arange(64, dtype=np.uint16).reshape(8, 8), rowsperstrip=3)
        >>> image = TiffImage(path)
        >>> image.read_region(6, 5, 2, 3)
        array([[53, 54, 55],
               [61, 62, 63]], dtype=uint16)
        >>> image.read_region(7, 7, 2, 2, bounds="pad", fill=9)
        array([[63,  9],
               [ 9,  9]], dtype=uint16)
        >>> image.close()
        """
        index = self._level_index(level)
        grid = self._grids[index]
        top, left, height, width = (operator.index(v) for v in (top, left, height, width))
        if height < 1 or width < 1:
            raise ValueError(f"height and width must be at least 1, got {height} and {width}")
        if bounds not in ("error", "pad"):
            raise ValueError(f"bounds must be 'error' or 'pad', got {bounds!r}")
        fill_value = _fill_scalar(fill, self.dtype)
        bottom, right = top + height, left + width
        inside = top >= 0 and left >= 0 and bottom <= grid.height and right <= grid.width
        if bounds == "error" and not inside:
            raise ValueError(
                f"region rows {top}:{bottom}, columns {left}:{right} is not inside level "
                f"{index} of shape {grid.shape} ({self.path}); pass bounds='pad' to pad it"
            )
        out = np.full((height, width, grid.samples), fill_value, dtype=self.dtype)
        box = (max(top, 0), max(left, 0), min(bottom, grid.height), min(right, grid.width))
        if box[0] < box[2] and box[1] < box[3]:
            self._paste_segments(index, out, (top, left), box)
        return out.reshape(height, width) if grid.samples == 1 else out

    def _level_index(self, level: int) -> int:
        count = len(self.levels)
        level = operator.index(level)
        if not -count <= level < count:
            raise IndexError(
                f"level {level} is out of range: {self.path} has {count} level(s), "
                f"0..{count - 1} (or -{count}..-1)"
            )
        return level % count

    def _paste_segments(
        self, index: int, out: np.ndarray, origin: tuple[int, int], box: tuple[int, int, int, int]
    ) -> None:
        """Decode each segment of level ``index`` overlapping ``box`` into ``out``.

        ``origin`` is the level pixel at ``out[0, 0]``; ``box`` is ``(top, left, bottom,
        right)``, clipped to the level.
        """
        page = self._pages_here()[index]
        grid = self._grids[index]
        require_codecs(grid, self.path, index)
        for segment, plane, seg_top, seg_left in grid.segments_in(*box):
            rows = slice(max(box[0], seg_top), min(box[2], seg_top + grid.segment_height))
            cols = slice(max(box[1], seg_left), min(box[3], seg_left + grid.segment_width))
            target = out[rows.start - origin[0] : rows.stop - origin[0],
                         cols.start - origin[1] : cols.stop - origin[1]]
            if grid.planar:
                target = target[..., plane : plane + 1]
            pixels = self._decode(page, index, segment, (seg_top, seg_left))
            if pixels is None:  # a sparse segment: no bytes stored
                target[...] = page.keyframe.nodata
                continue
            decoded = pixels[0, rows.start - seg_top : rows.stop - seg_top,
                             cols.start - seg_left : cols.stop - seg_left]
            if decoded.shape != target.shape:
                raise DataFormatError(
                    f"{self._where(index, segment, seg_top, seg_left)} decodes to "
                    f"{pixels.shape[1:]} pixels; expected {grid.segment_height}x"
                    f"{grid.segment_width}"
                )
            target[...] = decoded

    def _where(self, index: int, segment: int, top: int, left: int) -> str:
        kind = "tile" if self._grids[index].tiled else "strip"
        return f"{self.path}: level {index} {kind} {segment} at row {top}, column {left}"

    def _decode(
        self, page: Any, index: int, segment: int, corner: tuple[int, int]
    ) -> np.ndarray | None:
        """One segment's pixels ``(1, rows, columns, samples)`` as tifffile decodes them."""
        grid, where = self._grids[index], self._where(index, segment, *corner)
        count = int(page.databytecounts[segment])
        if not count:
            return None
        check_segment_size(grid, count, self.dtype.itemsize, where)
        data = self._read_bytes(page.dataoffsets[segment], count)
        key = page.keyframe
        try:
            return key.decode(data, segment, jpegtables=page.jpegtables,
                              jpegheader=key.jpegheader)[0]
        except ImportError as err:  # a codec module tifffile imports when first used
            raise MissingDependencyError(
                f"{where}: {codec_name(tifffile.COMPRESSION, grid.compression)} data needs "
                f"a module that is not installed ({err}); install it with: pip install "
                "imagecodecs"
            ) from err
        except FORMAT_ERRORS as err:
            raise DataFormatError(
                f"{where} cannot be decoded ({type(err).__name__}: {err}); expected "
                f"{codec_name(tifffile.COMPRESSION, grid.compression)} data of "
                f"{grid.segment_height}x{grid.segment_width} pixels"
            ) from err

    def _read_bytes(self, offset: int, count: int) -> bytes:
        with self._lock:
            if self._tif is None:
                raise ValueError(f"I/O operation on a closed TiffImage ({self.path})")
            self._tif.filehandle.seek(offset)
            data = self._tif.filehandle.read(count)
        if len(data) != count:
            raise DataFormatError(
                f"{self.path}: expected {count} bytes of segment data at byte {offset}, got "
                f"{len(data)}; the file is truncated"
            )
        return data

    def _pages_here(self) -> list[Any]:
        """This process's open pages, one per level; the file is (re)opened when needed.

        One ``os.stat`` per call notices a file rewritten, truncated or replaced since it was
        opened: refused, or reopened with ``reopen_on_change=True``.
        """
        if self._pid != os.getpid():
            # A forked child: the parent's lock may have been copied while held, and the
            # inherited file shares its offset with the parent's, so use neither.
            self._lock = threading.Lock()
            self._tif = self._pages = None
        with self._lock:
            if self._closed:
                raise ValueError(f"I/O operation on a closed TiffImage ({self.path})")
            if self._pages is not None and self._changed_on_disk():
                if self._tif is not None:
                    self._tif.close()
                self._tif = self._pages = None
            return self._pages if self._pages is not None else self._open_again()

    def _changed_on_disk(self) -> bool:
        try:
            now = file_stamp(os.stat(self.path))
        except OSError as err:
            raise DataFormatError(f"{self.path}: the file is gone since it was opened ({err})"
                                  ) from err
        if now == self._stamp:
            return False
        if not self.reopen_on_change:
            raise DataFormatError(
                f"{self.path}: the file changed on disk since it was opened (size "
                f"{self._stamp.size} -> {now.size} bytes, inode {self._stamp.inode} -> "
                f"{now.inode}); pass reopen_on_change=True to read the new file"
            )
        return True

    def _open_again(self) -> list[Any]:
        """Open the file at ``path`` in this process; refuse one whose levels differ."""
        tif, pages, grids = open_levels(self.path, self.series)
        if tuple(grids) != self._grids or pages[0].dtype != self.dtype:
            tif.close()
            raise DataFormatError(
                f"{self.path}: the file changed since it was opened: its levels are "
                f"now {[g.shape for g in grids]} of {pages[0].dtype}, expected "
                f"{[g.shape for g in self._grids]} of {self.dtype}"
            )
        stamp = file_stamp(os.fstat(tif.filehandle.fileno()))
        if stamp != self._stamp and not self.reopen_on_change:  # e.g. changed, then pickled
            tif.close()
            raise DataFormatError(
                f"{self.path}: the file changed on disk since it was opened (size "
                f"{self._stamp.size} -> {stamp.size} bytes); pass reopen_on_change=True to "
                "read the new file"
            )
        self._tif, self._pages, self._pid, self._stamp = tif, pages, os.getpid(), stamp
        logger.debug("re-opened %s in process %d", self.path, self._pid)
        return pages

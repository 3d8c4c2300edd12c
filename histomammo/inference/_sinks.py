"""Where blended probabilities go: an array in memory, or a ``.zarr`` / pyramidal ``.tif`` on disk.

A disk output is built in ``<out>.partial/`` (a zarr group), chunk row by chunk row, with a
``progress.json`` naming the last rows flushed; a rerun with ``resume=True`` continues from
there. When every chunk is written the pyramid levels are averaged down chunk by chunk, and
the group is renamed to ``out`` (``.zarr``) or converted tile by tile into a tiled pyramidal
TIFF written atomically (``.tif``): memory stays a few chunks whatever the slide's size.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, cast

import numpy as np
import tifffile

from histomammo._atomic import atomic_write, fsync_directory
from histomammo._deps import require
from histomammo.errors import HistomammoError

__all__ = ["ArraySink", "OutputExistsError", "StoreSink", "open_sink"]

CHUNK = 512  # side of a zarr chunk and of a TIFF tile


class OutputExistsError(HistomammoError, FileExistsError):
    """The output path exists and ``resume`` was not asked for."""


class ArraySink:
    """Probabilities ``(C, H, W)`` float32 in memory (NaN until written)."""

    resume_from: tuple[int, int] = (0, 0)

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = shape
        self.array: np.ndarray | None = None

    def ensure(self, channels: int, attrs: dict[str, Any]) -> None:
        if self.array is None:
            self.array = np.full((channels, *self.shape), np.nan, dtype=np.float32)

    def write(self, top: int, left: int, block: np.ndarray) -> None:
        self._array()[:, top : top + block.shape[1], left : left + block.shape[2]] = block

    def mark(self, stripe: int, rows: int) -> None:
        pass

    def finish(self) -> np.ndarray:
        return self._array()

    def _array(self) -> np.ndarray:
        if self.array is None:  # segment_slide runs a tile (ensure) before anything else
            raise RuntimeError("ArraySink.ensure() must be called first")
        return self.array


class StoreSink:
    """A zarr group in ``<out>.partial/`` that becomes ``out`` (``.zarr`` or ``.tif``)."""

    def __init__(self, out: Path, shape: tuple[int, int], resume: bool) -> None:
        self.zarr = require("zarr", extra="slides")
        if out.suffix not in (".zarr", ".tif", ".tiff"):
            raise ValueError(f"out must end with .zarr, .tif or .tiff, got {out}")
        if out.exists() and not resume:
            raise OutputExistsError(f"{out} exists; pass resume=True to keep it, or remove it")
        self.out, self.shape = out, shape
        self.partial = out.with_name(out.name + ".partial")
        if self.partial.exists() and not resume:
            shutil.rmtree(self.partial)
        self.group: Any = None
        self.resume_from = (0, 0)
        if (self.partial / "progress.json").exists():
            state = json.loads((self.partial / "progress.json").read_text())
            self.resume_from = (int(state["stripe"]), int(state["rows"]))
            self.group = self.zarr.open_group(self.partial, mode="r+")

    def ensure(self, channels: int, attrs: dict[str, Any]) -> None:
        if self.group is not None and "0" in self.group:
            return
        self.group = self.zarr.open_group(self.partial, mode="w")
        self.group.attrs.update(attrs)
        self.group.create_array("0", shape=(channels, *self.shape), dtype="float32",
                                chunks=(channels, CHUNK, CHUNK), fill_value=np.nan)

    def write(self, top: int, left: int, block: np.ndarray) -> None:
        """Write ``block`` chunk by chunk, skipping all-NaN chunks (the fill value: reading
        an unwritten chunk gives the same NaN)."""
        array = self.group["0"]
        for start in range(0, block.shape[2], CHUNK):
            part = block[:, :, start : start + CHUNK]
            if np.isfinite(part).any():
                x = left + start
                array[:, top : top + part.shape[1], x : x + part.shape[2]] = part

    def mark(self, stripe: int, rows: int) -> None:
        if self.group is None:  # no tile run yet (stripes without tissue): nothing to keep
            return
        with atomic_write(self.partial / "progress.json", "w") as handle:
            json.dump({"stripe": stripe, "rows": rows}, handle)

    def finish(self) -> Path:
        levels = _build_pyramid(self.group)
        _remove_leftovers(self.partial)
        if self.out.suffix == ".zarr":
            self.group.attrs["levels"] = levels
            (self.partial / "progress.json").unlink()
            self.partial.rename(self.out)
            fsync_directory(self.out.parent)
        else:
            _write_tiff(self.group, levels, self.out)
            shutil.rmtree(self.partial)
        return self.out


def _remove_leftovers(folder: Path) -> None:
    """Temporary files a killed run left: zarr's ``*.<hex>.partial`` and ours ``.*.tmp``."""
    for path in [*folder.rglob("*.partial"), *folder.rglob(".*.tmp")]:
        if path.is_file():
            path.unlink()


def open_sink(out: Any, shape: tuple[int, int], resume: bool) -> ArraySink | StoreSink:
    """An in-memory sink (``out=None``) or an on-disk one; None when ``out`` is finished."""
    if out is None:
        return ArraySink(shape)
    return StoreSink(Path(out), shape, resume)


def _halve(block: np.ndarray) -> np.ndarray:
    """NaN-aware 2 x 2 means of ``(C, h, w)`` (odd edges padded with NaN)."""
    c, h, w = block.shape
    values = np.zeros((c, h + h % 2, w + w % 2), dtype=np.float32)
    counts = np.zeros(values.shape, dtype=np.float32)
    finite = np.isfinite(block)
    np.copyto(values[:, :h, :w], block, where=finite)
    counts[:, :h, :w] = finite
    with np.errstate(invalid="ignore", divide="ignore"):  # all-NaN 2x2 cells stay NaN
        return _pairs(values) / _pairs(counts)


def _pairs(a: np.ndarray) -> np.ndarray:
    """Sums of the 2 x 2 cells of ``(C, 2h, 2w)`` (strided adds: far faster than a 5-D sum)."""
    return (a[:, 0::2, 0::2] + a[:, 1::2, 0::2]) + (a[:, 0::2, 1::2] + a[:, 1::2, 1::2])


def _build_pyramid(group: Any) -> int:
    """Levels ``"1"``, ``"2"``, ... each half the last, until one chunk holds it; their count."""
    index = 0
    while max(group[str(index)].shape[1:]) > CHUNK:
        source = group[str(index)]
        c, h, w = source.shape
        target = group.create_array(str(index + 1), shape=(c, -(-h // 2), -(-w // 2)),
                                    dtype="float32", chunks=(c, CHUNK, CHUNK),
                                    fill_value=np.nan, overwrite=True)
        for top in range(0, target.shape[1], CHUNK):
            for left in range(0, target.shape[2], CHUNK):
                block = source[:, 2 * top : 2 * top + 2 * CHUNK, 2 * left : 2 * left + 2 * CHUNK]
                if not np.isfinite(block).any():
                    continue  # unwritten: NaN, the fill value
                halved = _halve(block)
                target[:, top : top + halved.shape[1], left : left + halved.shape[2]] = halved
        index += 1
    return index + 1


def _tiles(array: Any) -> Any:
    """``(CHUNK, CHUNK, C)`` tiles of a ``(C, H, W)`` array, row-major, edges NaN-padded."""
    c, h, w = array.shape
    for top in range(0, h, CHUNK):
        for left in range(0, w, CHUNK):
            tile = np.full((CHUNK, CHUNK, c), np.nan, dtype=np.float32)
            block = np.moveaxis(array[:, top : top + CHUNK, left : left + CHUNK], 0, -1)
            tile[: block.shape[0], : block.shape[1]] = block
            yield tile


def _write_tiff(group: Any, levels: int, out: Path) -> None:
    """The group's levels as a tiled (512 px), zlib-compressed float32 SubIFD pyramid."""
    description = json.dumps(dict(group.attrs))
    with atomic_write(out, "wb") as handle:
        cast(Any, handle).raw.name = str(out)  # tifffile names its stream after the file
        with tifffile.TiffWriter(handle, bigtiff=True) as tif:
            for index in range(levels):
                array = group[str(index)]
                c, h, w = array.shape
                extra: dict[str, Any] = {"subfiletype": 1} if index else {
                    "subifds": levels - 1, "description": description}
                tif.write(_tiles(array), shape=(h, w, c), dtype=np.float32,
                          tile=(CHUNK, CHUNK), compression="zlib", photometric="minisblack",
                          planarconfig="contig", metadata=None, **extra)

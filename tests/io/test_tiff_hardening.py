"""TiffImage on the malformed files fuzzing found, and on files that change while open: each
case raises the library's own error naming the file, never a raw tifffile exception or an
array of the wrong shape."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from histomammo.errors import DataFormatError, MissingDependencyError
from histomammo.io import _tiff_segments
from histomammo.io.tiff import TiffImage


@pytest.fixture
def rgb() -> np.ndarray:
    return np.arange(64 * 48 * 3, dtype=np.uint32).reshape(64, 48, 3).astype(np.uint8)


@pytest.fixture
def tiled(tmp_path: Path, rgb: np.ndarray) -> Path:
    path = tmp_path / "seed.tif"
    tifffile.imwrite(path, rgb, tile=(16, 16), photometric="rgb", compression="zlib")
    return path


def with_tag(source: Path, target: Path, tag: str, value: object, **options: object) -> Path:
    """A copy of ``source`` whose first page's ``tag`` is rewritten (count changes allowed)."""
    if source != target:
        shutil.copy(source, target)
    with tifffile.TiffFile(target, mode="r+") as tif:
        tif.pages[0].tags[tag].overwrite(value, **options)
    return target


def read_all(path: Path) -> np.ndarray:
    with TiffImage(path) as image:
        return image.read_region(0, 0, *image.shape[:2])


@pytest.mark.parametrize(
    ("tag", "value", "options", "match"),
    [
        # tifffile's series detection divided by zero (ZeroDivisionError).
        ("ImageWidth", 0, {}, r"cannot be read as TIFF \(ZeroDivisionError"),
        # SamplesPerPixel 0 was read as an (H, W, 0) array.
        ("SamplesPerPixel", 0, {}, r"cannot be read as TIFF|SamplesPerPixel|samplesperpixel"),
        # An invalid PlanarConfiguration was read as contiguous without a word.
        # Found by the fuzz suite: 65535 samples of a 64 x 48 image, an allocation of GiBs.
        ("SamplesPerPixel", 65535, {}, r"cannot be read as TIFF|declares \(64, 48, 65535\)|cannot be decoded"),
        ("PlanarConfiguration", 0, {}, "PlanarConfiguration is 0; expected 1"),
        ("PlanarConfiguration", 3, {}, "PlanarConfiguration is 3; expected 1"),
        # A tag whose count changed gave TypeError from int() / min() on a tuple.
        ("TileWidth", (16, 16), {}, r"unreadable tags \(TypeError|tilewidth is \(16, 16\)"),
        ("TileLength", 0, {}, "tilelength is 0; expected one positive integer"),
        # Offsets beyond 2**63 raised OverflowError in check_segment_table.
        ("TileOffsets", (2**63 + 5,) * 12, {"dtype": 16}, "segment data runs past the end"),
        ("TileByteCounts", (10,) * 11, {}, "lists 12 segment offsets and 11 byte counts"),
    ],
)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_edited_tags_refused(
    tiled: Path, tmp_path: Path, tag: str, value: object, options: dict, match: str
) -> None:
    path = with_tag(tiled, tmp_path / "edited.tif", tag, value, **options)
    with pytest.raises(DataFormatError, match=f"edited.tif: .*({match})"):
        read_all(path)


def test_corrupt_lzma_tile(tmp_path: Path, rgb: np.ndarray) -> None:
    # zlib data labelled LZMA: lzma.LZMAError (or imagecodecs' LzmaError) escaped before.
    path = with_tag(_zlib_tiff(tmp_path, rgb), tmp_path / "lzma.tif", "Compression", 34925)
    with pytest.raises(DataFormatError, match=r"lzma.tif: level 0 tile 0 at row 0, column 0 "
                       r"cannot be decoded \((LZMAError|LzmaError)"):
        read_all(path)


def _zlib_tiff(tmp_path: Path, rgb: np.ndarray) -> Path:
    path = tmp_path / "zlib.tif"
    tifffile.imwrite(path, rgb, tile=(16, 16), photometric="rgb", compression="zlib")
    return path


def test_lzma_decodes_without_imagecodecs(tmp_path: Path, rgb: np.ndarray) -> None:
    path = tmp_path / "lzma.tif"
    tifffile.imwrite(path, rgb, tile=(16, 16), photometric="rgb", compression="lzma")
    np.testing.assert_array_equal(read_all(path), rgb)


def test_zstandard_without_a_codec(
    tiled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ModuleNotFoundError: compression, from tifffile's zstd decoder, escaped before.
    monkeypatch.setattr(_tiff_segments, "_zstd_available", lambda: False)
    path = with_tag(tiled, tmp_path / "zstd.tif", "Compression", 50000)
    with pytest.raises(MissingDependencyError, match=r"zstd.tif: level 0 uses compression ZSTD "
                       r"\(Zstandard\), .*pip install imagecodecs"):
        read_all(path)


def test_import_error_while_decoding(
    tiled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing(*args: object, **kwargs: object) -> None:
        raise ModuleNotFoundError("No module named 'compression'")

    monkeypatch.setattr(tifffile.TiffPage, "decode", missing)
    with pytest.raises(MissingDependencyError, match="seed.tif: level 0 tile 0 .* needs a module"):
        read_all(tiled)


def test_oversized_segment_refused_before_decoding(tiled: Path, tmp_path: Path) -> None:
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint8), tile=(16, 16), compression="zlib")
    with_tag(path, path, "TileWidth", 8192)
    with_tag(path, path, "TileLength", 16384)
    with pytest.raises(DataFormatError, match="big.tif: level 0 tile 0 .* declares 134217728 "
                       "decoded bytes from"):
        read_all(path)


def test_programming_errors_are_not_translated(
    tiled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(_tiff_segments, "check_segment_table", broken)
    with pytest.raises(TypeError, match="a bug"):
        TiffImage(tiled)


def _rewrite(path: Path, array: np.ndarray) -> None:
    with open(path, "r+b") as handle:  # in place: same inode
        data = handle.read()
        tifffile.imwrite(path.with_suffix(".new"), array, tile=(16, 16), photometric="rgb",
                         compression="zlib")
        handle.seek(0)
        handle.write(path.with_suffix(".new").read_bytes())
        handle.truncate()
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # coarse clocks
    assert data


def test_file_rewritten_while_open(tiled: Path, rgb: np.ndarray) -> None:
    image = TiffImage(tiled)
    np.testing.assert_array_equal(image.read_region(0, 0, 16, 16), rgb[:16, :16])
    _rewrite(tiled, 255 - rgb)
    with pytest.raises(DataFormatError, match="seed.tif: the file changed on disk since it "
                       "was opened .*reopen_on_change=True"):
        image.read_region(0, 0, 16, 16)
    image.close()
    reopening = TiffImage(tiled, reopen_on_change=True)
    _rewrite(tiled, rgb)
    np.testing.assert_array_equal(reopening.read_region(0, 0, 16, 16), rgb[:16, :16])
    reopening.close()


def test_file_truncated_or_replaced_while_open(tiled: Path, tmp_path: Path, rgb: np.ndarray
                                               ) -> None:
    image = TiffImage(tiled)
    replacement = tmp_path / "other.tif"
    tifffile.imwrite(replacement, rgb[::-1].copy(), tile=(16, 16), photometric="rgb",
                     compression="zlib")
    os.replace(replacement, tiled)  # a new inode at the same path
    with pytest.raises(DataFormatError, match="seed.tif: the file changed on disk"):
        image.read_region(0, 0, 16, 16)
    image.close()
    image = TiffImage(tiled, reopen_on_change=True)
    os.truncate(tiled, 100)
    with pytest.raises(DataFormatError, match="seed.tif: cannot be read as TIFF"):
        image.read_region(0, 0, 16, 16)
    image.close()


def test_reopened_file_must_keep_its_levels(tiled: Path, tmp_path: Path) -> None:
    image = TiffImage(tiled, reopen_on_change=True)
    smaller = tmp_path / "small.tif"
    tifffile.imwrite(smaller, np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    os.replace(smaller, tiled)
    with pytest.raises(DataFormatError, match=r"seed.tif: the file changed since it was opened:"
                       r" its levels are now \[\(8, 8, 3\)\]"):
        image.read_region(0, 0, 4, 4)
    image.close()


def test_multi_valued_tile_width(tiled: Path, tmp_path: Path) -> None:
    # Found by `make fuzz`: a TileWidth of 4095 values made tifffile's is_tiled an array,
    # whose truth value raised ValueError in our own checks.
    path = with_tag(tiled, tmp_path / "edited.tif", "TileWidth", (16,) * 4095)
    with pytest.raises(DataFormatError, match=r"edited.tif: level 0 TileWidth / TileLength are "
                       r"array\(\[16, 16, .*expected one positive integer each"):
        read_all(path)

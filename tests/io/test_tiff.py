"""histomammo.io.tiff: region reads from strip, tiled and pyramidal TIFFs larger than memory."""

from __future__ import annotations

import importlib.util
import io
import multiprocessing
import os
import pickle
import struct
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from histomammo.errors import DataFormatError, MissingDependencyError
from histomammo.io import TiffImage, TiffLevel
from histomammo.io.tiff import TiffImage as TiffImageFromModule

HAS_IMAGECODECS = importlib.util.find_spec("imagecodecs") is not None
TILE = 256
BIG = 20000  # the large pyramid: 20000 x 20000 RGB, 1.2 GB uncompressed at level 0
BIG_LEVELS = 6  # 20000, 10000, 5000, 2500, 1250, 625


# --- helpers ------------------------------------------------------------------------------


def pattern(level: int, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The big pyramid's pixels, known analytically: varies within a tile and across tiles."""
    y = np.arange(top, top + height, dtype=np.int32)[:, None, None]
    x = np.arange(left, left + width, dtype=np.int32)[None, :, None]
    c = np.arange(3, dtype=np.int32)[None, None, :]
    value = y + 2 * x + 50 * c + 7 * (y // TILE) + 13 * (x // TILE) + 31 * level
    return (value % 256).astype(np.uint8)


def _big_tiles(level: int, size: int, cache: dict[int, bytes]):
    """zlib tiles of ``pattern`` in TIFF order, compressed once per distinct tile.

    Inside an aligned tile ``y + 2x`` adds a multiple of 256, so a tile is the tile at the
    origin plus a per-tile constant: at most 256 distinct tiles to compress.
    """
    origin = pattern(0, 0, 0, TILE, TILE)
    count = -(-size // TILE)
    for row in range(count):
        for col in range(count):
            shift = (7 * row + 13 * col + 31 * level) % 256
            if shift not in cache:
                cache[shift] = zlib.compress((origin + np.uint8(shift)).tobytes(), 1)
            yield cache[shift]


@pytest.fixture(scope="module")
def big_pyramid(tmp_path_factory):
    """A 20000 x 20000 RGB SubIFD pyramid, written tile by tile (never whole in memory)."""
    path = tmp_path_factory.mktemp("tiff") / "big.tif"
    cache: dict[int, bytes] = {}
    with tifffile.TiffWriter(path) as tif:
        for level in range(BIG_LEVELS):
            size = BIG >> level
            where = {"subifds": BIG_LEVELS - 1} if level == 0 else {"subfiletype": 1}
            tif.write(_big_tiles(level, size, cache), shape=(size, size, 3), dtype=np.uint8,
                      tile=(TILE, TILE), compression="zlib", photometric="rgb", **where)
    return path


def expected_region(array: np.ndarray, top: int, left: int, height: int, width: int,
                    fill: float) -> np.ndarray:
    """``array[top:top+height, left:left+width]`` padded with ``fill`` outside it."""
    out = np.full((height, width, *array.shape[2:]), fill, dtype=array.dtype)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, array.shape[0]), min(left + width, array.shape[1])
    if y0 < y1 and x0 < x1:
        out[y0 - top:y1 - top, x0 - left:x1 - left] = array[y0:y1, x0:x1]
    return out


def assert_regions_match(image: TiffImage, reference: np.ndarray, level: int, rng) -> None:
    """Random regions, some hanging off every edge, equal the padded reference."""
    height, width = reference.shape[:2]
    for _ in range(25):
        h, w = (int(v) for v in rng.integers(1, 300, 2))
        top, left = int(rng.integers(-h + 1, height)), int(rng.integers(-w + 1, width))
        got = image.read_region(top, left, h, w, level, bounds="pad", fill=7)
        np.testing.assert_array_equal(got, expected_region(reference, top, left, h, w, 7))
    np.testing.assert_array_equal(image.read_region(0, 0, height, width, level), reference)


def flipped(data: bytes, positions) -> bytes:
    out = bytearray(data)
    for position in positions:
        out[position] ^= 0xFF
    return bytes(out)


def read_everything(path) -> None:
    with TiffImage(path) as image:
        for level in image.levels:
            image.read_region(0, 0, *level.shape[:2], level.index)


def write_jpeg_tiles(path, gray: np.ndarray) -> None:
    """A JPEG-tiled TIFF made without imagecodecs: Pillow JPEG tiles, Compression tag set to 7."""
    def tiles():
        for top in range(0, gray.shape[0], TILE):
            for left in range(0, gray.shape[1], TILE):
                tile = np.zeros((TILE, TILE), np.uint8)
                part = gray[top:top + TILE, left:left + TILE]
                tile[:part.shape[0], :part.shape[1]] = part
                buffer = io.BytesIO()
                Image.fromarray(tile).save(buffer, format="JPEG", quality=95)
                yield buffer.getvalue()

    tifffile.imwrite(path, tiles(), shape=gray.shape, dtype=np.uint8, tile=(TILE, TILE),
                     compression="zlib", photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        position, byteorder = tif.pages[0].tags["Compression"].valueoffset, tif.byteorder
    with open(path, "r+b") as f:
        f.seek(position)
        f.write(struct.pack(byteorder + "H", 7))


class RegionDataset:
    """Map-style dataset of fixed regions: what a patch sampler hands DataLoader workers."""

    def __init__(self, image: TiffImage, corners: list[tuple[int, int]]) -> None:
        self.image, self.corners = image, corners

    def __len__(self) -> int:
        return len(self.corners)

    def __getitem__(self, index: int) -> torch.Tensor:
        top, left = self.corners[index]
        return torch.from_numpy(self.image.read_region(top, left, 64, 64))


@pytest.fixture
def rgb(rng) -> np.ndarray:
    """BreCaHAD-sized H&E stand-in: 1024 x 1360 RGB uint8."""
    return rng.integers(0, 256, (1024, 1360, 3), dtype=np.uint8)


@pytest.fixture
def tiled(tmp_path, rgb):
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(path, rgb, tile=(TILE, TILE), compression="zlib", photometric="rgb")
    return path


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("rowsperstrip", [7, 1024], ids=["small-strips", "single-strip"])
def test_smoke_strip_tiff(tmp_path, rgb, rng, rowsperstrip):
    path = tmp_path / "brecahad.tif"
    tifffile.imwrite(path, rgb, photometric="rgb", rowsperstrip=rowsperstrip)
    with TiffImage(path) as image:
        assert TiffImageFromModule is TiffImage
        assert image.shape == (1024, 1360, 3) and image.dtype == np.uint8
        assert image.levels == (TiffLevel(0, (1024, 1360, 3), 1.0),)
        assert "shape=(1024, 1360, 3)" in repr(image)
        assert_regions_match(image, rgb, 0, rng)


RGB, GRAY = (700, 900, 3), (700, 900)
TILED = {"tile": (128, 192)}


@pytest.mark.parametrize(
    ("shape", "dtype", "options"),
    [
        pytest.param(RGB, np.uint8, {**TILED, "compression": "zlib"}, id="rgb-zlib"),
        pytest.param(RGB, np.uint8, {**TILED, "compression": "lzma"}, id="rgb-lzma"),
        pytest.param(RGB, np.uint8, {**TILED, "planarconfig": "separate"}, id="rgb-planar"),
        pytest.param(RGB, np.uint8, {"planarconfig": "separate", "rowsperstrip": 50},
                     id="rgb-planar-strips"),
        pytest.param(GRAY, np.uint16, {**TILED, "compression": "zlib", "predictor": True,
                                       "byteorder": ">"}, id="gray16-predictor-bigendian"),
        pytest.param(GRAY, np.float32, {**TILED, "compression": "zlib"}, id="float32"),
    ],
)
def test_matches_reference(tmp_path, rng, shape, dtype, options):
    data = (rng.random(shape) * 60000).astype(dtype)
    planar = options.get("planarconfig") == "separate"
    path = tmp_path / "image.tif"
    tifffile.imwrite(path, np.moveaxis(data, -1, 0) if planar else data,
                     photometric="rgb" if len(shape) == 3 else "minisblack", **options)
    with TiffImage(path) as image:
        assert image.shape == shape and image.dtype == dtype and image.dtype.isnative
        assert_regions_match(image, data, 0, rng)


def _write_subifd_pyramid(path, base):
    with tifffile.TiffWriter(path) as tif:
        tif.write(base, subifds=2, tile=(TILE, TILE), compression="zlib", photometric="rgb")
        for factor in (2, 4):
            tif.write(base[::factor, ::factor], subfiletype=1, tile=(TILE, TILE),
                      compression="zlib", photometric="rgb")


def _write_ome_pyramid(path, base):
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(base, subifds=2, tile=(TILE, TILE), photometric="rgb", metadata={"axes": "YXS"})
        for factor in (2, 4):
            tif.write(base[::factor, ::factor], subfiletype=1, tile=(TILE, TILE),
                      photometric="rgb")


def _write_page_pyramid(path, base):
    with tifffile.TiffWriter(path) as tif:
        for factor in (1, 2, 4):
            tif.write(base[::factor, ::factor], subfiletype=0 if factor == 1 else 1,
                      tile=(TILE, TILE), compression="zlib", photometric="rgb", metadata=None)


@pytest.mark.parametrize(
    "writer", [_write_subifd_pyramid, _write_ome_pyramid, _write_page_pyramid],
    ids=["subifds", "ome-subifds", "reduced-pages"],
)
def test_pyramid_levels_match_reference(tmp_path, rng, rgb, writer):
    path = tmp_path / ("pyramid.ome.tif" if writer is _write_ome_pyramid else "pyramid.tif")
    writer(path, rgb)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series[0].levels) == 3  # what tifffile reports for this layout
    with TiffImage(path) as image:
        assert [(lv.index, lv.shape, lv.downsample) for lv in image.levels] == [
            (0, (1024, 1360, 3), 1.0), (1, (512, 680, 3), 2.0), (2, (256, 340, 3), 4.0)
        ]
        for level, factor in enumerate((1, 2, 4)):
            assert_regions_match(image, rgb[::factor, ::factor], level, rng)
        np.testing.assert_array_equal(image.read_region(5, 6, 7, 8, level=-1),
                                      rgb[::4, ::4][5:12, 6:14])


def test_unflagged_pages_are_separate_series(tmp_path, rgb):
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(rgb, photometric="rgb", tile=(TILE, TILE))
        tif.write(rgb[::2, ::2], photometric="rgb", tile=(TILE, TILE))
    with TiffImage(path) as first:
        assert len(first.levels) == 1
    with TiffImage(path, series=1) as second:
        assert second.shape == (512, 680, 3)
        np.testing.assert_array_equal(second.read_region(0, 0, 512, 680), rgb[::2, ::2])
    with pytest.raises(IndexError, match="series 2 is out of range"):
        TiffImage(path, series=2)


def test_sparse_tiles_read_as_nodata(tmp_path):
    tile = np.full((TILE, TILE), 9, np.uint16)
    path = tmp_path / "sparse.tif"
    tifffile.imwrite(path, iter([tile, None, None, tile]), shape=(400, 400), dtype=np.uint16,
                     tile=(TILE, TILE))
    with TiffImage(path) as image:
        region = image.read_region(200, 200, 100, 100)
        np.testing.assert_array_equal(region, tifffile.imread(path)[200:300, 200:300])
        assert set(np.unique(region)) == {0, 9}


def test_reads_only_intersecting_tiles(tiled, monkeypatch):
    fetched: list[int] = []
    original = TiffImage._read_bytes

    def spy(self, offset, count):
        fetched.append(offset)
        return original(self, offset, count)

    monkeypatch.setattr(TiffImage, "_read_bytes", spy)
    with tifffile.TiffFile(tiled) as tif:
        offsets = tif.pages[0].dataoffsets  # a 4 x 6 grid of tiles
    with TiffImage(tiled) as image:
        image.read_region(256, 512, 256, 256)  # exactly tile (1, 2)
        assert fetched == [offsets[1 * 6 + 2]]
        image.read_region(300, 200, 300, 600)  # rows 1..2, columns 0..3 of the grid
        assert sorted(fetched[1:]) == sorted(offsets[r * 6 + c] for r in (1, 2) for c in range(4))
        image.read_region(-10, -10, 5, 5, bounds="pad")  # wholly outside: no I/O
        assert len(fetched) == 1 + 8


def test_concurrent_threads(tiled, rgb):
    corners = [(int(t), int(left)) for t, left in np.random.default_rng(1).integers(0, 900, (64, 2))]
    with TiffImage(tiled) as image, ThreadPoolExecutor(4) as pool:
        regions = list(pool.map(lambda c: image.read_region(*c, 100, 100), corners))
    for (top, left), region in zip(corners, regions, strict=True):
        np.testing.assert_array_equal(region, rgb[top:top + 100, left:left + 100])


def test_large_pyramid_reads_stay_small(big_pyramid):
    tracemalloc.start()
    try:
        with TiffImage(big_pyramid) as image:
            assert image.shape == (BIG, BIG, 3)
            assert [lv.shape[0] for lv in image.levels] == [BIG >> i for i in range(BIG_LEVELS)]
            assert [lv.downsample for lv in image.levels] == [2.0**i for i in range(BIG_LEVELS)]
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            region = image.read_region(10_100, 7_000, 512, 512)  # 3 x 3 tiles, mid-slide
            low = image.read_region(0, 0, 2500, 2500, level=3)  # a whole low level
            corner = image.read_region(BIG - 300, BIG - 200, 512, 512, bounds="pad", fill=1)
            peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"reading raised the Python heap by {peak / 2**20:.1f} MiB"
    np.testing.assert_array_equal(region, pattern(0, 10_100, 7_000, 512, 512))
    np.testing.assert_array_equal(low, pattern(3, 0, 0, 2500, 2500))
    np.testing.assert_array_equal(corner[:300, :200], pattern(0, BIG - 300, BIG - 200, 300, 200))
    assert (corner[300:] == 1).all() and (corner[:, 200:] == 1).all()


# --- bounds and requests ------------------------------------------------------------------


def test_bounds_pad_and_error(tiled, rgb):
    with TiffImage(tiled) as image:
        outside = image.read_region(5000, -900, 10, 20, bounds="pad", fill=3)
        assert outside.shape == (10, 20, 3) and (outside == 3).all()
        with pytest.raises(ValueError, match=r"rows 1000:1100, columns 0:10 .*\(1024, 1360, 3\)"):
            image.read_region(1000, 0, 100, 10)
        with pytest.raises(ValueError, match=r"rows 5000:5010, columns -900:-880"):
            image.read_region(5000, -900, 10, 20, bounds="error")


@pytest.mark.parametrize(
    ("request_kwargs", "error", "match"),
    [
        ({"height": -1}, ValueError, "at least 1"),
        ({"width": 0}, ValueError, "at least 1"),
        ({"level": 1}, IndexError, r"level 1 is out of range: .* has 1 level"),
        ({"level": -2}, IndexError, "level -2 is out of range"),
        ({"bounds": "clip"}, ValueError, "bounds must be 'error' or 'pad'"),
        ({"fill": -1}, ValueError, r"fill=-1 cannot be stored .* uint8"),
        ({"fill": 0.5}, ValueError, "fill=0.5 cannot be stored"),
        ({"fill": [1, 2, 3]}, ValueError, "fill must be a real number"),
    ],
)
def test_exception_bad_requests(tiled, request_kwargs, error, match):
    arguments = {"top": 0, "left": 0, "height": 10, "width": 10, "level": 0, **request_kwargs}
    with TiffImage(tiled) as image, pytest.raises(error, match=match):
        image.read_region(**arguments)


def test_nan_fill_for_float_images(tmp_path):
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, np.ones((20, 30), np.float32))
    with TiffImage(path) as image:
        region = image.read_region(15, 25, 10, 10, bounds="pad", fill=float("nan"))
    assert np.isnan(region[5:, :]).all() and (region[:5, :5] == 1).all()


# --- lifetime, pickling, workers ----------------------------------------------------------


def test_context_manager_and_close(tiled):
    with TiffImage(tiled) as image:
        image.read_region(0, 0, 4, 4)
    with pytest.raises(ValueError, match="closed TiffImage"):
        image.read_region(0, 0, 4, 4)
    image.close()  # twice is harmless
    assert image.shape == (1024, 1360, 3)  # metadata stays available


def test_pickle_round_trip(tiled, rgb):
    image = TiffImage(tiled)
    image.read_region(0, 0, 8, 8)
    copy = pickle.loads(pickle.dumps(image))
    assert copy._tif is None  # the handle was dropped; opened again on first use
    assert copy.levels == image.levels and copy.dtype == image.dtype
    np.testing.assert_array_equal(copy.read_region(100, 200, 50, 60), rgb[100:150, 200:260])
    image.close()
    copy.close()


def test_exception_file_changed_since_pickled(tmp_path, rgb):
    path = tmp_path / "changing.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    with TiffImage(path) as image:
        blob = pickle.dumps(image)
    tifffile.imwrite(path, rgb[:100], photometric="rgb")
    with pytest.raises(DataFormatError, match="changed since it was opened"):
        pickle.loads(blob).read_region(0, 0, 10, 10)


@pytest.mark.parametrize("context", ["spawn", "fork"])
def test_dataloader_workers(tiled, rgb, context):
    corners = [(int(t), int(left)) for t, left in np.random.default_rng(2).integers(0, 900, (12, 2))]
    image = TiffImage(tiled)
    image.read_region(0, 0, 8, 8)  # the parent's handle is open (and shared under fork)
    loader = torch.utils.data.DataLoader(RegionDataset(image, corners), batch_size=3,
                                         num_workers=2, multiprocessing_context=context)
    batches = torch.cat(list(loader)).numpy()
    expected = np.stack([rgb[t:t + 64, left:left + 64] for t, left in corners])
    np.testing.assert_array_equal(batches, expected)
    np.testing.assert_array_equal(image.read_region(0, 0, 8, 8), rgb[:8, :8])  # parent unharmed
    image.close()


def _read_in_child(image: TiffImage) -> None:
    region = image.read_region(768, 1024, 256, 256)
    raise SystemExit(0 if region.shape == (256, 256, 3) else 1)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_forked_child_opens_its_own_file(tiled, rgb):
    image = TiffImage(tiled)
    image.read_region(0, 0, 8, 8)
    descriptor = image._tif.filehandle._fh.fileno()
    before = os.lseek(descriptor, 0, os.SEEK_CUR)  # shared with a child that would reuse it
    child = multiprocessing.get_context("fork").Process(target=_read_in_child, args=(image,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert os.lseek(descriptor, 0, os.SEEK_CUR) == before, "the child moved the parent's file"
    np.testing.assert_array_equal(image.read_region(0, 0, 8, 8), rgb[:8, :8])
    image.close()


# --- bad files ----------------------------------------------------------------------------


def test_exception_not_a_tiff(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("these are notes, not pixels\n" * 20)
    with pytest.raises(DataFormatError, match=r"notes\.tif: cannot be read as TIFF"):
        TiffImage(path)


def test_exception_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent\.tif: no such file"):
        TiffImage(tmp_path / "absent.tif")


@pytest.mark.parametrize("keep", [0, 8, 100, 0.5, -1], ids=lambda k: f"keep-{k}")
def test_exception_truncated(tiled, tmp_path, keep):
    data = tiled.read_bytes()
    size = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path = tmp_path / "truncated.tif"
    path.write_bytes(data[:size])
    with pytest.raises(DataFormatError, match=r"truncated\.tif"):
        read_everything(path)


def _flip_positions(path) -> dict[str, range]:
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        tags = page.tags
        return {
            "byte-order": range(0, 2),
            "magic": range(2, 4),
            "first-ifd-offset": range(4, 8),
            "tag-count": range(page.offset, page.offset + 2),
            "image-width": range(tags["ImageWidth"].valueoffset, tags["ImageWidth"].valueoffset + 2),
            "tile-length": range(tags["TileLength"].valueoffset, tags["TileLength"].valueoffset + 2),
            "compression": range(tags["Compression"].valueoffset, tags["Compression"].valueoffset + 2),
            "tile-offsets": range(tags["TileOffsets"].valueoffset, tags["TileOffsets"].valueoffset + 4),
        }


@pytest.mark.parametrize(
    "field", ["byte-order", "magic", "first-ifd-offset", "tag-count", "image-width",
              "tile-length", "compression", "tile-offsets"],
)
def test_exception_byte_flipped(tiled, tmp_path, field):
    path = tmp_path / "flipped.tif"
    path.write_bytes(flipped(tiled.read_bytes(), _flip_positions(tiled)[field]))
    with pytest.raises(DataFormatError, match=r"flipped\.tif"):
        read_everything(path)


def test_exception_corrupt_compressed_tile(tiled, tmp_path, rgb):
    with tifffile.TiffFile(tiled) as tif:
        offset = tif.pages[0].dataoffsets[6]  # row 1, column 0 of a 4 x 6 tile grid
    path = tmp_path / "corrupt.tif"
    path.write_bytes(flipped(tiled.read_bytes(), range(offset, offset + 64)))
    with TiffImage(path) as image:
        np.testing.assert_array_equal(image.read_region(0, 0, 256, 256), rgb[:256, :256])
        with pytest.raises(DataFormatError, match=r"corrupt\.tif: level 0 tile 6 at row 256") as info:
            image.read_region(300, 10, 20, 20)
    # tifffile decodes zlib with the standard library, or with imagecodecs when installed
    assert isinstance(info.value.__cause__, RuntimeError if HAS_IMAGECODECS else zlib.error)


def test_exception_stack_is_not_an_image(tmp_path, rgb):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.stack([rgb[:64, :64]] * 3), photometric="rgb")
    with pytest.raises(DataFormatError, match=r"stack\.tif: series 0 level 0 holds 3 pages"):
        TiffImage(path)


# --- JPEG (needs imagecodecs) -------------------------------------------------------------


@pytest.fixture
def jpeg_tiled(tmp_path):
    gray = (np.add.outer(np.arange(300), np.arange(400)) % 256).astype(np.uint8)
    path = tmp_path / "jpeg.tif"
    write_jpeg_tiles(path, gray)
    return path, gray


@pytest.mark.skipif(HAS_IMAGECODECS, reason="checks the message shown without imagecodecs")
def test_exception_jpeg_without_imagecodecs(jpeg_tiled):
    path, _ = jpeg_tiled
    with TiffImage(path) as image:
        assert image.shape == (300, 400)  # metadata needs no codec
        with pytest.raises(MissingDependencyError, match=r"jpeg\.tif: .*JPEG.*pip install imagecodecs"):
            image.read_region(0, 0, 10, 10)


@pytest.mark.skipif(not HAS_IMAGECODECS, reason="JPEG decoding needs imagecodecs")
def test_jpeg_matches_reference(jpeg_tiled, rng):
    path, gray = jpeg_tiled
    with TiffImage(path) as image:
        assert_regions_match(image, tifffile.imread(path), 0, rng)
        assert np.abs(image.read_region(0, 0, 300, 400).astype(int) - gray).mean() < 2

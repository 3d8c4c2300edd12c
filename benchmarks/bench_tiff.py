"""Random 512 x 512 regions per second from a large tiled, zlib-compressed TIFF pyramid.

Claim: :meth:`histomammo.io.TiffImage.read_region`, which reads and decodes only the tiles a
region touches through tifffile's own segment table, is faster than the peer that reads
the same tiles through zarr (``zarr.open(TiffFile.aszarr(level=0))[rows, cols]``, the store
opened once and reused), and orders of magnitude faster than the naive
``tifffile.imread(path, key=...)[rows, cols]``, which decodes the whole level per region
(timed on one region only).

The slide is a 16384 x 16384 RGB uint8 SubIFD pyramid (3 levels) of 256 x 256 tiles,
zlib-compressed at level 6; its tiles are drawn from 64 distinct H&E-like textures, so it is
written in seconds yet decodes like a real slide. The file is in the page cache for every
contender (this measures the reader, not the disk). Every contender reads the same regions,
and their pixels are checked to be equal.

Run: ``python benchmarks/bench_tiff.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
import zlib
from pathlib import Path

import numpy as np
import tifffile
import zarr
from harness import max_rss_mb, measure, print_ratio, report
from scipy import ndimage

from histomammo.io import TiffImage

TILE = 256
REGION = 512


def textures(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """``count`` 256 x 256 RGB tiles of smoothed noise in H&E-like pink and purple."""
    tiles = []
    for _ in range(count):
        noise = ndimage.gaussian_filter(rng.normal(size=(TILE, TILE)), 3)
        noise = (noise - noise.min()) / np.ptp(noise)
        stain = np.array([210, 140, 190]) - noise[..., None] * np.array([90, 110, 40])
        grain = rng.normal(0, 4, (TILE, TILE, 3))
        tiles.append(np.clip(stain + grain, 0, 255).astype(np.uint8))
    return tiles


def write_slide(path: Path, size: int, levels: int, rng: np.random.Generator) -> None:
    """A SubIFD pyramid whose tiles cycle through pre-compressed textures."""
    encoded = [zlib.compress(t.tobytes(), 6) for t in textures(rng, 64)]

    def tiles(level_size: int):
        per_side = -(-level_size // TILE)
        for index in range(per_side * per_side):
            yield encoded[(index * 37) % len(encoded)]

    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for level in range(levels):
            level_size = size >> level
            where = {"subifds": levels - 1} if level == 0 else {"subfiletype": 1}
            tif.write(tiles(level_size), shape=(level_size, level_size, 3), dtype=np.uint8,
                      tile=(TILE, TILE), compression="zlib", photometric="rgb", **where)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384, help="level-0 side in pixels")
    parser.add_argument("--regions", type=int, default=200, help="regions per timed run")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slide.tif"
        write_slide(path, args.size, 3, rng)
        corners = rng.integers(0, args.size - REGION, (args.regions, 2)).tolist()
        image = TiffImage(path)
        tif = tifffile.TiffFile(path)
        store = zarr.open(tif.aszarr(level=0), mode="r")
        print(f"{path.stat().st_size / 2**20:.0f} MiB file, {args.size}^2 RGB level 0, "
              f"{args.regions} random {REGION}x{REGION} regions per run")

        def ours() -> None:
            for top, left in corners:
                image.read_region(top, left, REGION, REGION)

        def via_zarr() -> None:
            for top, left in corners:
                store[top:top + REGION, left:left + REGION]

        naive_corners = corners[:1]

        def via_imread() -> None:
            for top, left in naive_corners:
                tifffile.imread(path, key=0)[top:top + REGION, left:left + REGION]

        for top, left in corners[:5]:
            expected = store[top:top + REGION, left:left + REGION]
            assert np.array_equal(image.read_region(top, left, REGION, REGION), expected)
        ours_t = measure("histomammo TiffImage.read_region", ours, trace_memory=True)
        zarr_t = measure("zarr over tifffile aszarr", via_zarr, trace_memory=True)
        naive_t = measure("tifffile.imread + slice", via_imread, warmup=0, repeats=1)
        report(ours_t, args.regions, "regions")
        report(zarr_t, args.regions, "regions")
        report(naive_t, len(naive_corners), "regions")
        print_ratio(ours_t, zarr_t, "zarr (tifffile aszarr)")
        print_ratio(ours_t, naive_t, "tifffile.imread+slice",
                    ours_items=args.regions, peer_items=len(naive_corners))
        print(f"peak RSS {max_rss_mb():.0f} MiB")
        image.close()
        tif.close()


if __name__ == "__main__":
    main()

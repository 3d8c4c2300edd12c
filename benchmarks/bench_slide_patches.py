"""Patches/s of ``SlidePatches`` from a 20000x20000 JPEG-tiled pyramid, with tissue masking.

Claims: in random order at least OpenSlide's rate, in grid order at least 3x it, with peak
memory under 100 MB over the baseline. Contenders read the same tissue patches (positions
from ``SlidePatches`` with PCam's saturation mask, computed on the smallest level):

- histomammo ``SlidePatches``: grid order reads aligned blocks and keeps two block rows,
  so each tile is decoded once; random order reads each patch's tiles.
- OpenSlide (``openslide-python`` with ``openslide-bin``): ``read_region`` per patch, with
  its default tile cache, RGBA converted to RGB.
- tifffile whole-tile reads: per patch, the tiles it touches read and decoded with
  tifffile's own ``page.decode`` (no cache), then cropped.

The slide is written with ``histomammo.datasets.synthetic.make_slide`` (reduced-resolution
pages, which OpenSlide's generic-TIFF driver reads as levels). Peak memory is the largest
Python heap growth (numpy buffers included) of one run, under ``tracemalloc``.

Run: ``python benchmarks/bench_slide_patches.py`` (``--size 8192`` for a quicker run).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from harness import measure, print_ratio, report

from histomammo.datasets.synthetic import make_slide
from histomammo.io import TiffImage
from histomammo.transforms.patches import SlidePatches
from histomammo.transforms.tissue import tissue_mask


def openslide_reader(path: Path, patch: int):
    import openslide

    slide = openslide.OpenSlide(str(path))

    def read(y: int, x: int) -> np.ndarray:
        return np.asarray(slide.read_region((x, y), 0, (patch, patch)))[..., :3]

    return read


def tifffile_reader(path: Path, patch: int):
    tif = tifffile.TiffFile(path)
    page = tif.pages[0]
    th, tw = page.tilelength, page.tilewidth
    across = -(-page.imagewidth // tw)
    fh = tif.filehandle
    decode = page.decode  # built once: building it reads tags, moving the file position

    def read(y: int, x: int) -> np.ndarray:
        out = np.empty((patch, patch, 3), np.uint8)
        for row in range(y // th, (y + patch - 1) // th + 1):
            for col in range(x // tw, (x + patch - 1) // tw + 1):
                index = row * across + col
                fh.seek(page.dataoffsets[index])
                tile = decode(fh.read(page.databytecounts[index]), index)[0][0]
                y0, x0 = max(y, row * th), max(x, col * tw)
                y1, x1 = min(y + patch, (row + 1) * th), min(x + patch, (col + 1) * tw)
                out[y0 - y : y1 - y, x0 - x : x1 - x] = \
                    tile[y0 - row * th : y1 - row * th, x0 - col * tw : x1 - col * tw]
        return out

    read.tif = tif  # keep the file open as long as the reader lives
    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000, help="level-0 side in pixels")
    parser.add_argument("--patch", type=int, default=224)
    parser.add_argument("--grid", type=int, default=1500, help="grid patches timed")
    parser.add_argument("--random", type=int, default=400, help="random patches timed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--block", type=int, nargs=2, default=(256, 512),
                        help="SlidePatches block (rows, columns)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slide.tif"
        make_slide(path, (args.size, args.size), tile=256, levels=5, compression="jpeg",
                   layout="pages", seed=0)
        print(f"{args.size}x{args.size} RGB JPEG-tiled pyramid, {path.stat().st_size / 2**20:.0f} "
              f"MiB; patches {args.patch}x{args.patch} at level 0 with >= 50% tissue")
        image = TiffImage(path)
        mask = tissue_mask(image, "saturation")
        peers = {"OpenSlide": openslide_reader(path, args.patch),
                 "tifffile whole tiles": tifffile_reader(path, args.patch)}
        for order, count in (("grid", args.grid), ("random", args.random)):
            options = {"n": count, "seed": 0} if order == "random" else {}
            patches = SlidePatches(image, args.patch, tissue_mask=mask, block=tuple(args.block),
                                   **options)
            subset = range(min(count, len(patches)))
            positions = patches.positions[list(subset)]
            for name, read in peers.items():  # same pixels (OpenSlide up to its JPEG decoder)
                difference = np.abs(read(*positions[0]).astype(int)
                                    - patches[0][0].permute(1, 2, 0).numpy()).mean()
                print(f"{name}: mean |difference| on patch 0 = {difference:.2f}")

            def ours(patches=patches, subset=subset) -> None:
                patches._cache.clear()  # every run starts cold
                for i in subset:
                    patches[i]

            print(f"-- {order} order, {len(subset)} patches")
            timing = measure(f"histomammo SlidePatches ({order})", ours, repeats=args.repeats,
                             trace_memory=True)
            report(timing, items=len(subset), unit="patches")
            for name, read in peers.items():
                def theirs(read=read, positions=positions) -> None:
                    for y, x in positions:
                        read(y, x)

                peer = measure(f"{name} ({order})", theirs, repeats=args.repeats,
                               trace_memory=True)
                report(peer, items=len(subset), unit="patches")
                print_ratio(timing, peer, f"{name} ({order})")


if __name__ == "__main__":
    main()

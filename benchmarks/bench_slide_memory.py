"""Bounded memory at level 0: peak RSS of ``segment_slide(out=...)`` on 20,000² and 60,000² slides.

Each slide is written tile by tile by ``make_slide`` (JPEG tiles, 4 levels, never in memory),
then segmented AT LEVEL 0 by a tiny fully-convolutional model (one 1x1 convolution, so the
pipeline around the model, not the model, is what is measured) into a ``.zarr``, in its own
process (its peak RSS, ``ru_maxrss``, is its own), on one thread. The tissue mask is the
slide's own drawn tissue section (``SyntheticSlide.tissue``) kept in one tile-sized square of
every ``--every`` x ``--every``, so the tiles run are spread over the whole slide (every stripe
and chunk row is visited and written) while their count stays small enough for a shared CPU;
``--every 1`` runs every tile with tissue.

    python benchmarks/bench_slide_memory.py --folder /tmp/big [--every 4] [--sides 20000 60000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve()
PATCH, OVERLAP = 512, 64


def _mask(tissue: np.ndarray, every: int, block: int) -> np.ndarray:
    """The tissue mask kept in one ``block``-pixel square of every ``every`` x ``every``."""
    rows, cols = np.indices(tissue.shape) // block
    return tissue & (rows % every == 0) & (cols % every == 0)


def _worker(slide: str, mask_path: str, out: str) -> None:
    from histomammo.inference import segment_slide
    from histomammo.io import TiffImage

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 2, 1).eval()
    mask = np.load(mask_path)
    start = time.perf_counter()
    with TiffImage(slide) as image:
        segment_slide(model, image, patch_size=PATCH, overlap=OVERLAP, level=0, tissue=mask,
                      out=out, batch_size=4, progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def _tiles(shape: tuple[int, int], mask: np.ndarray) -> int:
    """Tiles the run visits (those touching the mask; segment_slide's min_tissue=0)."""
    from histomammo.inference._tiles import grid_starts

    step, down = PATCH - OVERLAP, shape[0] / mask.shape[0]
    count = 0
    for y in grid_starts(shape[0], PATCH, step, flush=True):
        for x in grid_starts(shape[1], PATCH, step, flush=True):
            rows = slice(int(y // down), int(np.ceil((y + PATCH) / down)))
            cols = slice(int(x // down), int(np.ceil((x + PATCH) / down)))
            count += bool(mask[rows, cols].any())
    return count


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        _worker(*sys.argv[2:5])
        return
    from histomammo.datasets.synthetic import make_slide

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/bench_slides_level0")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--sides", type=int, nargs="+", default=[20000, 60000])
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for side in args.sides:
        slide, tissue = folder / f"slide_{side}.tif", folder / f"tissue_{side}.npy"
        if not (slide.exists() and tissue.exists()):
            begun = time.perf_counter()
            drawn = make_slide(slide, (side, side), tile=512, levels=4, compression="jpeg",
                               seed=side)
            np.save(tissue, drawn.tissue)
            print(f"wrote {slide} in {time.perf_counter() - begun:.0f} s", flush=True)
        drawn_tissue = np.load(tissue)
        block = max(1, round(PATCH * drawn_tissue.shape[0] / side))  # one tile's side
        mask = _mask(drawn_tissue, args.every, block)
        np.save(folder / f"mask_{side}.npy", mask)
        out = folder / f"probs_{side}.zarr"
        shutil.rmtree(out, ignore_errors=True)
        env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
        done = subprocess.run([sys.executable, str(HERE), "worker", str(slide),
                               str(folder / f"mask_{side}.npy"), str(out)],
                              capture_output=True, text=True, env=env)
        if done.returncode:
            print(done.stderr[-2000:])
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row.update(side=side, tiles=_tiles((side, side), mask),
                   tissue_share=float(mask.mean()), load=os.getloadavg())
        rows.append(row)
        print(f"{side}^2 level 0: {row['tiles']} tiles, {row['seconds']:.1f} s "
              f"({1000 * row['seconds'] / max(row['tiles'], 1):.1f} ms/tile), "
              f"peak RSS {row['peak_mb']:.0f} MB, load {row['load']}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    if len(rows) == 2:
        print(f"peak RSS difference: {rows[1]['peak_mb'] - rows[0]['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()

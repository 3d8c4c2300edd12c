"""A predict_slides run for the kill/resume and torchrun tests (run as a subprocess).

Usage: python _predict_run.py SLIDES_DIR OUT_DIR NUM_WORKERS SLEEP_PER_BATCH
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn

from histomammo.inference import _sinks, predict_slides, segment, segment_slide

SMALL = {(_sinks, "CHUNK"): 64, (segment, "CHUNK"): 64, (segment, "_STRIPE"): 128}


class SlowNet(nn.Module):
    """Two seeded convolutions; sleeps per batch so a kill can land mid-slide."""

    def __init__(self, sleep: float) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(4, 2, 3, padding=1))
        self.sleep = sleep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.sleep)
        return self.net(x)


def run(slides_dir: str, out_dir: str, workers: int, sleep: float) -> None:
    """predict_slides over the folder's slides: segment_slide to .zarr, resumable."""
    model = SlowNet(sleep)

    def predict(slide, out):
        segment_slide(model, slide, patch_size=48, overlap=16, tissue=None, out=out,
                      resume=True, batch_size=4, num_workers=int(workers), progress=False)

    predict_slides(sorted(Path(slides_dir).glob("*.tif")), predict, out_dir, progress=False)


def main() -> None:
    for (module, name), value in SMALL.items():  # small chunks and stripes: many flushes
        setattr(module, name, value)
    torch.set_num_threads(1)
    print("ready", flush=True)
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    print("done", flush=True)


if __name__ == "__main__":
    main()

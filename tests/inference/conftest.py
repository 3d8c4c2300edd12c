"""Fixtures of the whole-slide inference tests: small pyramidal slides and tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from torch import nn

from histomammo.datasets.synthetic import make_slide
from histomammo.io import TiffImage


class TinyClassifier(nn.Module):
    """Two conv layers, global pooling and a linear head: ``(N, 3, h, w)`` -> ``(N, 2)``."""

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@pytest.fixture(scope="module")
def slide(tmp_path_factory):
    """A 512 x 768 H&E slide with two levels (SubIFD pyramid) and its masks."""
    folder = tmp_path_factory.mktemp("slide")
    return make_slide(folder / "slide.tif", (512, 768), levels=2, tile=128, seed=3)


@pytest.fixture
def image(slide):
    with TiffImage(slide.path) as opened:
        yield opened


@pytest.fixture(scope="module")
def mpp_slide(tmp_path_factory):
    """A 3-level slide at 0.25 um/px (levels 0.25, 0.5, 1.0) stating its resolution in cm."""
    path = tmp_path_factory.mktemp("mpp") / "mpp.tif"
    rgb = np.random.default_rng(1).integers(0, 256, (512, 512, 3), dtype=np.uint8)
    with tifffile.TiffWriter(path) as tif:
        tif.write(rgb, tile=(128, 128), subifds=2, photometric="rgb",
                  resolution=(40000.0, 40000.0), resolutionunit="CENTIMETER")
        for factor in (2, 4):
            tif.write(rgb[::factor, ::factor], tile=(64, 64), subfiletype=1, photometric="rgb")
    return path


@pytest.fixture
def classifier():
    return TinyClassifier().eval()


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Small convolutions on the shared 2-core machine run fastest on one thread."""
    yield

"""The slide protocol the patch and tissue readers take: TiffImage is one, duck types too."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from histomammo.transforms._slide import Slide
from histomammo.transforms.patches.slide import SlidePatches
from histomammo.transforms.tissue import tissue_mask


@dataclass(frozen=True)
class _Level:
    index: int
    shape: tuple[int, ...]
    downsample: float


class _ArraySlide:
    """A one-level slide held in memory: what a reader of another format provides."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        self.levels = (_Level(0, pixels.shape, 1.0),)
        self.dtype = pixels.dtype

    def read_region(self, top: int, left: int, height: int, width: int, level: int = 0, *,
                    bounds: str = "error", fill: float = 0) -> np.ndarray:
        out = np.full((height, width, 3), fill, self.pixels.dtype)
        part = self.pixels[top:top + height, left:left + width]
        out[:part.shape[0], :part.shape[1]] = part
        return out


def test_an_in_memory_slide_is_read_like_a_tiff():
    pixels = np.full((64, 64, 3), 240, np.uint8)
    pixels[:32, :32] = (150, 60, 150)  # stained tissue in the top-left quarter
    slide = _ArraySlide(pixels)
    assert isinstance(slide, Slide)
    mask = tissue_mask(slide, "saturation", level=0)
    assert mask.mask[:32, :32].all() and not mask.mask[32:, 32:].any()
    patches = SlidePatches(slide, 16, tissue_mask=mask, min_tissue=0.5)
    assert len(patches) == 4  # the grid's four patches inside the tissue
    image, where = patches[0]
    assert tuple(image.shape) == (3, 16, 16)


def test_an_object_without_read_region_is_not_a_slide():
    assert not isinstance(object(), Slide)

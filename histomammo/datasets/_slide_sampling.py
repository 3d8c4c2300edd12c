"""PCam's patch sampling from one slide: tissue filter, centre-32 labelling, class choice.

Private helpers of
[`histomammo.datasets.pcam_from_slides.make_pcam_from_slides`][histomammo.datasets.make_pcam_from_slides].
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io import TiffImage
from histomammo.transforms.tissue import TissueMask, saturation_mask, tissue_mask

__all__ = ["Candidate", "SlideSource", "load_mask"]

PATCH = 96
CENTRE = (32, 64)  # the centre 32x32 region, in patch pixels


def load_mask(mask: Any, name: str) -> np.ndarray | None:
    """An annotation mask as a 2-D bool array: an array, a ``.npy``, a PNG or TIFF; None stays None."""
    if mask is None or isinstance(mask, np.ndarray):
        array = mask
    else:
        path = Path(mask)
        if not path.exists():
            raise MissingFileError(f"{path}: no such annotation mask (for {name})")
        try:
            if path.suffix == ".npy":
                array = np.load(path, allow_pickle=False)
            elif path.suffix.lower() in (".tif", ".tiff"):
                with TiffImage(path) as image:
                    array = image.read_region(0, 0, *image.levels[0].shape[:2])
            else:
                array = np.asarray(Image.open(path))
        except (OSError, ValueError) as err:
            if isinstance(err, DataFormatError):
                raise
            raise DataFormatError(f"{path}: cannot be read as an annotation mask ({err})") from err
    if array is None:
        return None
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., 0]
    if array.ndim != 2:
        raise DataFormatError(f"annotation mask for {name}: shape {array.shape}; expected (h, w)")
    return array > 0


@dataclass
class Candidate:
    """A patch drawn from a slide, in pixels of the sampling level."""

    top: int
    left: int
    pixels: np.ndarray
    tumor_patch: bool
    center_tumor_patch: bool


class SlideSource:
    """One slide, its tumour mask mapped to level 0, and PCam's rules for its patches."""

    def __init__(self, path: str | os.PathLike[str], mask: np.ndarray | None, level: int,
                 threshold: float, name: str) -> None:
        self.image = TiffImage(path)
        self.name, self.threshold = name, threshold
        self.level = self.image.levels[level].index
        self.downsample = float(self.image.levels[self.level].downsample)
        self.shape = self.image.levels[self.level].shape[:2]
        self.tissue = tissue_mask(self.image, "saturation", threshold=threshold)
        self.tumour = None if mask is None else TissueMask(mask, self._mask_scale(mask))

    def _mask_scale(self, mask: np.ndarray) -> float:
        """Level-0 pixels per mask pixel; DataFormatError if the aspect ratio differs."""
        height, width = self.image.levels[0].shape[:2]
        scale_y, scale_x = height / mask.shape[0], width / mask.shape[1]
        if abs(mask.shape[1] * scale_y - width) > 1.5 * scale_y:  # beyond rounding
            raise DataFormatError(
                f"annotation mask for {self.image.path}: shape {mask.shape} has another aspect "
                f"ratio than the slide's level 0 {(height, width)}; expected a downscaled copy"
            )
        return (scale_y + scale_x) / 2

    @property
    def has_tumour(self) -> bool:
        return self.tumour is not None and bool(self.tumour.mask.any())

    def _labels(self, top: int, left: int) -> tuple[bool, bool]:
        if self.tumour is None:
            return False, False
        d, (c0, c1) = self.downsample, CENTRE
        whole = self.tumour.fraction(top * d, left * d, PATCH * d, PATCH * d) > 0
        centre = self.tumour.fraction((top + c0) * d, (left + c0) * d, (c1 - c0) * d,
                                      (c1 - c0) * d) > 0
        return bool(whole), bool(centre)

    def draw(self, rng: np.random.Generator, positive: bool, tries: int = 50) -> Candidate | None:
        """A tissue patch of the wanted class, or None after ``tries`` rejected positions."""
        source = self.tumour if positive else self.tissue
        if source is None:
            return None
        pixels = np.argwhere(source.mask)
        if len(pixels) == 0:
            return None
        for _ in range(tries):
            y, x = (pixels[rng.integers(len(pixels))] + rng.random(2)) * source.downsample
            top = int(np.clip(y / self.downsample - PATCH / 2, 0, self.shape[0] - PATCH))
            left = int(np.clip(x / self.downsample - PATCH / 2, 0, self.shape[1] - PATCH))
            tumor_patch, centre = self._labels(top, left)
            if centre != positive:
                continue
            patch = self.image.read_region(top, left, PATCH, PATCH, self.level)
            if not saturation_mask(patch[..., :3], self.threshold).any():
                continue  # PCam: maximum blurred saturation below the threshold: background
            return Candidate(top, left, patch[..., :3], tumor_patch, centre)
        return None

"""Patches from a slide larger than memory, on a grid or at random, as a torch Dataset.

[`SlidePatches`][histomammo.transforms.patches.SlidePatches] reads through
[`histomammo.io.TiffImage`][histomammo.io.TiffImage] (any object with its
``levels`` and ``read_region``) only what its patches need. On a grid it reads the level in
aligned blocks and keeps the blocks of two block rows, so going through the grid in order
decodes each tile once, not once per patch that touches it; random patches are read
directly. Positions are fixed when the dataset is built (from ``seed``), so the same
patches come out in any process, in DataLoader workers under fork or spawn.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torchvision import tv_tensors

from histomammo.transforms._slide import Slide
from histomammo.transforms.tissue import TissueMask, tissue_mask

__all__ = ["SlidePatches"]


def _tissue(image: Slide, spec: TissueMask | Literal["saturation", "otsu"] | None
            ) -> TissueMask | None:
    if spec is None or isinstance(spec, TissueMask):
        return spec
    if isinstance(spec, str):
        return tissue_mask(image, spec)
    raise TypeError(
        f"tissue_mask must be None, 'saturation', 'otsu' or a TissueMask, got {type(spec).__name__}"
    )


class SlidePatches(torch.utils.data.Dataset[Any]):
    """Square patches of one slide level, on a grid (``stride``) or at random (``n``).

    Parameters
    ----------
    image : histomammo.io.TiffImage
        The slide.
    patch_size : int
        Side of the patches, in pixels of ``level``.
    level : int
        Pyramid level to cut from (PCam's 10x is level 2 of a 40x slide).
    stride : int, optional
        Grid step in pixels of ``level``; ``patch_size`` by default (no overlap).
    n : int, optional
        Draw ``n`` random patches instead of a grid.
    tissue_mask : {None, "saturation", "otsu"} or TissueMask
        Keep only patches whose tissue share is at least ``min_tissue``; a string computes
        the mask on the slide's smallest level
        ([`histomammo.transforms.tissue.tissue_mask`][histomammo.transforms.tissue.tissue_mask]).
    min_tissue : float
        Tissue share a patch needs, in [0, 1]; 0 keeps patches with any tissue at all.
    seed : int
        Seed of the random positions.
    transform : callable, optional
        Applied to each image (a ``tv_tensors.Image``, ``(C, patch, patch)``, the file's dtype).
    block : tuple of int
        ``(rows, columns)`` of the blocks a grid is read in, in pixels of ``level``;
        multiples of the tile size make each tile decoded once. Memory held: two block rows
        (``2 * rows * level width * channels`` bytes, 31 MB for a 20,000-pixel-wide RGB level).

    Attributes
    ----------
    positions : numpy.ndarray
        ``(N, 2)`` int64 top-left ``(y, x)`` of each patch in level-0 pixels.

    Raises
    ------
    ValueError
        Both or neither of ``stride`` and ``n`` given badly, a patch larger than the level,
        ``min_tissue`` outside [0, 1], or too few tissue patches found for ``n``.

    Notes
    -----
    Samples are ``(image, {"index", "coord_y", "coord_x"})``, coordinates in level-0
    pixels as in PCam's meta rows. A patch's tissue share is that of the mask pixels its
    box overlaps.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from histomammo.io import TiffImage
    >>> from histomammo.datasets.synthetic import make_slide
    >>> slide = make_slide(pathlib.Path(tempfile.mkdtemp()) / "s.tif", (768, 768), levels=2)
    >>> patches = SlidePatches(TiffImage(slide.path), 96, level=1, tissue_mask="saturation")
    >>> image, where = patches[0]
    >>> tuple(image.shape), 0 < len(patches) < 16
    ((3, 96, 96), True)
    """

    def __init__(
        self,
        image: Slide,
        patch_size: int,
        level: int = 0,
        stride: int | None = None,
        n: int | None = None,
        tissue_mask: TissueMask | Literal["saturation", "otsu"] | None = None,
        min_tissue: float = 0.5,
        seed: int = 0,
        transform: Callable[[tv_tensors.Image], Any] | None = None,
        block: tuple[int, int] = (256, 512),
    ) -> None:
        if n is not None and stride is not None:
            raise ValueError("pass stride= for a grid or n= for random patches, not both")
        if not 0.0 <= min_tissue <= 1.0:
            raise ValueError(f"min_tissue must lie in [0, 1], got {min_tissue}")
        self.image, self.patch_size, self.transform = image, int(patch_size), transform
        self.level = image.levels[level].index
        self.block = (int(block[0]), int(block[1]))
        self._downsample = float(image.levels[self.level].downsample)
        height, width = image.levels[self.level].shape[:2]
        if not 1 <= self.patch_size <= min(height, width):
            raise ValueError(
                f"patch_size {patch_size} does not fit level {self.level} of shape "
                f"{(height, width)} of {getattr(image, 'path', image)}"
            )
        mask = _tissue(image, tissue_mask)
        self.grid = n is None
        if n is None:
            step = self.patch_size if stride is None else int(stride)
            if step < 1:
                raise ValueError(f"stride must be at least 1, got {stride}")
            tops, lefts = np.meshgrid(np.arange(0, height - self.patch_size + 1, step),
                                      np.arange(0, width - self.patch_size + 1, step),
                                      indexing="ij")
            corners = np.stack([tops.ravel(), lefts.ravel()], axis=1)
            corners = corners[self._keep(corners, mask, min_tissue)]
        else:
            corners = self._draw(int(n), (height, width), mask, min_tissue, seed)
        self._corners = corners.astype(np.int64)  # in pixels of ``level``
        self.positions = np.rint(self._corners * self._downsample).astype(np.int64)
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._cache_pid = os.getpid()

    def _keep(self, corners: np.ndarray, mask: TissueMask | None, min_tissue: float) -> np.ndarray:
        if mask is None:
            return np.ones(len(corners), dtype=bool)
        side = self.patch_size * self._downsample
        share = mask.fraction(corners[:, 0] * self._downsample, corners[:, 1] * self._downsample,
                              side, side)
        return share > 0 if min_tissue == 0 else share >= min_tissue

    def _draw(self, n: int, shape: tuple[int, int], mask: TissueMask | None, min_tissue: float,
              seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        found: list[np.ndarray] = []
        total = 0
        for _ in range(100):  # up to 100 rounds of 4n candidates
            candidates = np.stack([rng.integers(0, shape[0] - self.patch_size + 1, 4 * n),
                                   rng.integers(0, shape[1] - self.patch_size + 1, 4 * n)], 1)
            kept = candidates[self._keep(candidates, mask, min_tissue)]
            found.append(kept)
            total += len(kept)
            if total >= n:
                return np.concatenate(found)[:n]
        raise ValueError(
            f"found only {total} of {n} patches with at least {min_tissue:.0%} tissue in "
            f"{400 * n} random positions of {getattr(self.image, 'path', self.image)}"
        )

    def __len__(self) -> int:
        return len(self._corners)

    def __repr__(self) -> str:
        kind = "grid" if self.grid else "random"
        return f"SlidePatches({kind}, n={len(self)}, patch_size={self.patch_size}, level={self.level})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # blocks stay in the process that read them
        return state

    def _block(self, row: int, col: int) -> np.ndarray:
        if self._cache_pid != os.getpid():  # a forked child: its parent's blocks are stale
            self._cache, self._cache_pid = OrderedDict(), os.getpid()
        key = (row, col)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        rows, cols = self.block
        pixels = self.image.read_region(row * rows, col * cols, rows, cols, self.level,
                                        bounds="pad")
        self._cache[key] = pixels
        width = self.image.levels[self.level].shape[1]
        if len(self._cache) > 2 * (-(-width // cols)) + 2:  # two block rows, and the next
            self._cache.popitem(last=False)
        return pixels

    def _read_grid_patch(self, top: int, left: int) -> np.ndarray:
        rows, cols, size = *self.block, self.patch_size
        first = self._block(top // rows, left // cols)
        out = np.empty((size, size, *first.shape[2:]), dtype=first.dtype)
        for row in range(top // rows, (top + size - 1) // rows + 1):
            for col in range(left // cols, (left + size - 1) // cols + 1):
                block = self._block(row, col)
                y0, x0 = max(top, row * rows), max(left, col * cols)
                y1, x1 = min(top + size, (row + 1) * rows), min(left + size, (col + 1) * cols)
                out[y0 - top : y1 - top, x0 - left : x1 - left] = \
                    block[y0 - row * rows : y1 - row * rows, x0 - col * cols : x1 - col * cols]
        return out

    def __getitem__(self, index: int) -> tuple[Any, dict[str, int]]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} patches")
        top, left = (int(v) for v in self._corners[index])
        if self.grid:
            pixels = self._read_grid_patch(top, left)
        else:
            pixels = self.image.read_region(top, left, self.patch_size, self.patch_size,
                                            self.level)
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        image: Any = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1))
        if self.transform is not None:
            image = self.transform(image)
        y, x = (int(v) for v in self.positions[index])
        return image, {"index": int(index) % len(self), "coord_y": y, "coord_x": x}

"""Patch classification over a whole slide: ``classify_slide`` and its ``Heatmap``."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from histomammo._atomic import atomic_write
from histomammo.errors import DataFormatError
from histomammo.inference._source import SlideLike, SlideSource, open_source
from histomammo.inference._tiles import (
    TileBatches,
    channels_last,
    check_output,
    grid_starts,
    iterate_batches,
    keep_tissue,
    model_device,
    probabilities,
    run_model,
)
from histomammo.inference._tissue import TissueLike, resolve_tissue

__all__ = ["Heatmap", "classify_slide"]

logger = logging.getLogger("histomammo.inference")

_STRIPE = 4096  # working pixels per stripe: tiles are visited stripe by stripe for read locality


@dataclass(frozen=True)
class Heatmap:
    """Class probabilities of a grid of patches over a slide, with the grid's geometry.

    Attributes
    ----------
    probabilities : numpy.ndarray
        ``(rows, cols, C)`` float32: softmax of the model's logits for the patch at grid cell
        ``(i, j)`` (a sigmoid for a one-output model); NaN where the patch was skipped for
        lack of tissue.
    level : int
        Pyramid level the patches were cut from.
    downsample : float
        Level-0 pixels per pixel of the patches' grid (the level's downsample, times the
        resampling factor when ``mpp=`` fell between levels).
    stride, patch_size : int
        Grid step and patch side, in pixels of that grid.
    origin : tuple of int
        Level-0 ``(y, x)`` of the top-left corner of cell ``(0, 0)``'s patch.
    level_shapes : tuple
        ``(H, W)`` of each level of the slide, for
        [`to_image`][histomammo.inference.heatmap.Heatmap.to_image].
    level_downsamples : tuple of float
        Each level's downsample.
    """

    probabilities: np.ndarray
    level: int
    downsample: float
    stride: int
    patch_size: int
    origin: tuple[int, int]
    level_shapes: tuple[tuple[int, int], ...]
    level_downsamples: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the grid."""
        return self.probabilities.shape[:2]

    @property
    def positions(self) -> np.ndarray:
        """``(rows, cols, 2)`` int64 level-0 ``(y, x)`` of each patch's top-left corner."""
        rows, cols = self.shape
        step = self.stride * self.downsample
        ys = np.rint(self.origin[0] + np.arange(rows) * step).astype(np.int64)
        xs = np.rint(self.origin[1] + np.arange(cols) * step).astype(np.int64)
        return np.stack(np.meshgrid(ys, xs, indexing="ij"), axis=-1)

    def _cells(self, centres: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        """Cell of the nearest patch centre for level-0 coordinates, and whether inside it."""
        step, side = self.stride * self.downsample, self.patch_size * self.downsample
        index = np.rint((centres - self.origin[axis] - side / 2) / step).astype(np.int64)
        index = np.clip(index, 0, self.shape[axis] - 1)
        start = self.origin[axis] + index * step
        return index, (centres >= start) & (centres < start + side)

    def to_image(self, level: int = -1) -> np.ndarray:
        """The heatmap on the pixel grid of one slide level.

        Each pixel takes the probabilities of the patch whose centre is nearest to it; pixels
        outside that patch (and outside every patch) are NaN.

        Parameters
        ----------
        level : int
            A level of the slide (``-1``: the smallest).

        Returns
        -------
        numpy.ndarray
            ``(H, W, C)`` float32 of that level.
        """
        count = len(self.level_shapes)
        if not -count <= level < count:
            raise IndexError(f"level {level} does not exist: the slide had {count} level(s)")
        (height, width), d = self.level_shapes[level], self.level_downsamples[level]
        rows, inside_r = self._cells((np.arange(height) + 0.5) * d, 0)
        cols, inside_c = self._cells((np.arange(width) + 0.5) * d, 1)
        image = self.probabilities[rows[:, None], cols[None, :]]
        image[~(inside_r[:, None] & inside_c[None, :])] = np.nan
        return image

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the heatmap to a ``.npz`` file (atomically);
        [`load`][histomammo.inference.heatmap.Heatmap.load] reads it back."""
        path = Path(path)
        fields: dict[str, Any] = {k: np.asarray(getattr(self, k))
                                  for k in self.__dataclass_fields__}
        with atomic_write(path, "wb") as handle:
            np.savez(handle, **fields)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Heatmap:
        """Read a heatmap written by [`save`][histomammo.inference.heatmap.Heatmap.save]."""
        with np.load(path) as data:
            return cls(data["probabilities"], int(data["level"]), float(data["downsample"]),
                       int(data["stride"]), int(data["patch_size"]),
                       (int(data["origin"][0]), int(data["origin"][1])),
                       tuple((int(s[0]), int(s[1])) for s in data["level_shapes"]),
                       tuple(float(v) for v in data["level_downsamples"]))


def stripe_order(tops: np.ndarray, lefts: np.ndarray, per_stripe: int) -> np.ndarray:
    """Grid cells ``(N, 2)`` (row, column indices) stripe by stripe, row-major in each."""
    cells = []
    for first in range(0, len(lefts), per_stripe):
        rr, cc = np.meshgrid(np.arange(len(tops)), np.arange(first, min(first + per_stripe,
                                                                       len(lefts))),
                             indexing="ij")
        cells.append(np.stack([rr.ravel(), cc.ravel()], axis=1))
    return np.concatenate(cells).astype(np.int64)


def check_fits(source: SlideSource, size: tuple[int, int]) -> None:
    """DataFormatError when a tile of ``size`` does not fit the slide's working grid."""
    if size[0] > source.shape[0] or size[1] > source.shape[1]:
        raise DataFormatError(
            f"{source.name}: the slide is {source.shape} pixels at level {source.level}, "
            f"smaller than the {size} patch; use a finer level or a smaller patch_size")


def classify_slide(
    model: torch.nn.Module,
    slide: SlideLike,
    *,
    patch_size: int,
    stride: int | None = None,
    level: int = 0,
    mpp: float | None = None,
    tissue: TissueLike = "otsu",
    min_tissue: float = 0.5,
    transform: Callable[[Any], Any] | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    amp: bool = False,
    progress: bool = True,
) -> Heatmap:
    """Classify every patch of a grid over a slide; the class probabilities as a heatmap.

    Parameters
    ----------
    model : torch.nn.Module
        Takes ``(N, C, patch_size, patch_size)`` and returns ``(N, classes)`` logits; put in
        eval mode here. A model in channels-last layout
        (``model.to(memory_format=torch.channels_last)``, often 2-3x faster on CPU) gets its
        batches channels-last too.
    slide : histomammo.io.TiffImage or numpy.ndarray
        A pyramidal TIFF, or a 2-D / 3-D array (HW or HWC).
    patch_size : int
        Patch side in pixels of the level read.
    stride : int, optional
        Grid step (``patch_size`` by default: no overlap). Patches lie wholly inside the slide.
    level : int
        Pyramid level to read.
    mpp : float, optional
        Microns per pixel wanted instead of ``level``: the level within 10% relative
        (`MPP_TOLERANCE`) is read, else the coarsest finer
        level is averaged down (adaptive average pooling).
    tissue : {"otsu", None}, numpy.ndarray or TissueMask
        Patches with less than ``min_tissue`` tissue are skipped (NaN in the heatmap).
    min_tissue : float
        Tissue share a patch needs, in [0, 1]; 0 keeps any patch touching tissue.
    transform : callable, optional
        Turns each patch (a ``tv_tensors.Image``, ``(C, h, w)`` of the slide's dtype) into the
        model's input; without one the model sees float32 in [0, 1] (uint8 divided by 255).
    batch_size, num_workers : int
        Patches per model call; DataLoader worker processes reading them.
    device : str or torch.device, optional
        Where the model runs (it is moved there); by default where its parameters are.
    amp : bool
        Run under ``torch.autocast`` (float16 on CUDA, bfloat16 on CPU).
    progress : bool
        Show a progress bar.

    Returns
    -------
    Heatmap

    Raises
    ------
    DataFormatError
        Slide smaller than the patch, model output not ``(N, classes)``, ``mpp`` far from
        the slide's levels.
    IndexError
        ``level`` does not exist.

    Warns
    -----
    UserWarning
        No patch holds enough tissue: the heatmap is all NaN.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from histomammo.inference import classify_slide
    >>> image = np.zeros((64, 96, 3), np.uint8); image[:, 48:] = 255
    >>> model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    ...                             torch.nn.Linear(3, 2))
    >>> heatmap = classify_slide(model, image, patch_size=32, tissue=None, progress=False)
    >>> heatmap.probabilities.shape, heatmap.positions[1, 2].tolist()
    ((2, 3, 2), [32, 64])
    """
    source = open_source(slide, level, mpp)
    check_fits(source, (patch_size, patch_size))
    stride = patch_size if stride is None else int(stride)
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    tops = grid_starts(source.shape[0], patch_size, stride, flush=False)
    lefts = grid_starts(source.shape[1], patch_size, stride, flush=False)
    cells = stripe_order(tops, lefts, max(1, _STRIPE // stride))
    corners = np.stack([tops[cells[:, 0]], lefts[cells[:, 1]]], axis=1)
    mask = resolve_tissue(source, tissue)
    kept = keep_tissue(corners, (patch_size, patch_size), source, mask, min_tissue)
    source.use_cache(max(1, _STRIPE // stride) * stride + patch_size)
    model.eval()
    device = model_device(model, device)
    size = (patch_size, patch_size)
    batches = TileBatches(source, corners[kept] if kept.any() else corners[:1], size,
                          batch_size, transform)
    values = _classify(model, batches, device, amp, num_workers, progress, bool(kept.any()))
    out = np.full((len(tops), len(lefts), values.shape[1]), np.nan, dtype=np.float32)
    if kept.any():
        out[cells[kept, 0], cells[kept, 1]] = values
    else:
        _warn_empty(source)
    return Heatmap(out, source.level, source.downsample, stride, int(patch_size), (0, 0),
                   tuple(source.level_shapes()), tuple(source.level_downsamples()))


def _warn_empty(source: SlideSource) -> None:
    message = (f"{source.name}: no patch holds enough tissue (tissue mask empty or min_tissue "
               "too high); the result is empty")
    logger.warning(message)
    warnings.warn(message, UserWarning, stacklevel=3)


def _classify(model: torch.nn.Module, batches: TileBatches, device: torch.device, amp: bool,
              num_workers: int, progress: bool, any_tissue: bool) -> np.ndarray:
    """``(N, classes)`` float32 probabilities of every tile (one tile's to learn C if none)."""
    chunks = []
    name, nhwc = batches.source.name, channels_last(model)
    with tqdm(total=len(batches.corners), desc="classify_slide", unit="patch",
              disable=not progress or not any_tissue) as bar:
        for _, batch in iterate_batches(batches, num_workers, bar=bar):
            logits = check_output(run_model(model, batch, device, amp, nhwc), (len(batch), None),
                                  "classify_slide", name)
            chunks.append(probabilities(logits).cpu().numpy())
    return np.concatenate(chunks).astype(np.float32, copy=False)

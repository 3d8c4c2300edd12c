"""Semantic segmentation over a whole slide: overlapping tiles blended into one probability map.

Tiles of ``patch_size`` overlap by ``overlap`` pixels and cover the slide (the last row and
column of tiles end flush with its edge). They are visited in vertical stripes
(aligned to the 512-pixel chunks, 4096 pixels wide when writing to
disk), top to bottom, and a stripe's rows are written as soon as no later tile touches them:
memory holds one stripe's ``patch_size + 512`` rows whatever the slide's size. Tiles that
straddle two stripes are run once for each (about 1/9 more model calls at ``overlap=64``).
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from histomammo.inference._sinks import CHUNK, open_sink
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
    stripes,
)
from histomammo.inference._tissue import TissueLike, resolve_tissue
from histomammo.inference.heatmap import _warn_empty, check_fits

__all__ = ["segment_slide", "tile_weights"]

_STRIPE = 8 * CHUNK  # stripe width on disk


@functools.lru_cache(maxsize=32)
def tile_weights(size: int, overlap: int, blend: str, sides: tuple[bool, bool, bool, bool]
                 ) -> np.ndarray:
    """Blending weights ``(size, size)`` float32 of one tile.

    ``"gaussian"``: ``exp(-d^2 / (2 sigma^2))`` per axis with ``sigma = size / 8`` (MONAI's
    ``sigma_scale=0.125``), each axis floored at 1e-3 so pixels only one tile covers keep a
    weight (flooring per axis keeps the ratio of two tiles' weights that of their Gaussians).
    ``"mean"``: 1, except a margin of ``overlap // 2`` pixels along each side facing another
    tile (``sides`` = top, bottom, left, right has a neighbour), which gets 0: the tile's
    border, where a convolution saw zero padding instead of the slide, is not used.
    """
    if blend == "gaussian":
        axis = np.arange(size, dtype=np.float64) - (size - 1) / 2
        ramp = np.maximum(np.exp(-(axis**2) / (2 * (size / 8) ** 2)), 1e-3)
        return np.outer(ramp, ramp).astype(np.float32)
    if blend != "mean":
        raise ValueError(f"blend must be 'gaussian' or 'mean', got {blend!r}")
    weights = np.ones((size, size), dtype=np.float32)
    margin = overlap // 2
    if margin:
        top, bottom, left, right = sides
        weights[:margin] *= not top
        weights[size - margin :] *= not bottom
        weights[:, :margin] *= not left
        weights[:, size - margin :] *= not right
    return weights


class _StripeBlender:
    """Weighted sums of one stripe's rows ``[top, top + CHUNK + patch)``, flushed a chunk row at a time."""

    def __init__(self, sink: Any, columns: tuple[int, int], height: int, patch: int,
                 weights: Callable[[int, int], np.ndarray], top: int) -> None:
        self.sink, (self.c0, self.c1), self.height = sink, columns, height
        self.patch, self.weights, self.top = patch, weights, top
        self.sums: np.ndarray | None = None
        self.total = np.zeros((CHUNK + patch, self.c1 - self.c0), dtype=np.float32)

    def add(self, y: int, x: int, probs: np.ndarray) -> None:
        """Add one tile's ``(C, patch, patch)`` probabilities at working ``(y, x)``."""
        if self.sums is None:
            self.sums = np.zeros((probs.shape[0], *self.total.shape), dtype=np.float32)
        r0, x0, x1 = max(y, self.top), max(x, self.c0), min(x + self.patch, self.c1)
        r1 = y + self.patch
        if r0 >= r1 or x0 >= x1:
            return
        w = self.weights(y, x)[r0 - y : r1 - y, x0 - x : x1 - x]
        rows, cols = slice(r0 - self.top, r1 - self.top), slice(x0 - self.c0, x1 - self.c0)
        self.sums[:, rows, cols] += probs[:, r0 - y : r1 - y, x0 - x : x1 - x] * w
        self.total[rows, cols] += w

    def flush(self, final: int, stripe: int) -> None:
        """Write every whole chunk row above ``final`` (rows no later tile touches)."""
        while self.top < self.height and (final >= self.top + CHUNK or final >= self.height):
            rows = min(CHUNK, self.height - self.top)
            if self.sums is not None and self.total[:rows].any():  # else no tile: all NaN
                with np.errstate(invalid="ignore", divide="ignore"):  # no tile: NaN
                    block = self.sums[:, :rows] / self.total[:rows]
                self.sink.write(self.top, self.c0, block)
                _shift_up(self.sums, CHUNK)
            _shift_up(self.total[None], CHUNK)
            self.top += CHUNK
            self.sink.mark(stripe, self.top)


def _shift_up(buffer: np.ndarray, rows: int) -> None:
    """Move ``buffer``'s rows (axis 1) up by ``rows`` in place; zeros below."""
    kept = buffer.shape[1] - rows
    buffer[:, :kept] = buffer[:, rows:]  # numpy copies overlapping views safely
    buffer[:, kept:] = 0


def _stripe_corners(tops: np.ndarray, lefts: np.ndarray, columns: tuple[int, int], patch: int
                    ) -> np.ndarray:
    """Corners ``(N, 2)`` of the tiles touching ``columns``, row-major."""
    used = lefts[(lefts < columns[1]) & (lefts + patch > columns[0])]
    yy, xx = np.meshgrid(tops, used, indexing="ij")
    return np.stack([yy.ravel(), xx.ravel()], axis=1)


def _segment_stripe(run: Callable[[Any], np.ndarray], batches: TileBatches,
                    blender: _StripeBlender, stripe: int, num_workers: int, bar: Any) -> None:
    corners, patch = batches.corners, blender.patch
    needed = np.flatnonzero(corners[:, 0] + patch > blender.top)
    first = int(needed[0]) // batches.batch_size if len(needed) else len(batches)
    bar.update(min(first * batches.batch_size, len(corners)))
    for start, batch in iterate_batches(batches, num_workers, first, bar):
        probs = run(batch)
        for offset, (y, x) in enumerate(corners[start : start + len(probs)]):
            blender.flush(int(y), stripe)
            blender.add(int(y), int(x), probs[offset])
    blender.flush(blender.height, stripe)


def segment_slide(
    model: torch.nn.Module,
    slide: SlideLike,
    *,
    patch_size: int = 512,
    overlap: int = 64,
    blend: Literal["gaussian", "mean"] = "gaussian",
    level: int = 0,
    mpp: float | None = None,
    tissue: TissueLike = "otsu",
    min_tissue: float = 0.0,
    transform: Callable[[Any], Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    batch_size: int = 8,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    amp: bool = False,
    progress: bool = True,
) -> np.ndarray | Path:
    """Per-pixel class probabilities of a slide from overlapping tiles of a segmenter.

    Parameters
    ----------
    model : torch.nn.Module
        Takes ``(N, C, patch_size, patch_size)`` and returns ``(N, classes, patch_size,
        patch_size)`` logits (softmax over classes; a sigmoid for one class).
    slide : histomammo.io.TiffImage or numpy.ndarray
        A pyramidal TIFF, or an HW / HWC array.
    patch_size, overlap : int
        Tile side and the pixels neighbouring tiles share (``0 <= overlap < patch_size``).
    blend : {"gaussian", "mean"}
        How overlapping tiles are combined (see [`tile_weights`][histomammo.inference.segment.tile_weights]):
        Gaussian weights centred on each tile, or a plain mean of the tiles' centres (each
        tile's border of ``overlap // 2`` pixels facing a neighbour dropped).
    level, mpp, transform, batch_size, num_workers, device, amp, progress
        As for [`classify_slide`][histomammo.inference.classify_slide].
    tissue, min_tissue
        Tiles with less tissue are not run; pixels no tile covers are NaN.
    out : path, optional
        Write to ``.zarr`` (a zarr group; arrays ``"0"``, ``"1"``, ... halving) or ``.tif``
        (tiled float32 SubIFD pyramid, ``(H, W, classes)`` samples) in bounded memory; needs
        ``zarr``. Built in ``<out>.partial`` and renamed (or converted, atomically) at the end.
    resume : bool
        With ``out``: keep a finished ``out`` (returned at once) and continue a
        ``<out>.partial`` left by an interrupted run, with the same bytes as an uninterrupted one.

    Returns
    -------
    numpy.ndarray or pathlib.Path
        ``(classes, H, W)`` float32 of the working grid (level ``level``), or ``out``.

    Raises
    ------
    DataFormatError
        Slide smaller than the patch, model output of the wrong shape, ``mpp`` far from
        every level.
    OutputExistsError
        ``out`` exists and ``resume`` is false.
    IndexError
        ``level`` does not exist.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from histomammo.inference import segment_slide
    >>> image = np.random.default_rng(0).random((100, 140)).astype(np.float32)
    >>> model = torch.nn.Conv2d(1, 2, 3, padding=1)
    >>> probs = segment_slide(model, image, patch_size=64, overlap=16, tissue=None,
    ...                       progress=False)
    >>> probs.shape, bool(np.allclose(probs.sum(0), 1))
    ((2, 100, 140), True)
    """
    if not 0 <= overlap < patch_size:
        raise ValueError(f"overlap must lie in [0, patch_size={patch_size}), got {overlap}")
    if out is not None and Path(out).exists() and resume:
        leftover = Path(out).with_name(Path(out).name + ".partial")
        if leftover.exists():  # killed between writing a .tif and removing its store
            shutil.rmtree(leftover)
        return Path(out)
    source = open_source(slide, level, mpp)
    check_fits(source, (patch_size, patch_size))
    sink = open_sink(out, source.shape, resume)
    tops = grid_starts(source.shape[0], patch_size, patch_size - overlap, flush=True)
    lefts = grid_starts(source.shape[1], patch_size, patch_size - overlap, flush=True)
    mask = resolve_tissue(source, tissue)
    model.eval()
    device = model_device(model, device)
    size = (patch_size, patch_size)

    def weights(y: int, x: int) -> np.ndarray:
        sides = (y > 0, y + patch_size < source.shape[0], x > 0, x + patch_size < source.shape[1])
        return tile_weights(patch_size, overlap, blend, sides)

    nhwc = channels_last(model)

    def run(batch: torch.Tensor) -> np.ndarray:
        logits = check_output(run_model(model, batch, device, amp, nhwc),
                              (len(batch), None, patch_size, patch_size), "segment_slide",
                              source.name)
        probs = probabilities(logits).cpu().numpy()
        sink.ensure(probs.shape[1], _attrs(source, patch_size, overlap, blend))
        return probs

    plan = _plan(source, tops, lefts, size, mask, min_tissue, out is not None)
    if not any(len(corners) for _, corners in plan):
        _warn_empty(source)
        run(TileBatches(source, np.zeros((1, 2), np.int64), size, 1, transform)[0])
        return sink.finish()  # all NaN
    total = sum(len(corners) for _, corners in plan)
    with tqdm(total=total, desc="segment_slide", unit="tile", disable=not progress) as bar:
        for index, (columns, corners) in enumerate(plan):
            stripe, rows = sink.resume_from
            if index < stripe:
                bar.update(len(corners))
                continue
            source.use_cache(columns[1] - columns[0] + 2 * patch_size)
            blender = _StripeBlender(sink, columns, source.shape[0], patch_size, weights,
                                     rows if index == stripe else 0)
            batches = TileBatches(source, corners, size, batch_size, transform)
            _segment_stripe(run, batches, blender, index, num_workers, bar)
            sink.mark(index + 1, 0)
    return sink.finish()


def _plan(source: SlideSource, tops: np.ndarray, lefts: np.ndarray, size: tuple[int, int],
          mask: Any, min_tissue: float, on_disk: bool) -> list[tuple[tuple[int, int], np.ndarray]]:
    """Each stripe's columns and the corners of its tiles with tissue."""
    plan = []
    for columns in stripes(source.shape[1], _STRIPE if on_disk else None):
        corners = _stripe_corners(tops, lefts, columns, size[1])
        plan.append((columns, corners[keep_tissue(corners, size, source, mask, min_tissue)]))
    return plan


def _attrs(source: SlideSource, patch: int, overlap: int, blend: str) -> dict[str, Any]:
    """What a disk output records about how it was made."""
    return {"slide": source.name, "level": source.level, "downsample": source.downsample,
            "patch_size": patch, "overlap": overlap, "blend": blend,
            "axes": "CYX", "values": "class probabilities, NaN where no tile with tissue"}


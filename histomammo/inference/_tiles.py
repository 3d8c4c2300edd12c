"""Tile grids, tissue selection, batches of tiles and the model call shared by every entry point."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors

from histomammo.errors import DataFormatError
from histomammo.inference._source import SlideSource
from histomammo.transforms.tissue import TissueMask

__all__ = ["TileBatches", "channels_last", "grid_starts", "keep_tissue", "model_device", "run_model",
           "stripes"]


def grid_starts(length: int, patch: int, step: int, *, flush: bool) -> np.ndarray:
    """Tile starts ``0, step, 2 step, ...`` with ``start + patch <= length``.

    With ``flush`` a last tile ends exactly at ``length`` when the regular steps leave a
    remainder, so the tiles cover every pixel.
    """
    starts = np.arange(0, length - patch + 1, step, dtype=np.int64)
    if flush and starts[-1] + patch < length:
        starts = np.append(starts, length - patch)
    return starts


def stripes(width: int, stripe: int | None) -> list[tuple[int, int]]:
    """Column ranges ``[c0, c1)`` of vertical stripes ``stripe`` wide (one when None)."""
    if stripe is None or stripe >= width:
        return [(0, width)]
    return [(c0, min(c0 + stripe, width)) for c0 in range(0, width, stripe)]


def keep_tissue(corners: np.ndarray, size: tuple[int, int], source: SlideSource,
                mask: TissueMask | None, min_tissue: float) -> np.ndarray:
    """Which tiles (working-grid corners ``(N, 2)``) hold enough tissue."""
    if not 0.0 <= min_tissue <= 1.0:
        raise ValueError(f"min_tissue must lie in [0, 1], got {min_tissue}")
    if mask is None or len(corners) == 0:
        return np.ones(len(corners), dtype=bool)
    d = source.downsample
    share = mask.fraction(corners[:, 0] * d, corners[:, 1] * d, size[0] * d, size[1] * d)
    return share > 0 if min_tissue == 0 else share >= min_tissue


def default_input(pixels: np.ndarray) -> torch.Tensor:
    """``(h, w, C)`` pixels as the contiguous ``(C, h, w)`` float32 the model sees without a transform.

    Integer slides are divided by their dtype's maximum (255 for uint8), floats kept.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
    if pixels.dtype.kind in "ui":
        return tensor.to(torch.float32) / float(np.iinfo(pixels.dtype).max)
    return tensor.to(torch.float32)


class TileBatches(torch.utils.data.Dataset[Any]):
    """Batch ``b`` of the tiles at ``corners`` (working grid), as the model's input.

    Batches are fixed slices ``corners[b * batch_size : (b + 1) * batch_size]``, so every run
    (and every resumed run) feeds the model the same batches.
    """

    def __init__(self, source: SlideSource, corners: np.ndarray, size: tuple[int, int],
                 batch_size: int, transform: Callable[[Any], Any] | None,
                 stack: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.source, self.corners, self.size = source, corners, size
        self.batch_size, self.transform, self.stack = int(batch_size), transform, stack

    def __len__(self) -> int:
        return -(-len(self.corners) // self.batch_size)

    def tile(self, top: int, left: int) -> Any:
        pixels = self.source.read(top, left, *self.size)
        if self.transform is None:
            return default_input(pixels)
        image = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1))
        return self.transform(image)

    def __getitem__(self, index: int) -> Any:
        chunk = self.corners[index * self.batch_size : (index + 1) * self.batch_size]
        tiles = [self.tile(int(top), int(left)) for top, left in chunk]
        return torch.stack(tiles) if self.stack else tiles


def _as_is(batch: Any) -> Any:
    """The batch a TileBatches item already is (a module function: picklable under spawn)."""
    return batch


def iterate_batches(batches: TileBatches, num_workers: int, first: int = 0,
                    bar: Any = None) -> Iterator[tuple[int, Any]]:
    """``(first tile index, batch)`` for batches ``first, first + 1, ...`` in order."""
    subset = torch.utils.data.Subset(batches, range(first, len(batches)))
    loader = torch.utils.data.DataLoader(subset, batch_size=None, num_workers=num_workers,
                                         collate_fn=_as_is)
    for offset, batch in enumerate(loader):
        yield (first + offset) * batches.batch_size, batch
        if bar is not None:
            bar.update(len(batch))


def model_device(model: torch.nn.Module, device: str | torch.device | None) -> torch.device:
    """``device`` (the model is moved there), or where the model's parameters already are."""
    if device is None:
        parameter = next(model.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")
    device = torch.device(device)
    model.to(device)
    return device


def channels_last(model: torch.nn.Module) -> bool:
    """Whether the model's convolution weights are stored channels-last (NHWC).

    A model put there with ``model.to(memory_format=torch.channels_last)`` then gets its
    batches in the same layout, which oneDNN and cuDNN run 2-3x faster for many CNNs.
    """
    for parameter in model.parameters():
        if parameter.ndim == 4 and parameter.shape[1] > 1 and parameter.shape[2:].numel() > 1:
            return (parameter.is_contiguous(memory_format=torch.channels_last)
                    and not parameter.is_contiguous())
    return False


def run_model(model: torch.nn.Module, batch: Any, device: torch.device, amp: bool,
              nhwc: bool = False) -> Any:
    """The model's output on ``batch`` (moved to ``device``) without gradients.

    ``amp`` runs under ``torch.autocast``: float16 on CUDA, bfloat16 elsewhere; ``nhwc``
    hands a 4-D batch over in channels-last layout (see [`channels_last`][histomammo.inference._tiles.channels_last]).
    """
    if isinstance(batch, list):
        batch = [b.to(device, non_blocking=True) for b in batch]
    else:
        batch = batch.to(device, non_blocking=True)
        if nhwc and batch.ndim == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    autocast = torch.autocast(device.type, dtype=dtype) if amp else contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        return model(batch)


def check_output(output: Any, expected: tuple[Any, ...], what: str, name: str) -> torch.Tensor:
    """``output`` as a float32 tensor, or DataFormatError unless its shape is ``expected``.

    ``None`` entries of ``expected`` match any size.
    """
    shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
    if shape is None or len(shape) != len(expected) or any(
            e is not None and e != s for e, s in zip(expected, shape, strict=True)):
        shown = "(" + ", ".join("classes" if e is None else str(e) for e in expected) + ")"
        got = shape if shape is not None else type(output).__name__
        raise DataFormatError(f"{name}: the model returned {got} for a batch of tiles; "
                              f"{what} expects {shown} logits")
    return output.float()


def probabilities(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Softmax over ``dim``; a sigmoid when the model has a single output channel."""
    if logits.shape[dim] == 1:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=dim)

"""Object detection over a whole slide, merged across tile borders, and its GeoJSON export.

Tiles overlap by ``overlap`` pixels. Each detection is kept only by the tile whose *core*
holds its box centre (a tile's core ends halfway through its overlap with each neighbour),
then class-aware non-maximum suppression removes what duplicates remain. An object at most
``overlap`` pixels across lies wholly inside the tile whose core holds its centre, and the
partial box a neighbouring tile sees of it has its centre on that neighbour's far side of the
cut, so a cell cut by a border is reported once, with its whole box.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.ops import batched_nms
from tqdm.auto import tqdm

from histomammo._atomic import atomic_write
from histomammo.errors import DataFormatError
from histomammo.inference._source import SlideLike, open_source
from histomammo.inference._tiles import (
    TileBatches,
    grid_starts,
    iterate_batches,
    keep_tissue,
    model_device,
    run_model,
)
from histomammo.inference._tissue import TissueLike, resolve_tissue
from histomammo.inference.heatmap import _warn_empty, check_fits

__all__ = ["detect_slide", "write_geojson"]


def _cores(starts: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per tile, ``[low, high)`` of its core along one axis (midpoints of the overlaps)."""
    middles = (starts[1:] + starts[:-1] + size) / 2
    low = np.concatenate([[-np.inf], middles])
    high = np.concatenate([middles, [np.inf]])
    return low, high


def _tile_detections(output: Any, count: int, name: str) -> list[dict[str, torch.Tensor]]:
    """Validate a detector's output: ``count`` dicts of boxes ``(k, 4)``, scores, labels."""
    ok = isinstance(output, (list, tuple)) and len(output) == count and all(
        isinstance(o, Mapping) and {"boxes", "scores", "labels"} <= set(o)
        and tuple(o["boxes"].shape[1:]) == (4,) and len(o["scores"]) == len(o["boxes"])
        == len(o["labels"]) for o in output)
    if not ok:
        got = type(output).__name__ if not isinstance(output, (list, tuple)) else \
            f"a list of {len(output)} {type(output[0]).__name__ if output else 'items'}"
        raise DataFormatError(
            f"{name}: the detector returned {got} for a batch of {count} tiles; detect_slide "
            f"expects torchvision's list of {count} dicts of 'boxes' (k, 4) XYXY, 'scores' "
            "(k,) and 'labels' (k,)")
    return list(output)


def detect_slide(
    model: torch.nn.Module,
    slide: SlideLike,
    *,
    patch_size: int | tuple[int, int] = (512, 680),
    overlap: int = 64,
    iou: float = 0.5,
    score_threshold: float = 0.05,
    level: int = 0,
    mpp: float | None = None,
    tissue: TissueLike = "otsu",
    min_tissue: float = 0.0,
    transform: Callable[[Any], Any] | None = None,
    batch_size: int = 4,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    amp: bool = False,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Run a detector over overlapping tiles; detections merged across tile borders.

    Parameters
    ----------
    model : torch.nn.Module
        A torchvision-style detector: takes a list of ``(C, h, w)`` tensors and, in eval
        mode, returns one dict per tile with ``"boxes"`` ``(k, 4)`` XYXY in tile pixels,
        ``"scores"`` and ``"labels"``.
    slide : histomammo.io.TiffImage or numpy.ndarray
        The slide or image.
    patch_size : int or (int, int)
        Tile ``(height, width)`` in pixels of the level read (BreCaHAD's 512 x 680).
    overlap : int
        Pixels neighbouring tiles share: objects up to this size across are reported once,
        whole.
    iou : float
        IoU above which two boxes of one class are duplicates (the lower score dropped).
    score_threshold : float
        Detections scoring below it are dropped.
    level, mpp, tissue, min_tissue, transform, batch_size, num_workers, device, amp, progress
        As for [`classify_slide`][histomammo.inference.classify_slide].

    Returns
    -------
    dict
        ``"boxes"`` ``(N, 4)`` float32 XYXY in level-0 pixels, ``"scores"`` ``(N,)`` float32,
        ``"labels"`` ``(N,)`` int64, by decreasing score.

    Raises
    ------
    DataFormatError
        Slide smaller than a tile, detector output not torchvision's.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from histomammo.inference import detect_slide
    >>> class Corner(torch.nn.Module):  # one box at the top-left of every tile
    ...     def forward(self, images):
    ...         return [{"boxes": torch.tensor([[0.0, 0.0, 4.0, 4.0]]), "scores":
    ...                  torch.tensor([0.9]), "labels": torch.tensor([1])} for _ in images]
    >>> found = detect_slide(Corner(), np.zeros((64, 64), np.uint8), patch_size=32,
    ...                      overlap=8, tissue=None, progress=False)
    >>> found["boxes"].shape  # tiles at 0, 24 and 32 on each axis: only (0, 0)'s box is central
    (1, 4)
    """
    size = (patch_size, patch_size) if isinstance(patch_size, int) else \
        (int(patch_size[0]), int(patch_size[1]))
    if not 0 <= overlap < min(size):
        raise ValueError(f"overlap must lie in [0, {min(size)}), got {overlap}")
    source = open_source(slide, level, mpp)
    check_fits(source, size)
    tops = grid_starts(source.shape[0], size[0], size[0] - overlap, flush=True)
    lefts = grid_starts(source.shape[1], size[1], size[1] - overlap, flush=True)
    yy, xx = np.meshgrid(np.arange(len(tops)), np.arange(len(lefts)), indexing="ij")
    cells = np.stack([yy.ravel(), xx.ravel()], axis=1)
    corners = np.stack([tops[cells[:, 0]], lefts[cells[:, 1]]], axis=1)
    kept = keep_tissue(corners, size, source, resolve_tissue(source, tissue), min_tissue)
    if not kept.any():
        _warn_empty(source)
        return _merge([], iou, source.downsample)
    model.eval()
    device = model_device(model, device)
    source.use_cache(source.shape[1])
    batches = TileBatches(source, corners[kept], size, batch_size, transform, stack=False)
    cores = (_cores(tops, size[0]), _cores(lefts, size[1]))
    found = []
    with tqdm(total=int(kept.sum()), desc="detect_slide", unit="tile",
              disable=not progress) as bar:
        for start, batch in iterate_batches(batches, num_workers, bar=bar):
            outputs = _tile_detections(run_model(model, batch, device, amp), len(batch),
                                       source.name)
            for cell, out in zip(cells[kept][start : start + len(batch)], outputs, strict=True):
                found.append(_central(out, cell, tops, lefts, cores, score_threshold))
    return _merge(found, iou, source.downsample)


_Cores = tuple[np.ndarray, np.ndarray]


def _central(out: Mapping[str, torch.Tensor], cell: np.ndarray, tops: np.ndarray,
             lefts: np.ndarray, cores: tuple[_Cores, _Cores], threshold: float
             ) -> dict[str, np.ndarray]:
    """A tile's detections whose centre lies in its core, moved to working-grid pixels."""
    boxes = out["boxes"].detach().float().cpu().numpy().reshape(-1, 4)
    scores = out["scores"].detach().float().cpu().numpy().reshape(-1)
    labels = out["labels"].detach().cpu().numpy().reshape(-1).astype(np.int64)
    row, col = int(cell[0]), int(cell[1])
    boxes = boxes + np.array([lefts[col], tops[row], lefts[col], tops[row]], np.float32)
    cy, cx = (boxes[:, 1] + boxes[:, 3]) / 2, (boxes[:, 0] + boxes[:, 2]) / 2
    (ylow, yhigh), (xlow, xhigh) = cores
    keep = ((scores >= threshold) & (cy >= ylow[row]) & (cy < yhigh[row])
            & (cx >= xlow[col]) & (cx < xhigh[col]))
    return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}


def _merge(found: list[dict[str, np.ndarray]], iou: float, downsample: float
           ) -> dict[str, np.ndarray]:
    """Concatenate tiles' detections, class-aware NMS, sort by score, scale to level 0."""
    boxes = np.concatenate([f["boxes"] for f in found]) if found else np.zeros((0, 4), np.float32)
    scores = np.concatenate([f["scores"] for f in found]) if found else np.zeros(0, np.float32)
    labels = np.concatenate([f["labels"] for f in found]) if found else np.zeros(0, np.int64)
    keep = batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                       torch.from_numpy(labels), iou).numpy()
    return {"boxes": (boxes[keep] * downsample).astype(np.float32),
            "scores": scores[keep].astype(np.float32), "labels": labels[keep]}


def write_geojson(detections: Mapping[str, Any], path: str | os.PathLike[str], *,
                  class_names: Mapping[int, str] | Sequence[str] | None = None) -> Path:
    """Write detections as a GeoJSON FeatureCollection that QuPath imports as detections.

    Parameters
    ----------
    detections : mapping
        ``"boxes"`` ``(N, 4)`` XYXY (level-0 pixels, as [`detect_slide`][histomammo.inference.detect_slide]
        returns), ``"scores"`` and ``"labels"``.
    path : path
        Output ``.geojson``, written atomically.
    class_names : mapping or sequence, optional
        Name of each label (QuPath's classification); the label number by default.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    One ``Feature`` per box: a closed ``Polygon`` ring ``[[x1, y1], [x2, y1], [x2, y2],
    [x1, y2], [x1, y1]]`` in level-0 pixels (QuPath's image coordinates: x right, y down),
    ``properties.objectType = "detection"``, ``properties.classification.name`` and the score
    under ``properties.measurements``, which QuPath (0.3 and later) reads as a measurement.

    Examples
    --------
    >>> import json, tempfile, pathlib, numpy as np
    >>> found = {"boxes": np.array([[10, 20, 30, 44.5]]), "scores": np.array([0.9]),
    ...          "labels": np.array([1])}
    >>> path = write_geojson(found, pathlib.Path(tempfile.mkdtemp()) / "cells.geojson",
    ...                      class_names={1: "tumour"})
    >>> feature = json.loads(path.read_text())["features"][0]
    >>> feature["geometry"]["coordinates"][0][2], feature["properties"]["classification"]["name"]
    ([30.0, 44.5], 'tumour')
    """
    boxes = np.asarray(detections["boxes"], dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(detections["scores"], dtype=np.float64).reshape(-1)
    labels = np.asarray(detections["labels"]).reshape(-1)
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(f"detections hold {len(boxes)} boxes, {len(scores)} scores and "
                         f"{len(labels)} labels; expected as many of each")
    features = []
    for (x1, y1, x2, y2), score, label in zip(boxes.tolist(), scores.tolist(), labels.tolist(),
                                               strict=True):
        name = str(class_names[label]) if class_names is not None else str(label)
        features.append({
            "type": "Feature",
            "geometry": {"type": "Polygon",
                         "coordinates": [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]},
            "properties": {"objectType": "detection", "classification": {"name": name},
                           "measurements": {"score": score}},
        })
    path = Path(path)
    with atomic_write(path, "w") as handle:
        json.dump({"type": "FeatureCollection", "features": features}, handle)
    return path

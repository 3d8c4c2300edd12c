"""Many slides, one output each: resumable, and sharded across ``torchrun`` ranks."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from histomammo._atomic import atomic_write
from histomammo.engine.distributed import (
    barrier,
    get_rank,
    get_world_size,
    init_from_env,
    launched_by_torchrun,
)
from histomammo.inference._sinks import OutputExistsError
from histomammo.inference.detect import write_geojson
from histomammo.inference.heatmap import Heatmap
from histomammo.io import TiffImage

__all__ = ["predict_slides"]

logger = logging.getLogger("histomammo.inference")


def _save(result: Any, out: Path) -> None:
    """Write what ``predict`` returned, when it did not write ``out`` itself."""
    if isinstance(result, Heatmap):
        result.save(out)
    elif isinstance(result, np.ndarray):
        with atomic_write(out, "wb") as handle:
            np.save(handle, result)
    elif isinstance(result, dict) and "boxes" in result:
        write_geojson(result, out)
    else:
        raise TypeError(f"predict wrote nothing to {out} and returned {type(result).__name__}; "
                        "expected it to write out, or to return a Heatmap, an array or "
                        "detections")


def _outputs(slides: Sequence[Any], out_dir: Path, suffix: str) -> list[Path]:
    names = [Path(getattr(s, "path", s)).name.split(".")[0] + suffix for s in slides]
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise ValueError(f"slides {seen[name]} and {index} would both be written to "
                             f"{out_dir / name}; give the slides distinct file names")
        seen[name] = index
    return [out_dir / name for name in names]


def predict_slides(
    slides: Sequence[str | os.PathLike[str] | TiffImage],
    predict: Callable[[TiffImage, Path], Any],
    out_dir: str | os.PathLike[str],
    *,
    suffix: str = ".zarr",
    resume: bool = True,
    progress: bool = True,
) -> list[Path]:
    """Run ``predict`` on every slide, one output file per slide, resumable and sharded.

    Parameters
    ----------
    slides : sequence of path or TiffImage
        The slides; each output is named after its slide's file name (up to its first dot)
        plus ``suffix``.
    predict : callable
        ``predict(slide, out)`` with the opened slide and its output path. It either writes
        ``out`` itself, atomically (e.g. ``segment_slide(model, slide, out=out, resume=True)``,
        which also continues a slide interrupted halfway), or returns a
        [`Heatmap`][histomammo.inference.Heatmap] (saved as ``.npz``), an array (``.npy``) or
        detections (GeoJSON), which are written atomically here.
    out_dir : path
        Folder of the outputs (created).
    suffix : str
        Output extension: ``".zarr"``, ``".tif"``, ``".npz"``, ``".npy"``, ``".geojson"``.
    resume : bool
        Skip slides whose output exists; with False an existing output is an error.
    progress : bool
        Show a progress bar of slides (on rank 0).

    Returns
    -------
    list of pathlib.Path
        Every slide's output, in the order of ``slides`` (all ranks' outputs on every rank).

    Raises
    ------
    OutputExistsError
        An output exists and ``resume`` is false.

    Notes
    -----
    Under ``torchrun`` the process group is started from the environment when needed (gloo;
    start it yourself first for NCCL) and rank ``r`` of ``n`` takes slides ``r, r + n, ...``;
    every rank waits for the others before returning. Outputs do not depend on the number
    of ranks: each slide is predicted by one process, exactly as in a single-process run.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, tifffile
    >>> from histomammo.inference import predict_slides
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a", "b"):
    ...     tifffile.imwrite(folder / f"{name}.tif", np.zeros((8, 8), np.uint8))
    >>> outputs = predict_slides(sorted(folder.glob("*.tif")),
    ...                          lambda slide, out: slide.read_region(0, 0, 2, 2),
    ...                          folder / "out", suffix=".npy", progress=False)
    >>> [p.name for p in outputs], np.load(outputs[0]).shape
    (['a.npy', 'b.npy'], (2, 2))
    """
    out_dir = Path(out_dir)
    outputs = _outputs(slides, out_dir, suffix)
    if launched_by_torchrun():
        init_from_env(torch.device("cpu"))
    rank, world = get_rank(), get_world_size()
    out_dir.mkdir(parents=True, exist_ok=True)
    mine = list(range(rank, len(slides), world))
    with tqdm(total=len(mine), desc=f"predict_slides (rank {rank})", unit="slide",
              disable=not progress or rank != 0) as bar:
        for index in mine:
            _predict_one(slides[index], predict, outputs[index], resume)
            bar.update()
    barrier()
    return outputs


def _predict_one(slide: Any, predict: Callable[[TiffImage, Path], Any], out: Path,
                 resume: bool) -> None:
    if out.exists():
        if not resume:
            raise OutputExistsError(f"{out} exists; pass resume=True to skip its slide "
                                    f"({getattr(slide, 'path', slide)}), or remove it")
        logger.info("%s exists, slide skipped", out)
        return
    opened = slide if isinstance(slide, TiffImage) else TiffImage(slide)
    try:
        result = predict(opened, out)
    finally:
        if opened is not slide:
            opened.close()
    if not out.exists():
        _save(result, out)

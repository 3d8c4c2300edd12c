"""Make a PCam-format patch set from one's own tiled slides and tumour masks.

``make_pcam_from_slides`` follows the PCam creators' recipe (Veeling et al. 2018; the
seed's section 2.1): 96x96 patches from the 10x level, background rejected when the blurred
HSV saturation of the patch stays below 0.07, the label is whether the centre 32x32 region
holds tumour, patches are sampled by repeatedly choosing a slide and then a positive or a
negative patch with probability ``p``, ``p`` being steered to keep the classes near 50/50,
and the splits are made by slide. The creators' last step, stochastic hard-negative mining
with a small CNN, is an optional hook taking any scoring function.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm.auto import tqdm

from histomammo._atomic import atomic_write
from histomammo.datasets._pcam_layout import (
    PATCH_SHAPE,
    SPLITS,
    MetaRow,
    data_name,
    labels_array,
    meta_name,
    write_h5,
    write_meta,
)
from histomammo.datasets._slide_sampling import Candidate, SlideSource, load_mask

__all__ = ["make_pcam_from_slides"]

logger = logging.getLogger("histomammo.datasets.pcam_from_slides")

_CHUNK = 512  # patches per resumable chunk
_PARTIAL = ".pcam_partial"


def _assign_splits(count: int, splits: Sequence[str] | None, rng: np.random.Generator) -> list[str]:
    """A split per slide: the caller's, or 20% test, 20% of the rest valid, the rest train."""
    if splits is not None:
        splits = [{"val": "valid"}.get(s, s) for s in splits]
        if len(splits) != count or any(s not in SPLITS for s in splits):
            raise ValueError(f"splits must name one of {SPLITS} for each of the {count} slides, "
                             f"got {splits}")
        return splits
    if count < 3:
        raise ValueError(f"{count} slide(s) cannot be split three ways by slide; pass splits=")
    order = rng.permutation(count)
    n_test = max(1, round(0.2 * count))
    n_valid = max(1, round(0.2 * (count - n_test)))
    names = ["test"] * n_test + ["valid"] * n_valid + ["train"] * (count - n_test - n_valid)
    out = [""] * count
    for slot, index in enumerate(order):
        out[index] = names[slot]
    return out


class _Progress:
    """A split's patches so far, saved in chunks so an interrupted run resumes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.chunks = sorted(folder.glob("chunk_*.npz")) if folder.exists() else []
        self.count = sum(int(np.load(c)["y"].size) for c in self.chunks)
        self.positives = sum(int(np.load(c)["y"].sum()) for c in self.chunks)

    def restore(self, rng: np.random.Generator) -> None:
        if self.chunks:
            rng.bit_generator.state = json.loads(str(np.load(self.chunks[-1])["rng"]))

    def save(self, patches: list[Candidate], wsi: list[int], rng: np.random.Generator) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"chunk_{len(self.chunks):05d}.npz"
        with atomic_write(path, "wb") as handle:
            np.savez(handle, x=np.stack([p.pixels for p in patches]),
                     y=np.array([p.center_tumor_patch for p in patches], np.uint8),
                     coords=np.array([(p.top, p.left) for p in patches], np.int64),
                     tumor=np.array([p.tumor_patch for p in patches]), wsi=np.array(wsi),
                     rng=np.array(json.dumps(rng.bit_generator.state)))
        self.chunks.append(path)
        self.count += len(patches)
        self.positives += sum(p.center_tumor_patch for p in patches)


def _sample_split(
    sources: list[SlideSource], n: int, progress: _Progress, rng: np.random.Generator, *,
    balance: float, hard_negative: Callable[[np.ndarray], float] | None, floor: float,
    bar: tqdm[Any],
) -> None:
    progress.restore(rng)
    bar.update(progress.count)
    patches: list[Candidate] = []
    wsi: list[int] = []
    misses = 0
    tumour_slides = any(s.has_tumour for s in sources)
    while progress.count + len(patches) < n:
        done = progress.count + len(patches)
        positives = progress.positives + sum(p.center_tumor_patch for p in patches)
        p = balance if done == 0 else float(np.clip(2 * balance - positives / done, 0.02, 0.98))
        index = int(rng.integers(len(sources)))
        positive = tumour_slides and rng.random() < p
        source = sources[index]
        candidate = source.draw(rng, positive) if source.has_tumour or not positive else None
        if candidate is not None and not positive and hard_negative is not None:
            if rng.random() >= max(float(hard_negative(candidate.pixels)), floor):
                candidate = None  # an easy negative, dropped (hard negatives stay more often)
        if candidate is None:
            misses += 1
            if misses > 50 * len(sources) + 200:
                raise ValueError(f"no {'tumour' if positive else 'tissue'} patch accepted from "
                                 f"{[s.name for s in sources]} in {misses} tries in a row")
            continue
        misses = 0
        patches.append(candidate)
        wsi.append(index)
        bar.update()
        if len(patches) == _CHUNK:
            progress.save(patches, wsi, rng)
            patches, wsi = [], []
    if patches:
        progress.save(patches, wsi, rng)


def _write_split(out_root: Path, split: str, progress: _Progress, names: list[str],
                 sources: list[SlideSource]) -> None:
    """The split's two HDF5 files and meta CSV, from its chunks; then the chunks go."""
    rows, labels = [], []
    x_path = out_root / data_name(split, "x")
    with atomic_write(x_path, "wb") as handle, h5py.File(handle, "w") as file:
        x = file.create_dataset("x", shape=(progress.count, *PATCH_SHAPE), dtype=np.uint8)
        start = 0
        for path in progress.chunks:
            chunk = np.load(path)
            x[start : start + len(chunk["y"])] = chunk["x"]
            start += len(chunk["y"])
            labels.append(chunk["y"])
            for (top, left), tumor, centre, slide in zip(chunk["coords"], chunk["tumor"],
                                                          chunk["y"], chunk["wsi"], strict=True):
                source = sources[int(slide)]
                rows.append(MetaRow(int(round(top * source.downsample)),
                                    int(round(left * source.downsample)), bool(tumor),
                                    bool(centre), names[int(slide)]))
    write_h5(out_root / data_name(split, "y"), labels_array(np.concatenate(labels)))
    write_meta(out_root / meta_name(split), rows)
    shutil.rmtree(progress.folder)


def make_pcam_from_slides(
    slides: Sequence[str | os.PathLike[str]],
    annotation_masks: Sequence[Any],
    out_root: str | os.PathLike[str],
    *,
    level: int = 2,
    n_patches: int | Mapping[str, int] = 1024,
    balance: float = 0.5,
    splits: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    saturation_threshold: float = 0.07,
    hard_negative: Callable[[np.ndarray], float] | None = None,
    hard_negative_floor: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Build a PCam-format set (x/y HDF5 files and meta CSV per split) from tiled slides.

    Parameters
    ----------
    slides : sequence of path
        Tiled pyramidal TIFFs (anything [`histomammo.io.TiffImage`][histomammo.io.tiff.TiffImage] opens).
    annotation_masks : sequence
        Per slide, its tumour mask as a 2-D array (True/nonzero = tumour), a ``.npy``,
        PNG or TIFF file, at any downsample of level 0 with the slide's aspect ratio; or
        None for a slide without tumour.
    out_root : path
        Output folder, laid out as [`PCam`][histomammo.datasets.pcam.PCam] reads it.
    level : int
        Pyramid level the 96x96 patches are cut from: PCam's 10x is level 2 of a 40x
        slide whose levels halve.
    n_patches : int or mapping of str to int
        Patches per split.
    balance : float
        Wanted share of positives; ``p`` is steered towards it.
    splits : sequence of str, optional
        Split per slide (``"train"``, ``"valid"`` or its alias ``"val"``, ``"test"``); by
        default 20% of slides are test and 20% of the rest valid.
    names : sequence of str, optional
        ``wsi`` names of the slides in the meta CSV; the file stems by default.
    saturation_threshold : float
        PCam's background rule: patches whose blurred saturation stays below it are dropped.
    hard_negative : callable, optional
        ``score(patch) -> float`` in [0, 1], e.g. a small CNN's tumour probability on the
        ``(96, 96, 3)`` uint8 patch; a negative is then kept with probability
        ``max(score, hard_negative_floor)``, so hard negatives are over-represented.
    hard_negative_floor : float
        Lowest acceptance probability of a negative under ``hard_negative``.
    seed : int
        Source of every random draw.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        ``out_root``.

    Raises
    ------
    DataFormatError
        A mask with another aspect ratio than its slide, an unreadable slide or mask.
    ValueError
        Inconsistent arguments, or no patch of a needed class can be found.

    Notes
    -----
    Resumable: patches are saved in chunks of 512 under ``out_root/.pcam_partial/`` with
    the random generator's state, so a rerun continues where it stopped and produces the
    same set; a split whose files exist is skipped. Every file is written atomically.
    Meta coordinates are level-0 pixels, as in PCam.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from histomammo.datasets import PCam, make_pcam_from_slides
    >>> from histomammo.datasets.synthetic import make_slide
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> slide = make_slide(folder / "s.tif", (1024, 1024), levels=3)
    >>> out = make_pcam_from_slides([slide.path], [slide.tumour], folder / "pcam", level=1,
    ...                             n_patches=8, splits=["train"], progress=False)
    >>> data = PCam(out, "train")
    >>> len(data), data.sample_info(0)["slide"]
    (8, 's')
    """
    if len(slides) != len(annotation_masks):
        raise ValueError(f"{len(slides)} slides but {len(annotation_masks)} annotation masks")
    if not 0.0 <= balance <= 1.0:
        raise ValueError(f"balance must lie in [0, 1], got {balance}")
    rng = np.random.default_rng(seed)
    split_of = _assign_splits(len(slides), splits, rng)
    names = [Path(s).stem for s in slides] if names is None else list(names)
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    for split in [s for s in SPLITS if s in split_of]:
        n = n_patches[split] if isinstance(n_patches, Mapping) else int(n_patches)
        if all((out_root / f).exists() for f in (data_name(split, "x"), data_name(split, "y"),
                                                  meta_name(split))):
            logger.info("%s: %s split already written, skipped", out_root, split)
            continue
        chosen = [i for i, s in enumerate(split_of) if s == split]
        sources = [SlideSource(slides[i], load_mask(annotation_masks[i], names[i]), level,
                               saturation_threshold, names[i]) for i in chosen]
        state = _Progress(out_root / _PARTIAL / split)
        with tqdm(total=n, desc=f"PCam {split} patches", disable=not progress) as bar:
            _sample_split(sources, n, state, np.random.default_rng([seed, SPLITS.index(split)]),
                          balance=balance, hard_negative=hard_negative,
                          floor=hard_negative_floor, bar=bar)
        _write_split(out_root, split, state, [names[i] for i in chosen], sources)
    if (out_root / _PARTIAL).exists() and not any((out_root / _PARTIAL).iterdir()):
        (out_root / _PARTIAL).rmdir()
    return out_root

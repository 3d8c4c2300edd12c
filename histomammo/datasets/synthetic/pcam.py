"""Synthetic PatchCamelyon: H&E-coloured 96x96 patches in the exact PCam file layout.

``make_pcam`` writes ``camelyonpatch_level_2_split_{split}_{x,y}.h5`` and
``camelyonpatch_level_2_split_{split}_meta.csv`` for the splits asked for, as the real set
has them, so that [`histomammo.datasets.PCam`][histomammo.datasets.pcam.PCam], ``torchvision.datasets.PCAM`` and
one's own code read them unchanged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

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
from histomammo.datasets.synthetic._pcam_draw import Stain, draw_patch
from histomammo.datasets.synthetic._stain import restain

__all__ = ["make_pcam"]

logger = logging.getLogger("histomammo.datasets.synthetic")

# CAMELYON16 has 160 normal and 110 tumour training slides and 130 test slides, of which
# test_049 is a duplicate that PCam leaves out.
_TRAIN_SLIDES = {"normal": 160, "tumor": 110}
_TEST_SLIDES = [n for n in range(1, 131) if n != 49]


def _slide_names(split: str, count: int, rng: np.random.Generator) -> dict[str, list[str]]:
    """``{"normal": [...], "tumor": [...]}`` slide names in PCam's ``wsi`` pattern.

    Training slides are split by slide: ``valid`` draws from the upper fifth of the
    numbers, ``train`` from the rest (PCam holds out 20% of the training WSIs).
    """
    half = max(count // 2, 1)
    if split == "test":  # CAMELYON16 test slides carry no label in their names
        numbers = rng.choice(_TEST_SLIDES, size=2 * half, replace=False)
        names = [f"camelyon16_test_{n:03d}" for n in numbers]
        return {"normal": names, "tumor": names[:half]}
    slides = {}
    for label, total in _TRAIN_SLIDES.items():
        cut = int(total * 0.8)
        pool = np.arange(cut + 1, total + 1) if split == "valid" else np.arange(1, cut + 1)
        numbers = rng.choice(pool, size=min(half, pool.size), replace=False)
        slides[label] = [f"camelyon16_train_{label}_{n:03d}" for n in numbers]
    slides["normal"] = slides["normal"] + slides["tumor"]  # tumour slides hold normal tissue too
    return slides


def _split_sizes(n_per_split: int | Mapping[str, int], splits: Iterable[str]) -> dict[str, int]:
    splits = list(splits)
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    sizes = (
        {split: int(n_per_split[split]) for split in splits}
        if isinstance(n_per_split, Mapping)
        else dict.fromkeys(splits, int(n_per_split))
    )
    bad = {split: n for split, n in sizes.items() if n < 1}
    if bad:
        raise ValueError(f"n_per_split must be at least 1 per split, got {bad}")
    return sizes


def _write_split(
    root: Path, split: str, n: int, rng: np.random.Generator, *, upright: bool,
    positive_fraction: float, edge_tumor_fraction: float, progress: bool,
    stain: str | np.ndarray | None,
) -> None:
    labels = np.zeros(n, dtype=np.uint8)
    labels[: int(round(n * positive_fraction))] = 1
    rng.shuffle(labels)
    slides = _slide_names(split, max(2, min(20, n // 16)), rng)
    stains = {name: Stain.draw(rng) for names in slides.values() for name in names}
    x = np.empty((n, *PATCH_SHAPE), dtype=np.uint8)
    rows = []
    for i in tqdm(range(n), desc=f"synthetic PCam {split}", disable=not progress, leave=False):
        positive = bool(labels[i])
        wsi = str(rng.choice(slides["tumor" if positive else "normal"]))
        edge = not positive and "normal" not in wsi and rng.random() < edge_tumor_fraction
        x[i] = draw_patch(rng, tumour_centre=positive, tumour_edge=edge, upright=upright,
                          stain=stains[wsi])
        coord_y, coord_x = (64 * rng.integers(100, 3400, size=2)).tolist()
        rows.append(MetaRow(coord_y, coord_x, positive or edge, positive, wsi))
    if stain is not None:
        x = restain(x, stain)
    write_h5(root / data_name(split, "x"), x)
    write_h5(root / data_name(split, "y"), labels_array(labels))
    write_meta(root / meta_name(split), rows)


def make_pcam(
    root: str | os.PathLike[str],
    n_per_split: int | Mapping[str, int] = 64,
    *,
    seed: int | np.random.Generator = 0,
    upright: bool = False,
    positive_fraction: float = 0.5,
    edge_tumor_fraction: float = 0.1,
    splits: Iterable[str] = SPLITS,
    progress: bool = True,
    stain: str | np.ndarray | None = None,
) -> Path:
    """Write a small synthetic PatchCamelyon in the exact layout of the real one.

    Each patch is a 96x96 RGB H&E image: lymphoid tissue (many small, round, regular
    nuclei), stroma (pink collagen fibres with thin spindle nuclei) or fat (large empty
    cells). A positive patch has a cluster of large, dark, irregular tumour nuclei with
    pink cytoplasm inside the centre 32x32 region, PCam's labelling rule; a share of the
    negatives from tumour slides carry tumour in the border only (``tumor_patch`` True,
    ``center_tumor_patch`` and the label False), as real PCam negatives do.

    Parameters
    ----------
    root : str or os.PathLike
        Folder to write into (created if needed).
    n_per_split : int or mapping of str to int
        Patches per split, or ``{"train": 512, "valid": 128, ...}``.
    seed : int or numpy.random.Generator
        Source of every random draw; the same seed writes the same bytes.
    upright : bool
        Give the tissue one dominant orientation: fibres and spindle nuclei run vertically,
        tumour nuclei are elongated (aspect 2.6-3.2) with their long axis vertical, and patches
        are never rotated or mirrored. Half the negatives then hold a centre cluster of
        benign cells as large and dark as tumour cells but with round nuclei, so the shape
        of the nuclei is what separates the classes. A plain CNN trained on such patches
        learns vertical elongation and loses accuracy on patches rotated by 90 degrees
        (where tumour nuclei lie horizontally), while a rotation-invariant network need not.
        By default (False) every patch has a random orientation, as in the real set.
    positive_fraction : float
        Share of positive patches per split (PCam keeps it close to 0.5).
    edge_tumor_fraction : float
        Share of negatives from tumour slides that hold tumour outside the centre region.
    splits : iterable of str
        Which of ``"train"``, ``"valid"``, ``"test"`` to write.
    progress : bool
        Show a progress bar.
    stain : str or (3, 2) array, optional
        Re-stain every image with these stain vectors (a name from
        ``histomammo.datasets.synthetic.SYNTHETIC_STAINS`` or a matrix whose
        columns are haematoxylin and eosin) just before it is written, through
        ``histomammo.datasets.synthetic.restain``; ``None`` (the default) writes the
        writer's own colours, byte for byte as without the option.

    Returns
    -------
    pathlib.Path
        ``root``.

    Notes
    -----
    Labels are ``(N, 1, 1, 1)`` uint8 and images ``(N, 96, 96, 3)`` uint8, as in PCam.
    Slide names follow PCam's ``wsi`` pattern (``camelyon16_train_tumor_090``; test
    slides ``camelyon16_test_NNN``); train and valid use disjoint slides, and patch
    coordinates are multiples of 64 at level 0, like the real meta rows. Colours vary
    per slide (stain strength and illumination).

    Examples
    --------
    >>> import tempfile
    >>> from histomammo.datasets.synthetic import make_pcam
    >>> root = make_pcam(tempfile.mkdtemp(), n_per_split=4, splits=["valid"], progress=False)
    >>> sorted(p.name for p in root.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['camelyonpatch_level_2_split_valid_meta.csv', 'camelyonpatch_level_2_split_valid_x.h5',
     'camelyonpatch_level_2_split_valid_y.h5']
    """
    if not 0.0 <= positive_fraction <= 1.0 or not 0.0 <= edge_tumor_fraction <= 1.0:
        raise ValueError(
            f"positive_fraction and edge_tumor_fraction must lie in [0, 1], got "
            f"{positive_fraction} and {edge_tumor_fraction}"
        )
    sizes = _split_sizes(n_per_split, splits)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in sizes.items():
        _write_split(root, split, n, rng, upright=upright, positive_fraction=positive_fraction,
                     edge_tumor_fraction=edge_tumor_fraction, progress=progress, stain=stain)
        logger.info("wrote %d synthetic PCam patches (%s) to %s", n, split, root)
    return root

"""Synthetic BreCaHAD: H&E-like tissue images with annotated nucleus centres, in the real layout.

``make_brecahad`` writes ``<root>/images/Case_<c>-<ii>.tif`` (RGB uint8 TIFF) and
``<root>/groundTruth/Case_<c>-<ii>.json`` (one object with the seven BreCaHAD keys, each a list
of ``{"x", "y"}`` points normalised by the image width and height), which
[`histomammo.datasets.BreCaHAD`][histomammo.datasets.BreCaHAD] reads like the real dataset.

The tissue is pink stroma (eosin) with pale lumina; nuclei are purple (haematoxylin). Tumour
nuclei (``"tumor"``) are larger, darker, irregular in outline and coarsely textured;
non-tumour nuclei (``"non_tumor"``: lymphocytes, fibroblasts) are small, round or elongated
and paler, so a detector must learn to find the first and ignore the second.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from histomammo._atomic import atomic_write
from histomammo.datasets.synthetic._stain import restain

__all__ = ["make_brecahad"]

_KEYS = ("mitosis", "non_mitosis", "apoptosis", "tumor", "non_tumor", "lumen", "non_lumen")
_STROMA = np.array([236.0, 178.0, 206.0])      # eosin pink
_LUMEN = np.array([246.0, 238.0, 244.0])       # nearly white
_TUMOUR = np.array([72.0, 34.0, 112.0])        # dark haematoxylin
_NORMAL = np.array([138.0, 96.0, 176.0])       # paler nuclei


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, cell: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid, bilinearly upsampled."""
    h, w = shape
    grid = rng.uniform(-1, 1, (h // cell + 2, w // cell + 2))
    rows, cols = np.arange(h) / cell, np.arange(w) / cell
    r0, c0 = rows.astype(int), cols.astype(int)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    top = grid[r0][:, c0] * (1 - fc) + grid[r0][:, c0 + 1] * fc
    bottom = grid[r0 + 1][:, c0] * (1 - fc) + grid[r0 + 1][:, c0 + 1] * fc
    return top * (1 - fr) + bottom * fr


def _draw_nucleus(image: np.ndarray, centre: tuple[float, float], radius: float,
                  colour: np.ndarray, irregularity: float, elongation: float,
                  texture: float, rng: np.random.Generator) -> None:
    """Paint one nucleus: a star-shaped blob with a wobbly outline and chromatin speckle."""
    row, col = centre
    extent = int(np.ceil(radius * (1 + irregularity) * max(elongation, 1) + 2))
    r0, r1 = max(int(row) - extent, 0), min(int(row) + extent + 1, image.shape[0])
    c0, c1 = max(int(col) - extent, 0), min(int(col) + extent + 1, image.shape[1])
    if r0 >= r1 or c0 >= c1:
        return
    rr, cc = np.mgrid[r0:r1, c0:c1]
    angle = rng.uniform(0, np.pi)
    dy, dx = rr - row, cc - col
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) * elongation
    theta, dist = np.arctan2(v, u), np.hypot(u, v)
    harmonics = rng.normal(0, irregularity, 4) / np.array([1, 1.5, 2, 3])
    phases = rng.uniform(0, 2 * np.pi, 4)
    outline = radius * (1 + sum(a * np.cos((k + 2) * theta + p)
                                for k, (a, p) in enumerate(zip(harmonics, phases, strict=True))))
    alpha = np.clip(outline - dist + 0.5, 0, 1)[..., None]  # anti-aliased edge
    speckle = 1 + texture * rng.normal(0, 1, alpha.shape[:2])[..., None]
    patch = image[r0:r1, c0:c1]
    patch[:] = patch * (1 - alpha) + np.clip(colour * speckle, 0, 255) * alpha


def _place(n: int, shape: tuple[int, int], margin: float, taken: list[tuple[float, float, float]],
           radius: tuple[float, float], rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Up to ``n`` (row, col, radius) centres that do not overlap earlier nuclei."""
    placed: list[tuple[float, float, float]] = []
    for _ in range(n * 20):
        if len(placed) == n:
            break
        r = rng.uniform(*radius)
        row, col = rng.uniform(-margin, shape[0] + margin), rng.uniform(-margin, shape[1] + margin)
        if all((row - a) ** 2 + (col - b) ** 2 > (r + c + 3) ** 2 for a, b, c in taken + placed):
            placed.append((row, col, r))
    return placed


def synthetic_brecahad_image(
    shape: tuple[int, int], rng: np.random.Generator, n_tumour: int = 30, n_other: int = 40,
    tumour_radius: tuple[float, float] = (9.0, 13.0), other_radius: tuple[float, float] = (4.0, 6.5),
) -> tuple[np.ndarray, dict[str, list[tuple[float, float]]]]:
    """One H&E-like RGB image and its nucleus centres as ``(column, row)`` pixels per key."""
    h, w = shape
    tissue = _smooth_noise(shape, rng, max(min(h, w) // 6, 4))
    lumen = np.clip((tissue - 0.55) * 8, 0, 1)[..., None]       # pale holes in the stroma
    fibres = 10 * _smooth_noise(shape, rng, 6)[..., None]
    image = _STROMA * (1 - lumen) + _LUMEN * lumen + fibres * (1 - lumen)
    image = image + rng.normal(0, 4, image.shape)
    # tumour nuclei cluster where the tissue field is dense; others anywhere
    tumours = [t for t in _place(n_tumour * 3, shape, 0, [], tumour_radius, rng)
               if tissue[min(int(t[0]), h - 1), min(int(t[1]), w - 1)] < 0.3][:n_tumour]
    others = _place(n_other, shape, 0, tumours, other_radius, rng)
    points: dict[str, list[tuple[float, float]]] = {key: [] for key in _KEYS}
    for row, col, r in tumours:
        _draw_nucleus(image, (row, col), r, _TUMOUR * rng.uniform(0.85, 1.1), 0.18,
                      rng.uniform(1.0, 1.4), 0.22, rng)
        points["tumor"].append((col, row))
    for row, col, r in others:
        _draw_nucleus(image, (row, col), r, _NORMAL * rng.uniform(0.9, 1.1), 0.03,
                      rng.uniform(1.0, 2.2), 0.05, rng)
        points["non_tumor"].append((col, row))
    ys, xs = np.nonzero(lumen[..., 0] > 0.9)
    for i in rng.choice(len(ys), size=min(3, len(ys)), replace=False) if len(ys) else []:
        points["lumen"].append((float(xs[i]), float(ys[i])))
    return np.clip(image, 0, 255).astype(np.uint8), points


def make_brecahad(
    root: str | os.PathLike[str],
    n_cases: int = 4,
    images_per_case: int | tuple[int, ...] = 3,
    seed: int | np.random.Generator = 0,
    *,
    size: tuple[int, int] = (1024, 1360),
    nuclei: tuple[int, int] | None = None,
    groundtruth_dirname: str = "groundTruth",
    stain: str | np.ndarray | None = None,
) -> Path:
    """Write a synthetic BreCaHAD copy in the exact layout of the real dataset.

    Parameters
    ----------
    root : path
        Created if needed; receives ``images/`` and ``groundTruth/``.
    n_cases : int
        Number of cases (patients), named ``Case_1``, ``Case_2``, ...
    images_per_case : int or tuple of int
        Images per case, one number for all or one per case (real cases differ in size).
    seed : int or numpy.random.Generator
        Source of every random draw.
    size : (height, width)
        Image size; the real images are 1024 x 1360.
    nuclei : (n_tumour, n_other), optional
        Nuclei per image; default scales (60, 80) with the image area.
    groundtruth_dirname : str
        Spelling of the annotation folder (some copies use ``groundtruth``).
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

    Examples
    --------
    >>> import tempfile, json
    >>> root = make_brecahad(tempfile.mkdtemp(), n_cases=1, images_per_case=1, size=(64, 80))
    >>> sorted(p.name for p in (root / "images").iterdir())
    ['Case_1-01.tif']
    >>> sorted(json.loads((root / "groundTruth" / "Case_1-01.json").read_text()))[:3]
    ['apoptosis', 'lumen', 'mitosis']
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    counts = ((images_per_case,) * n_cases if isinstance(images_per_case, int)
              else tuple(images_per_case))
    if n_cases < 1 or len(counts) != n_cases or min(counts) < 1:
        raise ValueError(f"need n_cases >= 1 and one image count >= 1 per case, but got "
                         f"n_cases={n_cases}, images_per_case={images_per_case!r}")
    h, w = size
    if nuclei is None:
        scale = h * w / (1024 * 1360)
        nuclei = (max(int(round(60 * scale)), 2), max(int(round(80 * scale)), 2))
    root = Path(root)
    for folder in ("images", groundtruth_dirname):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for case, count in enumerate(counts, start=1):
        for index in range(1, count + 1):
            name = f"Case_{case}-{index:02d}"
            image, points = synthetic_brecahad_image((h, w), rng, *nuclei)
            if stain is not None:
                image = restain(image, stain)
            buffer = io.BytesIO()  # tifffile wants a seekable named file or a buffer
            tifffile.imwrite(buffer, image, photometric="rgb", rowsperstrip=64)
            with atomic_write(root / "images" / f"{name}.tif") as f:
                f.write(buffer.getvalue())
            document: dict[str, Any] = {
                key: [{"x": col / w, "y": row / h} for col, row in points[key]] for key in _KEYS
            }
            with atomic_write(root / groundtruth_dirname / f"{name}.json", "w") as f:
                json.dump(document, f)
    return root

"""Synthetic screening mammograms with what real ones carry: skin, calcifications, markers, masses.

[`screening_mammogram`][histomammo.datasets.synthetic.screening_mammogram] builds on
[`synthetic_mammogram`][histomammo.datasets.synthetic.synthetic_mammogram]
(breast silhouette, tissue texture) and adds the pectoral muscle of an MLO view (a dense,
nearly uniform wedge with a sharp edge), a skin line, a few benign calcifications, the
burned-in scanner marker (a block and the view text at the brightest value, in the upper
corner away from the chest wall), optionally a grey marker of
the older kind the thesis's naive method misses, and for malignant cases a bright
spiculated mass, returned with its mask.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from histomammo._atomic import atomic_write
from histomammo.datasets.synthetic.dicom import synthetic_mammogram

__all__ = ["SyntheticMammogram", "screening_mammogram"]

# 5x7 bitmap glyphs for the marker text (rows top to bottom, '#' lit).
_GLYPHS = {
    "L": ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
    "R": ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"],
    "C": [".####", "#....", "#....", "#....", "#....", "#....", ".####"],
    "M": ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"],
    "O": [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
}


class SyntheticMammogram(NamedTuple):
    """What [`screening_mammogram`][histomammo.datasets.synthetic.screening_mammogram] returns.

    Attributes
    ----------
    pixels : numpy.ndarray
        uint16 ``(H, W)``, MONOCHROME2 values (dense bright) in ``[0, 2**bits_stored - 1]``.
    mass_mask : numpy.ndarray
        bool ``(H, W)``: the spiculated mass (all False for a normal breast).
    breast_mask : numpy.ndarray
        bool ``(H, W)``: the breast (tissue, skin and pectoral muscle), markers excluded.
    calcifications : numpy.ndarray
        ``(N, 2)`` float ``(x, y)`` centres of the calcifications.
    """

    pixels: np.ndarray
    mass_mask: np.ndarray
    breast_mask: np.ndarray
    calcifications: np.ndarray


def screening_mammogram(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    laterality: str = "L",
    view: str = "CC",
    bits_stored: int = 12,
    malignant: bool = False,
    grey_marker: bool = False,
    anatomy: str | None = None,
) -> SyntheticMammogram:
    """Draw a screening mammogram with skin line, calcifications, markers and optionally a mass.

    The scanner marker (a filled block and the text ``laterality + view``, e.g. ``"LMLO"``)
    is burned in at ``2**bits_stored - 1``, the brightest value, which nothing else
    reaches: tissue stays at or below 0.8, the pectoral muscle below 0.92, calcifications at
    0.97 and the mass at most 0.96 of the range. ``grey_marker=True`` adds a second block and text at 0.55 of the range in
    the lower corner, which [`remove_markers`][histomammo.transforms.mammo.remove_markers]'s
    ``"saturated"`` method leaves in place. A malignant case has a round mass of radius
    about 6% of the width, 0.2 to 0.3 brighter than the tissue around it, with 8 to 13 spicules
    reaching twice as far: a model can learn to see it.

    The view shows in the anatomy as on real mammograms (thesis section 6.2: "the general
    shape is quite different"): an MLO view has the pectoral muscle, a wedge in the upper
    chest-wall corner whose edge runs from 35-50% of the width along the top edge to 55-75% of
    the height down the chest wall, slightly convex, nearly uniform at 0.86-0.9 of the range
    (denser than the textured tissue beside it, which stays at or below 0.8) behind a
    two-pixel edge; a CC view has none. The marker's letters are 5.5% of the image height.
    ``anatomy`` draws another view's anatomy under the same marker: ``view="MLO",
    anatomy="CC"`` gives an image whose only view cue is the marker text, the control of
    the marker ablation (a model that still tells the views apart reads the marker).

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)``, each >= 64.
    rng : numpy.random.Generator
        Source of all randomness.
    laterality, view : str
        ``"L"``/``"R"`` and ``"CC"``/``"MLO"``; the marker spells them.
    bits_stored : int
        12 or 14.
    malignant : bool
        Add a spiculated mass.
    grey_marker : bool
        Add a grey marker.
    anatomy : {"CC", "MLO"}, optional
        The view whose anatomy is drawn (MLO: with the pectoral muscle); default ``view``.

    Returns
    -------
    SyntheticMammogram

    Examples
    --------
    >>> import numpy as np
    >>> case = screening_mammogram((256, 208), np.random.default_rng(0), malignant=True)
    >>> int(case.pixels.max()), bool(case.mass_mask.any())
    (4095, True)
    >>> bool((case.pixels[case.breast_mask] < 4095).all())   # only the marker saturates
    True
    """
    if len(shape) != 2 or min(shape) < 64:
        raise ValueError(f"shape must be (H, W) with H, W >= 64, got {shape}")
    anatomy = view if anatomy is None else anatomy
    if anatomy not in ("CC", "MLO"):
        raise ValueError(f"anatomy must be 'CC' or 'MLO', got {anatomy!r}")
    height, width = int(shape[0]), int(shape[1])
    top = 2**bits_stored - 1
    base = synthetic_mammogram((height, width), rng, laterality=laterality,
                               bits_stored=bits_stored, view="CC")
    unit = base.astype(np.float32) / top
    breast = unit > 0.15
    unit = np.minimum(unit, 0.8)  # the densest tissue; the muscle is denser still
    if anatomy == "MLO":
        _add_pectoral_muscle(unit, breast, laterality, rng)
    skin_depth = ndimage.distance_transform_edt(breast)  # the image border is not skin
    _add_skin_line(unit, breast, skin_depth, width)
    # distance to the skin or the image border: a mass is not cut off by the border
    rows, cols = np.arange(height), np.arange(width)
    border = np.minimum.outer(np.minimum(rows + 1, height - rows), np.minimum(cols + 1, width - cols))
    depth = np.minimum(skin_depth, border)
    calcifications = _add_calcifications(unit, depth, rng)
    mass = _add_mass(unit, breast, depth, rng, anatomy) if malignant else np.zeros_like(breast)
    pixels = np.rint(np.clip(unit, 0, 1) * top).astype(np.uint16)
    _add_marker(pixels, f"{laterality}{view}", laterality, top, at_top=True)
    if grey_marker:
        _add_marker(pixels, view, laterality, int(0.55 * top), at_top=False)
    return SyntheticMammogram(pixels, mass, breast, calcifications)


def _add_pectoral_muscle(
    unit: np.ndarray, breast: np.ndarray, laterality: str, rng: np.random.Generator
) -> None:
    """The MLO view's pectoral muscle: a dense, nearly uniform wedge in the upper chest-wall corner."""
    height, width = unit.shape
    rows = np.arange(height, dtype=np.float32)[:, None] / height
    cols = np.arange(width, dtype=np.float32)[None, :]
    depth = (cols if laterality == "L" else width - 1 - cols) / width  # 0 at the chest wall
    top_width, reach = rng.uniform(0.35, 0.5), rng.uniform(0.55, 0.75)
    edge = top_width * np.clip(1.0 - rows / reach, 0.0, None) ** 0.8  # slightly convex
    inside = np.clip((edge - depth) * width / 2.0, 0.0, 1.0)  # a two-pixel ramp at the edge
    level = rng.uniform(0.86, 0.9) + 0.01 * rng.standard_normal(unit.shape).astype(np.float32)
    unit[:] = (1.0 - inside) * unit + inside * level
    breast |= inside > 0


def _add_skin_line(unit: np.ndarray, breast: np.ndarray, depth: np.ndarray, width: int) -> None:
    """A thin band along the breast edge, brighter than the thin tissue inside it."""
    edge = breast & (depth <= max(1, width // 150))
    unit[edge] = np.maximum(unit[edge], 0.6)


def _add_calcifications(unit: np.ndarray, depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """3 to 6 tiny bright dots inside the breast (benign: every case has some)."""
    inside = np.argwhere(depth > 4)
    if len(inside) == 0:
        return np.zeros((0, 2))
    centres = inside[rng.choice(len(inside), size=int(rng.integers(3, 7)))]
    for row, col in centres:
        unit[max(row - 1, 0) : row + 1, max(col - 1, 0) : col + 1] = 0.97
    return centres[:, ::-1].astype(np.float64)


def _add_mass(
    unit: np.ndarray, breast: np.ndarray, depth: np.ndarray, rng: np.random.Generator, view: str
) -> np.ndarray:
    """A bright round mass with radiating spicules, inside the breast; returns its mask."""
    height, width = unit.shape
    radius = 0.06 * width * rng.uniform(0.85, 1.15)
    allowed = depth > 2.2 * radius
    if view == "MLO":  # keep it below the pectoral muscle
        allowed[: int(0.5 * height)] = False
    inner = np.argwhere(allowed)
    if len(inner) == 0:
        inner = np.argwhere(breast)
    row, col = inner[rng.integers(len(inner))]
    reach = int(np.ceil(2.2 * radius)) + 1  # work in the mass's window only
    top, left = max(row - reach, 0), max(col - reach, 0)
    window = (slice(top, min(row + reach + 1, height)), slice(left, min(col + reach + 1, width)))
    rows, cols = np.ogrid[window[0], window[1]]
    distance = np.hypot(rows - row, cols - col)
    local = distance <= radius
    angle = np.arctan2(rows - row, cols - col)
    for spike in rng.uniform(-np.pi, np.pi, int(rng.integers(8, 14))):
        off_axis = np.abs(np.angle(np.exp(1j * (angle - spike)))) * distance
        local |= (off_axis <= max(1.0, radius * 0.12)) & (distance <= 2.2 * radius)
    local &= breast[window]
    profile = 0.3 - 0.1 * np.clip(distance / (2.2 * radius), 0, 1)  # brightest at the core
    patch = unit[window]
    patch[local] = np.minimum(patch[local] + profile[local], 0.96)
    mask = np.zeros_like(breast)
    mask[window] = local
    return mask


def _add_marker(pixels: np.ndarray, text: str, laterality: str, value: int, *, at_top: bool) -> None:
    """A filled block and ``text`` in the corner away from the chest wall, clipped to the image."""
    height, width = pixels.shape
    # letters 5.5% of the image height (a label about 1.6 cm high on an INbreast image):
    # large enough to survive the thesis's downscaling, so that keeping it gives the view away
    scale = max(1, round(0.055 * height / 7))
    block_h, block_w = max(2, height // 60), max(3, int(0.09 * width))
    top = int(0.015 * height) if at_top else height - int(0.015 * height) - block_h - 9 * scale
    left = width - int(0.02 * width) - max(block_w, 6 * scale * len(text))
    if laterality == "R":  # chest wall on the right: the marker goes to the left corner
        left = int(0.02 * width)
    pixels[top : top + block_h, left : left + block_w] = value
    glyph_top = top + block_h + scale
    for index, letter in enumerate(text):
        bitmap = np.array([[c == "#" for c in line] for line in _GLYPHS[letter]])
        lit = np.kron(bitmap, np.ones((scale, scale), dtype=bool))
        region = pixels[glyph_top : glyph_top + lit.shape[0],
                        left + index * 6 * scale : left + index * 6 * scale + lit.shape[1]]
        region[lit[: region.shape[0], : region.shape[1]]] = value


def _write_table(
    path: Path, columns: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str = ",",
    line_end: str = "\n",
) -> None:
    """A CSV table with a header row, written atomically (the writers' tables)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(columns)
    writer.writerows(rows)
    with atomic_write(path, "w") as handle:
        handle.write(buffer.getvalue())

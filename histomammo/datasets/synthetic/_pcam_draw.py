"""Drawing of synthetic H&E patches: stain mixing, tissue textures, nuclei.

Colours follow the Beer-Lambert model of brightfield microscopy: every pixel holds a
haematoxylin and an eosin concentration, and its colour is ``255 * 10**-(h * H + e * E)``
with the stain vectors of Ruifrok & Johnston (2001). Haematoxylin stains nuclei
blue-purple, eosin stains cytoplasm and collagen pink.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["CENTRE", "Stain", "draw_patch", "draw_tissue", "stain_to_rgb", "tumour_cells"]

SIZE = 96
CENTRE = slice(32, 64)  # the centre 32x32 region whose content decides the label
_H = np.array([0.650, 0.704, 0.286], dtype=np.float32)
_E = np.array([0.072, 0.990, 0.105], dtype=np.float32)
_DISC2 = np.hypot(*np.mgrid[-2:3, -2:3]) <= 2.2


@dataclass(frozen=True)
class Stain:
    """One slide's staining: strengths of haematoxylin and eosin, and the light's level."""

    haematoxylin: float = 1.0
    eosin: float = 1.0
    white: float = 242.0

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Stain:
        """A stain as slides from different labs vary (about +-15% per stain)."""
        h, e = rng.lognormal(0.0, 0.15, size=2)
        return cls(float(h), float(e), float(rng.uniform(232, 250)))


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-variance noise with structures about ``sigma`` pixels wide."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return field / (field.std() + 1e-6)


def _fibres(rng: np.random.Generator, shape: tuple[int, int], angle: float) -> np.ndarray:
    """Wavy collagen fibres in [0, 1] running along ``angle`` (radians; 0 = vertical)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    across = xx * np.cos(angle) - yy * np.sin(angle)  # distance across the fibres
    phase = 1.6 * _smooth_noise(rng, shape, 10.0)
    stripes = np.sin(2 * np.pi * across / rng.uniform(5.0, 8.0) + phase)
    return np.clip((stripes - 0.2) / 0.8, 0, 1)


def _fat(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Adipocytes: large empty cells whose thin membranes take up eosin, in [0, 1]."""
    centres = rng.uniform(-10, max(shape) + 10, size=(int(rng.integers(8, 16)), 2))
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    dist = np.hypot(yy[..., None] - centres[:, 0], xx[..., None] - centres[:, 1])
    two = np.partition(dist, 1, axis=-1)[..., :2]
    return np.clip(1.5 - (two[..., 1] - two[..., 0]), 0, 1)


def _small_nuclei(rng: np.random.Generator, shape: tuple[int, int], count: int) -> np.ndarray:
    """Small, regular, round nuclei (lymphocytes): discs of radius 2, haematoxylin in [0, 1]."""
    seeds = np.zeros(shape, dtype=np.float32)
    seeds[rng.integers(0, shape[0], count), rng.integers(0, shape[1], count)] = rng.uniform(
        0.6, 0.9, count
    )
    return ndimage.grey_dilation(seeds, footprint=_DISC2)


def stamp_nucleus(
    h: np.ndarray,
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    aspect: float,
    angle: float,
    irregularity: float,
    darkness: float,
) -> None:
    """Add one nucleus to haematoxylin map ``h`` in place (maximum with what is there).

    ``angle`` is the direction of the major axis (radians; 0 = vertical); ``aspect`` the
    ratio of major to minor axis; ``irregularity`` the amplitude of the boundary's
    low-order harmonics (0 = an ellipse).
    """
    half = int(np.ceil(radius * max(aspect, 1.0))) + 2
    cy, cx = int(round(centre[0])), int(round(centre[1]))
    y0, y1 = max(cy - half, 0), min(cy + half + 1, h.shape[0])
    x0, x1 = max(cx - half, 0), min(cx + half + 1, h.shape[1])
    if y0 >= y1 or x0 >= x1:
        return
    dy = (np.arange(y0, y1, dtype=np.float32) - np.float32(centre[0]))[:, None]
    dx = (np.arange(x0, x1, dtype=np.float32) - np.float32(centre[1]))[None, :]
    along = dy * np.cos(angle) + dx * np.sin(angle)
    across = -dy * np.sin(angle) + dx * np.cos(angle)
    u, v = along / (radius * aspect), across / radius
    rho, phi = np.hypot(u, v), np.arctan2(v, u)
    boundary = np.ones_like(rho)
    for order in (2, 3, 5):
        boundary += irregularity * rng.uniform(0.3, 1.0) * np.cos(order * phi + rng.uniform(0, 6.3))
    inside = np.clip((boundary - rho) * radius, 0, 1)
    chromatin = 1.0 + 0.25 * rng.standard_normal(inside.shape, dtype=np.float32)  # coarse, clumped chromatin
    np.maximum(h[y0:y1, x0:x1], darkness * inside * chromatin, out=h[y0:y1, x0:x1])


def _cell_cluster(
    h: np.ndarray, e: np.ndarray, rng: np.random.Generator, box: tuple[int, int, int, int],
    *, aspect: tuple[float, float], upright: bool, irregularity: tuple[float, float],
) -> None:
    """Large, dark nuclei with pink cytoplasm, centred inside ``box`` (y0, y1, x0, x1).

    Every nucleus has the area of a disc of radius 5-7 px whatever its ``aspect``; with
    ``upright`` its long axis is vertical, otherwise it points anywhere.
    """
    y0, y1, x0, x1 = box
    for _ in range(int(rng.integers(5, 9))):
        centre = (rng.uniform(y0, y1), rng.uniform(x0, x1))
        angle = rng.normal(0.0, 0.08) if upright else rng.uniform(0, np.pi)
        elongation = rng.uniform(*aspect)
        radius = rng.uniform(5.0, 7.0) / np.sqrt(elongation)
        stamp_nucleus(e, rng, centre, radius * 1.6, elongation, angle, 0.05, 0.7)  # cytoplasm
        stamp_nucleus(h, rng, centre, radius, elongation, angle, rng.uniform(*irregularity),
                      rng.uniform(1.1, 1.5))


def tumour_cells(
    h: np.ndarray, e: np.ndarray, rng: np.random.Generator, box: tuple[int, int, int, int],
    upright: bool,
) -> None:
    """Tumour cells: pleomorphic nuclei, elongated (aspect 2.6-3.2) in the upright world."""
    _cell_cluster(h, e, rng, box, aspect=(2.6, 3.2) if upright else (1.0, 1.5),
                  upright=upright, irregularity=(0.1, 0.2))


def _histiocyte_cluster(h: np.ndarray, e: np.ndarray, rng: np.random.Generator) -> None:
    """Benign cells as large and dark as tumour cells but with round, regular nuclei."""
    _cell_cluster(h, e, rng, (36, 60, 36, 60), aspect=(1.0, 1.15), upright=True,
                  irregularity=(0.0, 0.05))


def draw_tissue(
    rng: np.random.Generator, kind: str, upright: bool, shape: tuple[int, int] = (SIZE, SIZE)
) -> tuple[np.ndarray, np.ndarray]:
    """Haematoxylin and eosin maps of normal tissue: ``"lymphoid"``, ``"stroma"`` or ``"fat"``.

    With ``upright`` the fibres and the spindle nuclei along them run vertically, otherwise
    along a random direction.
    """
    angle = rng.normal(0.0, 0.05) if upright else rng.uniform(0, np.pi)
    area = shape[0] * shape[1] / SIZE**2
    e = np.clip(0.3 + 0.06 * _smooth_noise(rng, shape, 6.0), 0, None)
    h = np.zeros(shape, dtype=np.float32)
    if kind == "lymphoid":
        h = _small_nuclei(rng, shape, int(area * rng.integers(90, 160)))
        e *= 0.7
    elif kind == "stroma":
        e += 0.35 * _fibres(rng, shape, angle)
        for _ in range(int(area * rng.integers(6, 14))):
            centre = (rng.uniform(0, shape[0]), rng.uniform(0, shape[1]))
            stamp_nucleus(h, rng, centre, rng.uniform(1.3, 1.8), rng.uniform(3.0, 4.5),
                          angle + rng.normal(0, 0.1), 0.0, rng.uniform(0.6, 0.9))
    elif kind == "fat":
        e = 0.04 + 0.5 * _fat(rng, shape)
        h = _small_nuclei(rng, shape, int(area * rng.integers(2, 8)))
    else:
        raise ValueError(f"unknown tissue kind {kind!r}; expected 'lymphoid', 'stroma' or 'fat'")
    return h, e


def stain_to_rgb(
    h: np.ndarray, e: np.ndarray, stain: Stain, rng: np.random.Generator
) -> np.ndarray:
    """Beer-Lambert colour of concentration maps ``h``, ``e`` (HW) as uint8 RGB (HW3)."""
    h = ndimage.gaussian_filter(h, 0.6) * stain.haematoxylin
    e = ndimage.gaussian_filter(e, 0.6) * stain.eosin
    density = h[..., None] * _H + e[..., None] * _E
    noise = rng.standard_normal(density.shape, dtype=np.float32)
    rgb = stain.white * np.exp(np.float32(-np.log(10.0)) * density) + 2.5 * noise
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def draw_patch(
    rng: np.random.Generator, *, tumour_centre: bool, tumour_edge: bool, upright: bool,
    stain: Stain,
) -> np.ndarray:
    """One 96x96 uint8 RGB patch.

    ``tumour_centre`` puts a tumour cluster inside the centre 32x32 region (a positive
    patch); ``tumour_edge`` puts one in the border only, leaving the centre free (a negative
    patch with tumour pixels, as PCam has). Without ``upright`` the patch is finally
    rotated by a random multiple of 90 degrees and maybe mirrored. In the upright world
    half the negatives hold a centre cluster of benign cells as large and dark as tumour
    cells, but with round nuclei: there the shape of the nuclei, not their size or
    darkness, tells the classes apart.
    """
    kinds = ("lymphoid", "stroma") if tumour_centre or tumour_edge else ("lymphoid", "stroma", "fat")
    h, e = draw_tissue(rng, str(rng.choice(kinds)), upright)
    if tumour_centre:
        tumour_cells(h, e, rng, (36, 60, 36, 60), upright)
    elif upright and rng.random() < 0.5:
        _histiocyte_cluster(h, e, rng)
    if tumour_edge:  # cells (cytoplasm included) centred in rows 3..8 end above row 32
        tumour_cells(h, e, rng, (3, 8, 8, 88), upright)
    rgb = stain_to_rgb(h, e, stain, rng)
    if not upright:
        rgb = np.rot90(rgb, int(rng.integers(4)))
        if rng.random() < 0.5:
            rgb = rgb[:, ::-1]
    return np.ascontiguousarray(rgb)

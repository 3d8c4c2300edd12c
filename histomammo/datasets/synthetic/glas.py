"""Synthetic GlaS (Warwick-QU) release: H&E-like gland images in the exact flat layout.

``make_glas`` writes ``train_<n>.bmp``, ``testA_<n>.bmp``, ``testB_<n>.bmp``, each with its
``<name>_anno.bmp`` instance label image, and ``Grade.csv`` as released: its header, its
leading spaces (none before some patient IDs), bare CR line endings, no final newline, the
spelling ``differentated``, patients 1-16 recurring across the parts and a few (part,
patient) pairs mixing grades. ``draw_glands`` draws one image and its labels in memory.

A gland is a ring of dark epithelial nuclei in purple cytoplasm around a pale lumen, set in
pink fibrous stroma with scattered stromal nuclei. Benign glands are round; malignant ones
irregular (a radius with strong low harmonics) and more crowded. About a quarter of the glands
touch a neighbour, sharing a boundary but keeping their own label, as in the real annotation.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from histomammo._atomic import atomic_write
from histomammo.datasets.synthetic._stain import restain

__all__ = ["make_glas", "draw_glands", "GLAS_COUNTS", "GLAS_SIZES"]

#: Images per split in the release.
GLAS_COUNTS = {"train": 85, "testA": 60, "testB": 20}
#: (height, width) of the release's images; 775x522 (WxH) is by far the most common.
GLAS_SIZES = ((522, 775), (433, 574), (453, 589), (430, 567), (433, 578), (442, 581))
_SIZE_WEIGHTS = (0.75, 0.05, 0.05, 0.05, 0.05, 0.05)
_SUBGRADES = {
    "benign": ("healthy", "adenomatous"),
    "malignant": ("moderately differentiated", "poorly differentiated",
                  "moderately-to-poorly differentated"),
}
# RGB colours of the H&E stain
_STROMA = np.array([232.0, 168.0, 200.0])
_CYTOPLASM = np.array([186.0, 110.0, 168.0])
_NUCLEUS = np.array([72.0, 38.0, 118.0])
_LUMEN = np.array([246.0, 236.0, 242.0])


def _radius_profile(rng: np.random.Generator, malignant: bool) -> tuple[np.ndarray, ...]:
    """Harmonic amplitudes and phases of the gland outline ``r(t) = r0 (1 + sum a_k cos(k t + p_k))``."""
    orders = np.arange(2, 6)
    scale = 0.2 if malignant else 0.03
    amplitudes = scale * rng.uniform(0.4, 1.0, len(orders)) / (orders - 1) ** 0.5
    return orders, amplitudes, rng.uniform(0, 2 * np.pi, len(orders))


def _place(rng: np.random.Generator, centres: list[tuple[float, float]], radii: list[float],
           r0: float, shape: tuple[int, int], touching: bool) -> tuple[float, float] | None:
    """A centre for a gland of radius ``r0``: touching an existing one, or apart from all."""
    height, width = shape
    for _ in range(60):
        if touching and centres:
            k = rng.integers(len(centres))
            angle = rng.uniform(0, 2 * np.pi)
            dist = 0.97 * (radii[k] + r0)
            centre = (centres[k][0] + dist * np.sin(angle), centres[k][1] + dist * np.cos(angle))
        else:
            centre = (rng.uniform(0, height), rng.uniform(0, width))
        gaps = [math.dist(centre, c) - (r + r0) for c, r in zip(centres, radii, strict=True)]
        limit = -0.12 * r0 if touching else 0.15 * r0
        if all(g > limit for g in gaps):
            return centre
    return None


def _paint_gland(image: np.ndarray, labels: np.ndarray, label: int, centre: tuple[float, float],
                r0: float, profile: tuple[np.ndarray, ...], rng: np.random.Generator, malignant: bool
                ) -> None:
    height, width = labels.shape
    reach = int(r0 * 1.6) + 2
    y0, y1 = max(0, int(centre[0]) - reach), min(height, int(centre[0]) + reach)
    x0, x1 = max(0, int(centre[1]) - reach), min(width, int(centre[1]) + reach)
    if y0 >= y1 or x0 >= x1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    dy, dx = yy - centre[0], xx - centre[1]
    theta, dist = np.arctan2(dy, dx), np.hypot(dy, dx)
    orders, amplitudes, phases = profile
    outline = r0 * (1 + (amplitudes[:, None, None]
                         * np.cos(orders[:, None, None] * theta + phases[:, None, None])).sum(0))
    window = labels[y0:y1, x0:x1]
    gland = (dist < outline) & (window == 0)  # the earlier gland keeps a shared boundary
    if gland.sum() < 20:
        return
    window[gland] = label
    lumen_fraction = rng.uniform(0.45, 0.6) if not malignant else rng.uniform(0.25, 0.5)
    lumen = gland & (dist < lumen_fraction * outline)
    patch = image[y0:y1, x0:x1]
    patch[gland] = _CYTOPLASM
    patch[lumen] = _LUMEN
    # nuclei: a ring on the basal side of the epithelium, denser and larger when malignant
    nucleus_r = float(np.clip(0.09 * r0, 1.5, 5.5)) * (1.25 if malignant else 1.0)
    ring = 0.5 * (lumen_fraction + 1.0)
    count = int(2 * np.pi * ring * r0 / (2.4 * nucleus_r))
    for t in np.linspace(0, 2 * np.pi, max(count, 6), endpoint=False) + rng.uniform(0, 1):
        local = r0 * (1 + (amplitudes * np.cos(orders * t + phases)).sum())
        rr = local * (ring + rng.normal(0, 0.05 if not malignant else 0.12))
        ny, nx = centre[0] + rr * np.sin(t), centre[1] + rr * np.cos(t)
        nucleus = ((yy - ny) ** 2 + (xx - nx) ** 2 < (nucleus_r * rng.uniform(0.8, 1.2)) ** 2)
        patch[nucleus & gland] = _NUCLEUS


def _stroma(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    height, width = shape
    fibres = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), (1.0, 4.0))
    image = _STROMA + 18.0 * fibres[..., None] / (fibres.std() + 1e-6)
    image = np.broadcast_to(image, (height, width, 3)).copy()
    n = int(height * width / 900)  # scattered stromal nuclei
    ys, xs = rng.integers(0, height, n), rng.integers(0, width, n)
    image[ys, xs] = _NUCLEUS
    return image


def draw_glands(
    shape: tuple[int, int], rng: np.random.Generator, grade: str = "benign"
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one H&E-like image of colon glands and its instance labels.

    Parameters
    ----------
    shape : (int, int)
        ``(height, width)``.
    rng : numpy.random.Generator
        Source of every random draw.
    grade : {"benign", "malignant"}
        Benign glands are round, malignant ones irregular and more numerous.

    Returns
    -------
    image : ndarray of uint8, shape (H, W, 3)
        RGB.
    labels : ndarray of uint8, shape (H, W)
        0 background, ``1..N`` one value per gland (touching glands keep their own values).

    Examples
    --------
    >>> image, labels = draw_glands((96, 128), np.random.default_rng(0))
    >>> image.shape, image.dtype, int(labels.max()) > 1
    ((96, 128, 3), dtype('uint8'), True)
    """
    if grade not in _SUBGRADES:
        raise ValueError(f"grade must be 'benign' or 'malignant', but got {grade!r}")
    malignant = grade == "malignant"
    image = _stroma(shape, rng)
    labels = np.zeros(shape, np.uint8)
    side = min(shape)
    centres: list[tuple[float, float]] = []
    radii: list[float] = []
    target = int(rng.integers(7, 13) if malignant else rng.integers(5, 10))
    while len(centres) < target:
        r0 = side * (rng.uniform(0.06, 0.13) if malignant else rng.uniform(0.08, 0.15))
        centre = _place(rng, centres, radii, r0, shape, touching=rng.random() < 0.25)
        if centre is None:
            break
        centres.append(centre)
        radii.append(r0)
    for label, (centre, r0) in enumerate(zip(centres, radii, strict=True), start=1):
        _paint_gland(image, labels, label, centre, r0, _radius_profile(rng, malignant), rng,
                     malignant)
    labels = _compact_labels(labels)
    image = ndimage.gaussian_filter(image, (0.8, 0.8, 0)) + rng.normal(0, 6.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), labels


def _compact_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber the labels present to ``1..N`` (glands clipped away leave gaps)."""
    present = np.unique(labels[labels > 0])
    lut = np.zeros(256, np.uint8)
    lut[present] = np.arange(1, len(present) + 1)
    return lut[labels]


def _write_bmp(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="BMP")
    with atomic_write(path, "wb") as f:
        f.write(buffer.getvalue())


#: Patients of the release: IDs 1-16, recurring across train, testA and testB.
_PATIENTS = 16
#: Rows of the release's 165 spelling ``differentated`` and (part, patient) pairs mixing grades.
_MISSPELLED_ROWS, _MIXED_PAIRS, _RELEASE_ROWS = 20, 5, 165
_MISSPELLED = "moderately-to-poorly differentated"


def _part_patients(count: int, rng: np.random.Generator) -> list[int]:
    """Patient ID per image of one part: up to 16 patients, each a run of consecutive images."""
    chosen = np.sort(rng.choice(np.arange(1, _PATIENTS + 1), min(count, _PATIENTS),
                                replace=False))
    cuts = np.sort(rng.choice(np.arange(1, count), len(chosen) - 1, replace=False))
    sizes = np.diff(np.concatenate([[0], cuts, [count]]))
    return [int(p) for p, n in zip(chosen, sizes, strict=True) for _ in range(n)]


def _grade_rows(counts: dict[str, int], rng: np.random.Generator) -> list[list[Any]]:
    """``[name, patient, grade, subgrade]`` per image, with the release's quirks in the values.

    Patients 1-16 recur across the parts with one usual grade each; in up to 5 (part,
    patient) pairs of two or more images one image has the other grade; about 20 in 165
    malignant rows spell their subgrade ``differentated``.
    """
    usual = {p: "malignant" if rng.random() < 0.55 else "benign"
             for p in range(1, _PATIENTS + 1)}
    rows: list[list[Any]] = [[f"{part}_{i}", patient, usual[patient], ""]
            for part, count in counts.items() if count
            for i, patient in enumerate(_part_patients(count, rng), start=1)]
    pairs: dict[tuple[str, int], list[list[Any]]] = {}
    for row in rows:
        pairs.setdefault((row[0].split("_")[0], row[1]), []).append(row)
    several = [members for members in pairs.values() if len(members) > 1]
    for k in rng.permutation(len(several))[:_MIXED_PAIRS]:
        last = several[k][-1]
        last[2] = "benign" if last[2] == "malignant" else "malignant"
    malignant = [row for row in rows if row[2] == "malignant"]
    misspelled = min(max(round(_MISSPELLED_ROWS * len(rows) / _RELEASE_ROWS), 1), len(malignant))
    for k, index in enumerate(rng.permutation(len(malignant))):
        options = _SUBGRADES["malignant"]
        malignant[index][3] = _MISSPELLED if k < misspelled else options[int(rng.integers(2))]
    for row in rows:
        if row[2] == "benign":
            row[3] = _SUBGRADES["benign"][int(rng.integers(2))]
    return rows


def _grade_csv(rows: list[list[Any]], quirks: bool) -> str:
    """``Grade.csv`` text; with ``quirks`` as released: bare CR line ends, no final newline,
    no space before the patient ID in the testA rows."""
    header = "name,patient ID, grade (GlaS), grade (Sirinukunwattana et al. 2015)"
    lines = [f"{name},{'' if quirks and name.startswith('testA') else ' '}{patient}, {grade}, "
             f"{subgrade}" for name, patient, grade, subgrade in sorted(rows)]
    if quirks:
        return "\r".join([header, *lines])
    return "\n".join([header, *lines]) + "\n"


def make_glas(
    root: str | Path,
    counts: dict[str, int] | None = None,
    size: tuple[int, int] | None = None,
    seed: int | np.random.Generator = 0,
    *,
    quirks: bool = True,
    stain: str | np.ndarray | None = None,
) -> Path:
    """Write a synthetic GlaS release (images, ``_anno.bmp`` labels, ``Grade.csv``) to ``root``.

    By default ``Grade.csv`` has the released file's quirks: bare CR line endings, no final
    newline, no space before the patient ID in the testA rows, the subgrade spelling
    ``moderately-to-poorly differentated`` in about 20 of every 165 rows, patient IDs 1-16
    recurring across train, testA and testB, and 5 (part, patient) pairs whose images mix
    benign and malignant (fewer where the parts are too small).

    Parameters
    ----------
    root : str or Path
        Output folder, created if needed.
    counts : dict, optional
        Images per split; the release's ``GLAS_COUNTS`` (85, 60, 20) by default.
    size : (int, int), optional
        ``(height, width)`` of every image; by default drawn from the release's sizes
        ``GLAS_SIZES`` (mostly 522x775).
    seed : int or numpy.random.Generator
        Source of every random draw.
    quirks : bool
        Write ``Grade.csv`` as released (above); False writes LF line ends, a final newline
        and a space before every value (the values, patients and grades are the same).
    stain : str or (3, 2) array, optional
        Re-stain every image with these stain vectors (a name from
        ``histomammo.datasets.synthetic.SYNTHETIC_STAINS`` or a matrix whose
        columns are haematoxylin and eosin) just before it is written, through
        ``histomammo.datasets.synthetic.restain``; ``None`` (the default) writes the
        writer's own colours, byte for byte as without the option.

    Returns
    -------
    Path
        ``root``.

    Examples
    --------
    >>> import tempfile
    >>> root = make_glas(tempfile.mkdtemp(), counts={"train": 1, "testA": 1, "testB": 1},
    ...                  size=(64, 80))
    >>> sorted(p.name for p in root.iterdir())[:3]
    ['Grade.csv', 'testA_1.bmp', 'testA_1_anno.bmp']
    """
    rng = np.random.default_rng(seed)
    counts = dict(GLAS_COUNTS if counts is None else counts)
    unknown = set(counts) - set(GLAS_COUNTS)
    if unknown:
        raise ValueError(f"counts has unknown splits {sorted(unknown)}; expected {list(GLAS_COUNTS)}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = _grade_rows(counts, rng)
    for name, _, grade, _ in rows:
        shape = size or GLAS_SIZES[rng.choice(len(GLAS_SIZES), p=_SIZE_WEIGHTS)]
        image, labels = draw_glands(shape, rng, grade)
        if stain is not None:
            image = restain(image, stain)
        _write_bmp(root / f"{name}.bmp", image)
        _write_bmp(root / f"{name}_anno.bmp", labels)
    with atomic_write(root / "Grade.csv", "wb") as f:
        f.write(_grade_csv(rows, quirks).encode())
    return root

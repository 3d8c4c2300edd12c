"""Shen et al.'s patch sets from lesion masks: S10 and S1, five classes.

A patch set holds, per mammogram, patches around each region of interest (ROI), labelled by
the lesion's kind and pathology, and background patches from the breast away from every
ROI. S10 takes 10 patches per ROI, S1 one.

Sampling rules (the seed names the sets but not every detail; the rules here are stated so
results can be reproduced):

- ROI patches: with ``n_per_roi == 1`` the patch is centred on the centre of the ROI's
  bounding box; otherwise each centre is drawn uniformly from the ROI's pixels, so every
  patch contains lesion tissue at its centre.
- Background patches: centres drawn uniformly from the breast (``breast_mask``, by default
  the pixels above 5% of the image's intensity range), rejecting any ``size x size`` window
  that touches an ROI pixel.
- Windows reaching past the border are padded with the image's minimum (the background).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["PATCH_CLASSES", "LesionPatches", "patch_class", "lesion_patches"]

logger = logging.getLogger("histomammo.transforms")

#: The five patch classes, by label.
PATCH_CLASSES = (
    "background", "calcification_benign", "calcification_malignant", "mass_benign",
    "mass_malignant",
)


class LesionPatches(NamedTuple):
    """Patches cut from one image.

    Attributes
    ----------
    patches : numpy.ndarray
        ``(P, size, size)``, the image's dtype.
    labels : numpy.ndarray
        ``(P,)`` int64 labels into [`PATCH_CLASSES`][histomammo.transforms.patches.PATCH_CLASSES].
    centers : numpy.ndarray
        ``(P, 2)`` int64 ``(row, column)`` patch centres in image coordinates.
    """

    patches: np.ndarray
    labels: np.ndarray
    centers: np.ndarray


def patch_class(abnormality: str, pathology: str) -> int:
    """Label of an ROI from its CBIS-DDSM ``abnormality type`` and ``pathology``.

    ``BENIGN_WITHOUT_CALLBACK`` counts as benign.

    Examples
    --------
    >>> patch_class("mass", "MALIGNANT"), patch_class("calcification", "BENIGN_WITHOUT_CALLBACK")
    (4, 1)
    """
    kind = {"calc": "calcification", "calcification": "calcification", "mass": "mass"}.get(
        abnormality.strip().lower())
    grade = pathology.strip().upper()
    if kind is None or grade not in ("MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK"):
        raise ValueError(
            f"abnormality {abnormality!r} / pathology {pathology!r}: expected 'mass' or 'calc' "
            "and MALIGNANT, BENIGN or BENIGN_WITHOUT_CALLBACK"
        )
    return PATCH_CLASSES.index(f"{kind}_{'malignant' if grade == 'MALIGNANT' else 'benign'}")


def _roi_centers(mask: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    if n == 1:
        return np.array([[(rows.min() + rows.max()) // 2, (cols.min() + cols.max()) // 2]])
    picked = rng.integers(0, rows.size, size=n)
    return np.stack([rows[picked], cols[picked]], axis=1)


def _background_centers(
    breast: np.ndarray, lesions: np.ndarray, n: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Centres whose window misses every lesion pixel, via an integral image of ``lesions``."""
    rows, cols = np.nonzero(breast)
    if n == 0 or rows.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    half = size // 2
    padded = np.pad(lesions, half + 1).astype(np.int64)
    integral = padded.cumsum(0).cumsum(1)
    found: list[np.ndarray] = []
    for _ in range(50):  # rounds of vectorised draws
        pick = rng.integers(0, rows.size, size=4 * n)
        r, c = rows[pick] + half + 1, cols[pick] + half + 1
        r0, c0, r1, c1 = r - half - 1, c - half - 1, r - half + size - 1, c - half + size - 1
        inside = integral[r1, c1] - integral[r0, c1] - integral[r1, c0] + integral[r0, c0]
        found.extend(np.stack([rows[pick], cols[pick]], axis=1)[inside == 0])
        if len(found) >= n:
            return np.asarray(found[:n], dtype=np.int64)
    logger.warning("only %d of %d background patches fit between the ROIs", len(found), n)
    return np.asarray(found, dtype=np.int64).reshape(-1, 2)


def _check(image: np.ndarray, roi_masks: Sequence[np.ndarray], roi_classes: Sequence[int],
           size: int, n_per_roi: int, n_background: int) -> None:
    if image.ndim != 2:
        raise ValueError(f"image must be (H, W); got shape {image.shape}")
    if len(roi_masks) != len(roi_classes):
        raise ValueError(f"{len(roi_masks)} ROI masks but {len(roi_classes)} ROI classes")
    for i, (mask, label) in enumerate(zip(roi_masks, roi_classes, strict=True)):
        if np.shape(mask) != image.shape:
            raise ValueError(f"ROI mask {i} has shape {np.shape(mask)}; expected {image.shape}")
        if not np.any(mask):
            raise ValueError(f"ROI mask {i} is empty; expected at least one lesion pixel")
        if not 1 <= int(label) < len(PATCH_CLASSES):
            raise ValueError(f"ROI class {i} is {label}; expected 1..{len(PATCH_CLASSES) - 1}")
    if size < 1 or n_per_roi < 1 or n_background < 0:
        raise ValueError(
            f"need size >= 1, n_per_roi >= 1, n_background >= 0; got {size}, {n_per_roi}, "
            f"{n_background}"
        )


def lesion_patches(
    image: np.ndarray,
    roi_masks: Sequence[np.ndarray],
    roi_classes: Sequence[int],
    *,
    n_per_roi: int = 10,
    n_background: int = 10,
    size: int = 224,
    rng: np.random.Generator,
    breast_mask: np.ndarray | None = None,
) -> LesionPatches:
    """Cut the S10 (``n_per_roi=10``) or S1 (``n_per_roi=1``) patches of one mammogram.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` mammogram, any dtype (kept).
    roi_masks : sequence of numpy.ndarray
        Boolean ``(H, W)`` mask per ROI (e.g. ``CBISDDSM.roi_masks(i)``).
    roi_classes : sequence of int
        Label per ROI, 1..4 (see [`patch_class`][histomammo.transforms.patches.patch_class]).
    n_per_roi : int
        Patches per ROI: 10 (S10) or 1 (S1).
    n_background : int
        Background patches for the image.
    size : int
        Patch side (224 in the paper).
    rng : numpy.random.Generator
        Source of every random draw.
    breast_mask : numpy.ndarray, optional
        Boolean ``(H, W)`` region where background centres may lie.

    Returns
    -------
    LesionPatches
        ROI patches in ROI order, then the background patches.

    Examples
    --------
    >>> image = np.zeros((64, 64), np.uint16); image[8:56, 8:56] = 500
    >>> mask = np.zeros((64, 64), bool); mask[10:14, 10:14] = True
    >>> out = lesion_patches(image, [mask], [4], n_per_roi=1, n_background=2, size=16,
    ...                      rng=np.random.default_rng(0))
    >>> out.patches.shape, out.labels.tolist(), out.centers[0].tolist()
    ((3, 16, 16), [4, 0, 0], [11, 11])
    """
    image = np.asarray(image)
    _check(image, roi_masks, roi_classes, size, n_per_roi, n_background)
    lesions = np.zeros(image.shape, dtype=bool)
    for mask in roi_masks:
        lesions |= np.asarray(mask, dtype=bool)
    if breast_mask is None:
        low, high = float(image.min()), float(image.max())
        breast_mask = image > low + 0.05 * (high - low)
    centers = [_roi_centers(np.asarray(m, bool), n_per_roi, rng) for m in roi_masks]
    labels = [np.full(n_per_roi, int(c), dtype=np.int64) for c in roi_classes]
    background = _background_centers(np.asarray(breast_mask, bool), lesions, n_background,
                                     size, rng)
    centers.append(background)
    labels.append(np.zeros(len(background), dtype=np.int64))
    all_centers = np.concatenate(centers).astype(np.int64)
    # pad by half + size: the window of centre (r, c) then starts at (r + size, c + size)
    padded = np.pad(image, size // 2 + size, constant_values=image.min())
    starts = all_centers + size
    patches = np.stack([padded[r:r + size, c:c + size] for r, c in starts]) if len(starts) \
        else np.zeros((0, size, size), image.dtype)
    return LesionPatches(patches, np.concatenate(labels), all_centers)

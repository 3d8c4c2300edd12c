"""Re-staining of synthetic H&E images with other stain vectors, so tests and demos can vary stains.

A pixel's optical density ``OD = -ln(I / background)`` is split along the image's own stain
vectors (haematoxylin, eosin) and a third, residual direction orthogonal to both; the
haematoxylin and eosin parts are then redrawn along the new vectors and the residual kept.
Re-staining with the source vectors returns the image (up to rounding).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from histomammo.errors import DataFormatError

__all__ = ["SYNTHETIC_STAINS", "restain"]

#: ``(3, 2)`` stain matrices (rows R, G, B; columns haematoxylin, eosin), unit columns.
SYNTHETIC_STAINS: dict[str, np.ndarray] = {
    # Ruifrok & Johnston (2001), the vectors every synthetic H&E writer draws with
    "ruifrok": np.array([[0.650, 0.072], [0.704, 0.990], [0.286, 0.105]]),
    # Macenko et al. (2009)'s reference vectors (their MATLAB code; torchstain's HERef)
    "macenko": np.array([[0.5626, 0.2159], [0.7201, 0.8012], [0.4062, 0.5581]]),
    # a bluish haematoxylin and a purplish eosin, as an over-stained, aged slide shows
    "purple": np.array([[0.46, 0.30], [0.78, 0.88], [0.42, 0.37]]),
}
SYNTHETIC_STAINS = {name: m / np.linalg.norm(m, axis=0) for name, m in SYNTHETIC_STAINS.items()}


def _matrix(stains: Any, name: str) -> np.ndarray:
    if isinstance(stains, str):
        if stains not in SYNTHETIC_STAINS:
            raise ValueError(f"{name}: unknown stain {stains!r}; expected one of {sorted(SYNTHETIC_STAINS)} or a (3, 2) matrix")
        return SYNTHETIC_STAINS[stains]
    matrix = np.asarray(stains, dtype=np.float64)
    if matrix.shape != (3, 2) or not np.isfinite(matrix).all() or (np.linalg.norm(matrix, axis=0) == 0).any():
        raise DataFormatError(f"{name}: expected a finite (3, 2) stain matrix with non-zero columns, got {matrix.shape}")
    return matrix / np.linalg.norm(matrix, axis=0)


def _basis(stains: np.ndarray) -> np.ndarray:
    residual = np.cross(stains[:, 0], stains[:, 1])
    return np.column_stack([stains, residual / np.linalg.norm(residual)])


def restain(
    image: np.ndarray,
    stains: Any,
    *,
    source: Any = "ruifrok",
    strength: tuple[float, float] = (1.0, 1.0),
    background: float = 255.0,
) -> np.ndarray:
    """Redraw an H&E image with other stain vectors (Beer-Lambert, per pixel).

    Parameters
    ----------
    image : numpy.ndarray
        ``(..., 3)`` uint8 RGB, e.g. from ``make_pcam``, ``make_glas`` or ``make_brecahad``.
    stains : str or array-like
        The new ``(3, 2)`` stain matrix (columns haematoxylin, eosin; normalised to unit
        length) or a name of [`SYNTHETIC_STAINS`][histomammo.datasets.synthetic._stain.SYNTHETIC_STAINS].
    source : str or array-like
        The vectors ``image`` was drawn with (Ruifrok's, for the library's writers).
    strength : (float, float)
        Factors on the haematoxylin and eosin concentrations (over- or under-staining).
    background : float
        Brightness of unstained glass, 0-255.

    Returns
    -------
    numpy.ndarray
        uint8, the shape of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[200, 120, 180], [250, 250, 250]]], np.uint8)
    >>> bool((restain(image, "ruifrok") == image).all())
    True
    >>> restain(image, "purple").shape
    (1, 2, 3)
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.shape[-1] != 3:
        raise DataFormatError(f"image: expected uint8 RGB (..., 3), got {image.dtype} {image.shape}")
    old, new = _basis(_matrix(source, "source")), _basis(_matrix(stains, "stains"))
    new[:, :2] *= np.asarray(strength, dtype=np.float64)
    od = np.log(background / np.maximum(image, 0.25))  # black: a quarter level, back to 0
    mixed = od @ np.linalg.inv(old).T @ new.T
    return np.clip(np.rint(background * np.exp(-mixed)), 0, 255).astype(np.uint8)

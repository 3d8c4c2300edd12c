"""Real stained tissue and images built from known stain vectors, shared by the stain tests.

The real tissue is scikit-image's ``immunohistochemistry()``: a 512x512 IHC section stained
with haematoxylin and DAB (not eosin). Images "built from known vectors" take its haematoxylin
and DAB concentration maps (Ruifrok deconvolution, skimage's ``rgb2hed``, in natural-log
optical density), sparsified so that pixels dominated by one stain hold only that stain
(the assumption Macenko's extreme angles and Vahadane's sparsity rest on), and draw them with
the chosen vectors under a 240 background.
"""

from __future__ import annotations

import numpy as np
from skimage.color import rgb2hed

from histomammo.transforms.stain import od_to_rgb

LN_1E6 = np.log(1e6)


def concentrations(ihc: np.ndarray, purity: float) -> np.ndarray:
    """``(H, W, 2)`` H and DAB concentrations; the weaker stain is zeroed where it is below
    ``purity`` times the stronger (1.0: every pixel one stain)."""
    hed = np.clip(rgb2hed(ihc) * LN_1E6, 0, 2.5)
    c = hed[..., [0, 2]].copy()
    h, d = c[..., 0].copy(), c[..., 1].copy()
    c[..., 1][d < purity * h] = 0
    c[..., 0][h < purity * d] = 0
    return c


def draw(c: np.ndarray, stains: np.ndarray) -> np.ndarray:
    """uint8 RGB of concentrations ``(H, W, 2)`` drawn with the ``(3, 2)`` vectors."""
    return od_to_rgb(c @ np.asarray(stains).T, 240)


def angles(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Degrees between matching columns of two ``(3, 2)`` stain matrices."""
    a, b = np.asarray(estimate, float), np.asarray(truth, float)
    cos = (a * b).sum(0) / np.linalg.norm(a, axis=0) / np.linalg.norm(b, axis=0)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def reference_macenko(image: np.ndarray, background=240.0, beta=0.15, alpha=1.0) -> np.ndarray:
    """Macenko's steps as his MATLAB code writes them, in plain numpy, then the H-first rule."""
    od = np.log(background / np.maximum(image.reshape(-1, 3).astype(float), 1))
    tissue = od[(od >= beta).all(axis=1)]
    _, vectors = np.linalg.eigh(np.cov(tissue.T))
    plane = vectors[:, [2, 1]]
    if plane[:, 0].sum() < 0:
        plane[:, 0] *= -1
    projected = tissue @ plane
    phi = np.arctan2(projected[:, 1], projected[:, 0])
    low, high = np.percentile(phi, alpha), np.percentile(phi, 100 - alpha)
    v1 = plane @ [np.cos(low), np.sin(low)]
    v2 = plane @ [np.cos(high), np.sin(high)]
    stains = np.column_stack([v1, v2] if v1[0] >= v2[0] else [v2, v1])
    return stains / np.linalg.norm(stains, axis=0)


def reference_normalise(image: np.ndarray, target: np.ndarray, background=240.0) -> np.ndarray:
    """Macenko normalisation of ``image`` to ``target`` in plain numpy (float, 0-255, unrounded)."""

    def profile(rgb):
        stains = reference_macenko(rgb, background)
        od = np.log(background / np.maximum(rgb.reshape(-1, 3).astype(float), 1))
        c = np.linalg.lstsq(stains, od.T, rcond=None)[0]
        return stains, c, np.percentile(c, 99, axis=1)

    target_stains, _, target_max = profile(target)
    _, c, source_max = profile(image)
    od = target_stains @ (c * (target_max / source_max)[:, None])
    return np.clip(background * np.exp(-od.T), 0, 255).reshape(image.shape)


def synthetic_he(seed: int = 1) -> np.ndarray:
    """A 192x288 synthetic H&E image: six patches of the library's PCam writer (Beer-Lambert
    with Ruifrok's vectors: lymphoid tissue, stroma, fat and tumour cells)."""
    from histomammo.datasets.synthetic._pcam_draw import Stain, draw_patch

    rng = np.random.default_rng(seed)
    tiles = [draw_patch(rng, tumour_centre=bool(i % 2), tumour_edge=False, upright=True, stain=Stain())
             for i in range(6)]
    return np.concatenate([np.concatenate(tiles[:3], axis=1), np.concatenate(tiles[3:], axis=1)])

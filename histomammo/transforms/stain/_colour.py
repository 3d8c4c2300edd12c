"""Colour spaces for stain methods, batched in torch on ``(N, 3, H, W)``: CIELAB, HSV, HED.

CIELAB follows ``skimage.color.rgb2lab`` (sRGB, D65 white, 2 degree observer; L in 0-100);
HSV has all three channels on [0, 1]; HED is Ruifrok & Johnston's colour deconvolution in
the units of ``skimage.color.rgb2hed`` (optical density divided by ``ln(10**6)``), without
its clipping at zero (black floored at ``1e-6`` of white, as there), so that the conversion
inverts exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["hed_affine", "hed_to_rgb", "hsv_to_rgb", "lab_to_rgb", "rgb_to_hed", "rgb_to_hsv", "rgb_to_lab"]

_XYZ_FROM_RGB = ((0.412453, 0.357580, 0.180423),
                 (0.212671, 0.715160, 0.072169),
                 (0.019334, 0.119193, 0.950227))
_D65 = (0.95047, 1.0, 1.08883)
#: Ruifrok & Johnston's stain vectors (rows: haematoxylin, eosin, DAB), as in scikit-image.
RGB_FROM_HED = ((0.65, 0.70, 0.29), (0.07, 0.99, 0.11), (0.27, 0.57, 0.78))
_HED_SCALE = 13.815510557964274  # ln(10**6): skimage's rgb2hed divides OD by it


def _matrix(rows: Sequence[float] | Sequence[Sequence[float]], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """``matrix`` ``(3, 3)`` applied to the channel axis of ``(N, 3, H, W)``."""
    return torch.einsum("ij,njhw->nihw", matrix, image)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB on [0, 1], ``(N, 3, H, W)`` -> CIELAB (L 0-100, a and b about -128..127)."""
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _apply(_matrix(_XYZ_FROM_RGB, rgb), linear) / _matrix(_D65, rgb)[:, None, None]
    f = torch.where(xyz > 0.008856, xyz.clamp_min(0.008856) ** (1 / 3), 7.787 * xyz + 16 / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Inverse of [`rgb_to_lab`][histomammo.transforms.stain.rgb_to_lab] (not clipped)."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([lab[:, 1] / 500 + fy, fy, (fy - lab[:, 2] / 200).clamp_min(0)], 1)
    cube = f**3
    xyz = torch.where(cube > 0.008856, cube, (f - 16 / 116) / 7.787) * _matrix(_D65, lab)[:, None, None]
    linear = _apply(torch.linalg.inv(_matrix(_XYZ_FROM_RGB, lab)), xyz)
    return torch.where(linear > 0.0031308, 1.055 * linear.clamp_min(0.0031308) ** (1 / 2.4) - 0.055,
                       12.92 * linear)


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """RGB on [0, 1] -> HSV with hue, saturation and value on [0, 1] (hue 0 on grey)."""
    value, argmax = rgb.max(dim=1)
    chroma = value - rgb.min(dim=1).values
    safe = chroma.clamp_min(1e-12)
    r, g, b = rgb.unbind(1)
    hue = torch.stack([((g - b) / safe) % 6, (b - r) / safe + 2, (r - g) / safe + 4], 1)
    hue = hue.gather(1, argmax[:, None])[:, 0] / 6
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    saturation = torch.where(value > 0, chroma / value.clamp_min(1e-12), torch.zeros_like(value))
    return torch.stack([hue % 1.0, saturation, value], 1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of [`rgb_to_hsv`][histomammo.transforms.stain.rgb_to_hsv] (hue taken modulo 1)."""
    hue, saturation, value = (hsv[:, 0] % 1.0) * 6, hsv[:, 1], hsv[:, 2]
    offsets = torch.tensor([5.0, 3.0, 1.0], dtype=hsv.dtype, device=hsv.device)[None, :, None, None]
    k = (offsets + hue[:, None]) % 6
    ramp = torch.minimum(k, 4 - k).clamp(0, 1)
    return value[:, None] - (value * saturation)[:, None] * ramp


def rgb_to_hed(rgb: torch.Tensor) -> torch.Tensor:
    """RGB on the 0-255 scale -> HED concentrations (skimage's ``rgb2hed`` units, unclipped)."""
    od = -torch.log((rgb / 255.0).clamp_min(1e-6)) / _HED_SCALE
    return _apply(torch.linalg.inv(_matrix(RGB_FROM_HED, rgb)).T, od)


def hed_to_rgb(hed: torch.Tensor) -> torch.Tensor:
    """Inverse of [`rgb_to_hed`][histomammo.transforms.stain.rgb_to_hed]: 0-255, not clipped."""
    od = _apply(_matrix(RGB_FROM_HED, hed).T, hed) * _HED_SCALE
    return 255.0 * torch.exp(-od)


def hed_affine(scale: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image ``(A, b)`` with ``od' = A od + b`` the OD of HED concentrations ``scale * c + shift``.

    ``scale``, ``shift``: ``(N, 3)``; returns ``(N, 3, 3)`` and ``(N, 3, 1)``, so that a jitter
    of every pixel is one batched matrix product in optical density.
    """
    m = _matrix(RGB_FROM_HED, scale)
    a = m.T @ torch.diag_embed(scale) @ torch.linalg.inv(m).T
    return a, _HED_SCALE * (m.T @ shift[:, :, None])

"""Optical density, image batches and the tissue rule shared by every stain method.

Optical density (Beer-Lambert) of a pixel ``I`` lit by a background of brightness ``I0``
is ``OD = -ln(max(I, 1) / I0)`` per channel, natural logarithm as in the reference
implementations (Macenko's MATLAB code, torchstain, TIAToolbox); Macenko et al. write
``log10``, which only rescales concentrations and the threshold ``beta``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import torch

from histomammo.errors import DataFormatError

__all__ = ["od_to_rgb", "rgb_to_od"]

_log = logging.getLogger("histomammo.transforms.stain")

#: Smallest share of pixels whose OD reaches ``beta`` in every channel for a tile to count as
#: tissue; below it (or with no colour spread at all) a tile is passed through unchanged.
MIN_TISSUE_FRACTION = 0.01
#: RGB images as the stain methods take them: numpy ``(H, W, 3)`` / ``(N, H, W, 3)`` or torch
#: ``(3, H, W)`` / ``(N, 3, H, W)``, uint8 on 0-255 or floating point on [0, 1].
Images = np.ndarray | torch.Tensor
#: The same kind of images comes back: numpy for numpy, a tensor for a tensor.
ImagesT = TypeVar("ImagesT", np.ndarray, torch.Tensor)

#: Second-largest eigenvalue of the tissue OD covariance below which a tile holds one colour.
MIN_SPREAD = 1e-6


def rgb_to_od(image: npt.ArrayLike, background: float = 240.0) -> np.ndarray:
    """Optical density ``-ln(max(I, 1) / background)`` of an RGB image, per channel.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` (or any shape), uint8 or float, on the 0-255 scale.
    background : float
        Brightness of unstained glass, ``I0``; pixels brighter than it get a negative OD
        (kept, so that [`od_to_rgb`][histomammo.transforms.stain.od_to_rgb] inverts exactly).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> rgb_to_od(np.array([[[240, 120, 1]]], np.uint8)).round(3)
    array([[[0.   , 0.693, 5.481]]])
    """
    image = np.asarray(image, dtype=np.float64)
    return np.log(float(background) / np.maximum(image, 1.0))


def od_to_rgb(od: npt.ArrayLike, background: float = 240.0) -> np.ndarray:
    """RGB ``background * exp(-od)`` as uint8 (rounded, clipped to 0-255).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[200, 120, 30]]], np.uint8)
    >>> od_to_rgb(rgb_to_od(image)).tolist()
    [[[200, 120, 30]]]
    """
    rgb = float(background) * np.exp(-np.asarray(od, dtype=np.float64))
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Batch:
    """Images as a float ``(N, 3, H, W)`` tensor on the 0-255 scale, and how to give them back."""

    pixels: torch.Tensor
    restore: Callable[[torch.Tensor | list[torch.Tensor]], Any]
    original: Any


def image_list(images: Images | Sequence[Images]) -> Sequence[Images]:
    """One image or batch as a list of one; a sequence of them as it is."""
    if isinstance(images, (np.ndarray, torch.Tensor)) or not isinstance(images, Sequence):
        return [images]
    return images


def as_batch(images: Images, dtype: torch.dtype | None = None) -> Batch:
    """Numpy ``(H, W, 3)`` / ``(N, H, W, 3)`` or torch ``(3, H, W)`` / ``(N, 3, H, W)`` as a batch.

    uint8 is read on 0-255, floating point on [0, 1]; ``restore`` returns a result of the
    input's kind, shape, dtype and device (uint8 rounded, floats clipped to [0, 1]), reusing
    the memory of the 0-255 tensor it is given (never pass it ``pixels`` itself), or of each
    of a list of consecutive chunks of the batch, each converted before they are joined.
    """
    is_numpy = isinstance(images, np.ndarray)
    tensor = torch.from_numpy(np.ascontiguousarray(images)) if is_numpy else images
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"expected a numpy array or a torch tensor, got {type(images).__name__}")
    single = tensor.ndim == 3
    if is_numpy:
        tensor = tensor.movedim(-1, -3)
    if tensor.ndim not in (3, 4) or tensor.shape[-3] != 3:
        layout = "(H, W, 3) or (N, H, W, 3)" if is_numpy else "(3, H, W) or (N, 3, H, W)"
        raise DataFormatError(f"stain methods need RGB images {layout}, got shape {tuple(images.shape)}")
    integer = not tensor.is_floating_point()
    work = dtype or (tensor.dtype if not integer and tensor.dtype == torch.float64 else torch.float32)
    pixels = tensor.to(work) if integer else tensor.to(work) * 255.0
    pixels = pixels[None] if single else pixels

    def convert(out: torch.Tensor) -> torch.Tensor:
        if integer:
            return out.round_().clamp_(0, 255).to(tensor.dtype)
        return out.div_(255.0).clamp_(0, 1).to(tensor.dtype)

    def restore(out: torch.Tensor | list[torch.Tensor]) -> Any:  # in place on ``out``, its caller's
        parts = [convert(part) for part in (out if isinstance(out, list) else [out])]
        out = parts[0] if len(parts) == 1 else torch.cat(parts)
        out = out[0] if single else out
        if is_numpy:
            return np.ascontiguousarray(out.movedim(-3, -1).numpy())
        return out

    return Batch(pixels.contiguous(), restore, images)


def od_of(pixels: torch.Tensor, background: float) -> torch.Tensor:
    """``(N, 3, H, W)`` 0-255 pixels -> ``(N, 3, H*W)`` optical density."""
    return pixels.flatten(2).clamp_min(1.0).log_().neg_().add_(math.log(background))


def rgb_of(stains: torch.Tensor, concentrations: torch.Tensor, shape: torch.Size,
           background: float) -> torch.Tensor:
    """Pixels ``background * exp(-stains @ concentrations)`` on the 0-255 scale, ``(N, 3, H, W)``.

    ``stains`` ``(N, 3, 2)``, ``concentrations`` ``(N, 2, P)``; the sign goes on the small
    matrix. Neither rounded nor clipped above: ``Batch.restore`` does both.
    """
    return torch.bmm(-stains, concentrations).add_(math.log(background)).exp_().reshape(shape)


def tissue_pixels(od: torch.Tensor, beta: float) -> torch.Tensor:
    """``(N, P)`` bool: OD at least ``beta`` in every channel (Macenko's transparency rule)."""
    return od.amin(dim=1) >= beta


def usable(cov: torch.Tensor, count: torch.Tensor, pixels: int, min_tissue: float) -> torch.Tensor:
    """``(N,)`` bool: enough tissue (a ``min_tissue`` share of ``pixels``) with a spread of colours.

    ``cov`` and ``count`` come from ``tissue_covariance``; the spread is the second-largest
    eigenvalue of the tissue OD covariance, which must reach ``MIN_SPREAD``: all-white,
    all-black and single-colour tiles fail.
    """
    spread = torch.linalg.eigvalsh(cov)[:, 1]
    return (count >= max(min_tissue * pixels, 2)) & (spread >= MIN_SPREAD)


def tissue_covariance(od: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, 3, 3)`` covariance (``N - 1`` normalised) of the OD of each image's tissue pixels,
    and ``(N,)`` their counts; from the weighted moments, in one pass over the pixels."""
    weight = mask.to(od.dtype)
    weighted = od * weight[:, None]
    count = weight.sum(dim=1)
    sums = weighted.sum(dim=2)
    mean = sums / count.clamp_min(1)[:, None]
    scatter = weighted @ od.transpose(1, 2) - count[:, None, None] * mean[:, :, None] * mean[:, None, :]
    return scatter / (count - 1).clamp_min(1)[:, None, None], count


def warn_skipped(ok: torch.Tensor, why: str) -> None:
    """One warning for the tiles of a call that were passed through unchanged.

    Tensors on the ``meta`` device hold no values to count: no warning there.
    """
    if ok.device.type == "meta":
        return
    skipped = int((~ok).sum())
    if skipped:
        _log.warning("%d of %d image(s) returned unchanged: %s", skipped, len(ok), why)

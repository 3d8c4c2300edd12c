"""The GlaS seed paper's augmentation and U-Net input pipeline, ``torchvision.transforms.v2``.

Section 3 of the paper: "a composite pipeline of vertical flip, horizontal flip and random
cropping, each with a probability of 50 percent"; images then go to the U-Net at 512x512
(see [`histomammo.transforms.letterbox`][histomammo.transforms.letterbox]) and normalised. Every
step moves the image and
its masks (and boxes) together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.systems._stain import stain_steps
from histomammo.transforms.letterbox import SquareResize
from histomammo.transforms.stain import StainNormalizer

__all__ = [
    "glas_augmentation", "unet_input_transforms", "maskrcnn_input_transforms", "GLAS_MEAN",
    "GLAS_STD",
]

#: Normalisation of the U-Net input: ImageNet's statistics by default (the paper says only that
#: images were normalised); pass your data set's own to
#: [`unet_input_transforms`][histomammo.systems.glas.unet_input_transforms].
GLAS_MEAN = (0.485, 0.456, 0.406)
GLAS_STD = (0.229, 0.224, 0.225)


def glas_augmentation(crop_size: int = 512, p: float = 0.5) -> v2.Compose:
    """Vertical flip, horizontal flip and random crop, each applied with probability ``p``.

    Parameters
    ----------
    crop_size : int
        Side of the square crop (512 by default); a smaller image is zero-padded to it.
    p : float
        Probability of each of the three steps (0.5 in the paper).

    Examples
    --------
    >>> image = tv_tensors.Image(torch.zeros(3, 40, 60, dtype=torch.uint8))
    >>> mask = tv_tensors.Mask(torch.zeros(40, 60, dtype=torch.uint8))
    >>> out, out_mask = glas_augmentation(crop_size=32, p=1.0)(image, mask)
    >>> tuple(out.shape), tuple(out_mask.shape)
    ((3, 32, 32), (32, 32))
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], but got {p!r}")
    if not isinstance(crop_size, int) or crop_size < 1:
        raise ValueError(f"crop_size must be a positive int, but got {crop_size!r}")
    return v2.Compose([
        v2.RandomVerticalFlip(p),
        v2.RandomHorizontalFlip(p),
        v2.RandomApply([v2.RandomCrop(crop_size, pad_if_needed=True)], p=p),
    ])


def unet_input_transforms(
    train: bool,
    size: int = 512,
    resize: Literal["letterbox", "squash"] = "letterbox",
    crop_size: int = 512,
    mean: Sequence[float] = GLAS_MEAN,
    std: Sequence[float] = GLAS_STD,
    *,
    stain: StainNormalizer | None = None,
    stain_jitter: Callable[[Any], Any] | None = None,
) -> v2.Compose:
    """The U-Net input: (augmentation when ``train``), square resize, float, normalisation.

    The image becomes ``float32 (3, size, size)`` normalised by ``mean``/``std``; masks stay
    integer, resized by nearest neighbour. ``stain`` / ``stain_jitter``: the optional stain
    step, first (off by default; ``histomammo.systems._stain``).

    Examples
    --------
    >>> image = tv_tensors.Image(torch.zeros(3, 40, 60, dtype=torch.uint8))
    >>> out = unet_input_transforms(train=False, size=32)(image)
    >>> tuple(out.shape), out.dtype
    ((3, 32, 32), torch.float32)
    """
    steps = stain_steps(stain, stain_jitter, train=train)
    steps += [glas_augmentation(crop_size)] if train else []
    steps += [
        SquareResize(size, resize),
        v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
        v2.Normalize(list(mean), list(std)),
    ]
    return v2.Compose(steps)


def maskrcnn_input_transforms(train: bool, crop_size: int = 512, *,
                              stain: StainNormalizer | None = None,
                              stain_jitter: Callable[[Any], Any] | None = None) -> v2.Compose:
    """The Mask R-CNN input: (augmentation when ``train``), then float32 in [0, 1].

    ``stain`` / ``stain_jitter``: the optional stain step, first (off by default).

    No resize: torchvision's Mask R-CNN resizes and normalises inside the model (the paper:
    "the varying input size is handled internally").

    Examples
    --------
    >>> image = tv_tensors.Image(torch.full((3, 8, 8), 255, dtype=torch.uint8))
    >>> float(maskrcnn_input_transforms(train=False)(image).max())
    1.0
    """
    steps = [*stain_steps(stain, stain_jitter, train=train),
             *([glas_augmentation(crop_size)] if train else [])]
    steps.append(v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True))
    return v2.Compose(steps)

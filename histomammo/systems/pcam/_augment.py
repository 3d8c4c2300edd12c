"""The seed's PCam input pipelines and augmentation sets, in ``torchvision.transforms.v2``.

Every pipeline takes a ``tv_tensors.Image`` (``(3, 96, 96)`` uint8, as
[`histomammo.datasets.PCam`][histomammo.datasets.PCam] returns) and returns a float32 tensor
normalised per channel.
Random draws come from torch's global generator, as in torchvision (the engine seeds it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torchvision.transforms import v2

from histomammo.systems._stain import stain_steps
from histomammo.transforms.stain import StainNormalizer

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "RandomPixelDropout", "all_cnn_augment",
    "inception_run2_augment", "inception_transform", "patch_transform",
]

#: ImageNet channel statistics (RGB, on [0, 1]); the seed normalised with them (3.2.2.1, 3.2.7).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def patch_transform(
    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
    size: int | None = None, *, stain: StainNormalizer | None = None,
    stain_jitter: Callable[[Any], Any] | None = None,
) -> v2.Compose:
    """uint8 image -> float32 in [0, 1] -> optional resize to ``size`` -> normalised.

    Parameters
    ----------
    mean, std : sequence of float
        Per-channel normalisation.
    size : int, optional
        Side to resize to.
    stain : StainNormalizer, optional
        The optional stain step (off by default: the paper used none): a fitted
        normaliser applied first, on the uint8 image (see ``histomammo.systems._stain``).
    stain_jitter : callable, optional
        A stain augmentation (``HEDJitter``, ``RandStainNA``) after it, applied whenever given: pass it to the
        training pipeline's transform only.

    Examples
    --------
    >>> import torch
    >>> from torchvision import tv_tensors
    >>> image = tv_tensors.Image(torch.full((3, 96, 96), 128, dtype=torch.uint8))
    >>> patch_transform()(image).dtype
    torch.float32
    """
    steps: list[Any] = [v2.ToImage(), *stain_steps(stain, stain_jitter),
                        v2.ToDtype(torch.float32, scale=True)]
    if size is not None:
        steps.append(v2.Resize(size, antialias=True))
    return v2.Compose([*steps, v2.Normalize(list(mean), list(std))])


def inception_transform(size: int = 299) -> v2.Compose:
    """The seed's Inception input (3.2.2.1): resized to 299x299, ImageNet-normalised.

    Examples
    --------
    >>> import torch
    >>> inception_transform()(torch.zeros(3, 96, 96, dtype=torch.uint8)).shape
    torch.Size([3, 299, 299])
    """
    return patch_transform(IMAGENET_MEAN, IMAGENET_STD, size=size)


def inception_run2_augment(size: int = 299) -> v2.Compose:
    """Inception run 2's augmentations (3.2.3.1), then
    [`inception_transform`][histomammo.systems.pcam.inception_transform].

    Rotation by up to 45 degrees either way; horizontal and vertical flips, each with
    probability 0.3; with probability 0.3 a shift and a shear of up to 45 degrees; with
    probability 0.3 a brightness, contrast, saturation and hue change. The seed gives no shift
    or colour amounts: here shifts of up to 10% of the side and jitter 0.2 (hue 0.05).

    Examples
    --------
    >>> import torch
    >>> inception_run2_augment(size=96)(torch.zeros(3, 96, 96, dtype=torch.uint8)).shape
    torch.Size([3, 96, 96])
    """
    return v2.Compose([
        v2.ToImage(),
        v2.RandomRotation(45),
        v2.RandomHorizontalFlip(0.3),
        v2.RandomVerticalFlip(0.3),
        v2.RandomApply([v2.RandomAffine(degrees=0, translate=(0.1, 0.1), shear=45)], p=0.3),
        v2.RandomApply([v2.ColorJitter(0.2, 0.2, 0.2, 0.05)], p=0.3),
        inception_transform(size),
    ])


class RandomPixelDropout(v2.Transform):
    """Zero each pixel (all channels) with a probability drawn uniformly from ``[0, max_p]``.

    imgaug's ``Dropout(p=(0, 0.2))``, which the seed used (3.2.7.6); drawn once per image.
    """

    def __init__(self, max_p: float = 0.2) -> None:
        super().__init__()
        if not 0 <= max_p < 1:
            raise ValueError(f"max_p must lie in [0, 1), but got {max_p}")
        self.max_p = float(max_p)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"p": float(torch.rand(()) * self.max_p)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, torch.Tensor) or inpt.ndim < 3:
            return inpt
        keep = torch.rand(inpt.shape[-2:], device=inpt.device) >= params["p"]
        return inpt * keep.to(inpt.dtype)


def all_cnn_augment(
    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> v2.Compose:
    """The All-CNN's imgaug list (3.2.7.6) rebuilt in torchvision v2, then normalisation.

    With probability 0.3 a rotation of up to 90 degrees either way; horizontal and vertical
    mirrors with probability 0.25 each; with probability 0.5 either brightness and contrast
    multiplied by factors in 0.5-1.5, or a hue/saturation change with a Gaussian blur; pixel
    dropout with a probability up to 0.2; elastic displacement (torchvision's defaults,
    alpha 50, sigma 5, as imgaug's ``ElasticTransformation`` moves pixels locally).

    Examples
    --------
    >>> import torch
    >>> all_cnn_augment()(torch.zeros(3, 96, 96, dtype=torch.uint8)).shape
    torch.Size([3, 96, 96])
    """
    colour = v2.RandomChoice([
        v2.ColorJitter(brightness=(0.5, 1.5), contrast=(0.5, 1.5)),
        v2.Compose([v2.ColorJitter(saturation=(0.5, 1.5), hue=0.1), v2.GaussianBlur(3)]),
    ])
    return v2.Compose([
        v2.ToImage(),
        v2.RandomApply([v2.RandomRotation(90)], p=0.3),
        v2.RandomHorizontalFlip(0.25),
        v2.RandomVerticalFlip(0.25),
        v2.RandomApply([colour], p=0.5),
        v2.ToDtype(torch.float32, scale=True),
        RandomPixelDropout(0.2),
        v2.ElasticTransform(),
        v2.Normalize(list(mean), list(std)),
    ])

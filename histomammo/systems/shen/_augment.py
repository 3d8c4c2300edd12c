"""Shen et al.'s augmentation and mean-grey subtraction (``torchvision.transforms.v2``).

"The average gray scale value of the whole image training set was subtracted from both
patch and whole image datasets in training. [...] horizontal and vertical flips, rotation in
[-25, 25] degrees, zoom in [0.8, 1.2] ratio and intensity shift in [-20, 20] pixel values."

Intensity scale: the paper states the shift in pixel values without their range. Here images
are float with the full range 1.0 (as [`histomammo.io.read_dicom`][histomammo.io.read_dicom] returns
them), and a
shift of ``s`` pixel values is ``s / value_scale`` with ``value_scale=255`` (8-bit pixel
values, as in the PNG files such pipelines train from): [-20, 20] becomes [-0.078, 0.078].
Pass ``value_scale=1`` for images already in pixel values.

Random draws use torch's global generator, like every ``torchvision.transforms.v2``
transform; the engine seeds it and each DataLoader worker reproducibly.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import InterpolationMode, v2

__all__ = ["shen_augmentation", "IntensityShift", "SubtractMean"]

_NOT_INTENSITY = (tv_tensors.Mask, tv_tensors.BoundingBoxes, tv_tensors.KeyPoints) \
    if hasattr(tv_tensors, "KeyPoints") else (tv_tensors.Mask, tv_tensors.BoundingBoxes)


class IntensityShift(v2.Transform):
    """Add one value drawn uniformly from ``[-max_shift, max_shift]`` to the image.

    Masks and boxes pass unchanged.

    Examples
    --------
    >>> out = IntensityShift(0.1)(torch.zeros(1, 4, 4))
    >>> bool(out.abs().max() <= 0.1) and out.unique().numel() == 1
    True
    """

    def __init__(self, max_shift: float) -> None:
        super().__init__()
        if not max_shift >= 0:
            raise ValueError(f"max_shift must be >= 0; got {max_shift}")
        self.max_shift = float(max_shift)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        shift = torch.empty(()).uniform_(-self.max_shift, self.max_shift)
        return {"shift": float(shift)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, _NOT_INTENSITY):
            return inpt
        return inpt + params["shift"]


class SubtractMean(v2.Transform):
    """Subtract a fixed mean grey value (the training images' mean from
    [`compute_mean_std`][histomammo.datasets.stats.compute_mean_std]).

    Examples
    --------
    >>> SubtractMean(0.25)(torch.ones(1, 2, 2)).flatten().tolist()
    [0.75, 0.75, 0.75, 0.75]
    """

    def __init__(self, mean: float) -> None:
        super().__init__()
        self.mean = float(mean)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, _NOT_INTENSITY):
            return inpt
        return inpt - self.mean


def shen_augmentation(
    mean: float | None = None,
    *,
    max_shift: float = 20.0,
    value_scale: float = 255.0,
    degrees: float = 25.0,
    zoom: tuple[float, float] = (0.8, 1.2),
) -> v2.Compose:
    """Shen et al.'s training augmentation, then mean-grey subtraction.

    Parameters
    ----------
    mean : float, optional
        Training-set mean grey on the images' own scale, subtracted last:
        ``compute_mean_std(train_images, scale=False)[0].item()`` for grey images
        ([`compute_mean_std`][histomammo.datasets.stats.compute_mean_std]).
        For validation and test use [`SubtractMean`][histomammo.systems.shen.SubtractMean] alone.
    max_shift : float
        Intensity shift bound in pixel values (20).
    value_scale : float
        Pixel values per unit of the image's intensity (255 for float images in [0, 1]).
    degrees : float
        Rotation bound (25).
    zoom : tuple of float
        Scale range (0.8, 1.2).

    Returns
    -------
    torchvision.transforms.v2.Compose
        Flips (horizontal, vertical, each p=0.5), random affine (rotation and zoom, bilinear,
        fill 0), intensity shift, mean subtraction. Accepts ``(C, H, W)`` tensors or
        ``tv_tensors.Image`` (masks transform geometrically along with them).

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> shen_augmentation(mean=0.3)(tv_tensors.Image(torch.rand(1, 32, 32))).shape
    torch.Size([1, 32, 32])
    """
    steps: list[v2.Transform] = [
        v2.RandomHorizontalFlip(),
        v2.RandomVerticalFlip(),
        v2.RandomAffine(degrees=degrees, scale=zoom, interpolation=InterpolationMode.BILINEAR),
        IntensityShift(max_shift / value_scale),
    ]
    if mean is not None:
        steps.append(SubtractMean(mean))
    return v2.Compose(steps)

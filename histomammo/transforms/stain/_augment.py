"""Stain augmentation as ``torchvision.transforms.v2`` transforms: HED jitter and RandStainNA.

Both draw one set of random values per image of a batch (in ``make_params``, from the
``torch.Generator`` given, else torch's global one) and call a deterministic batched
function; boxes, masks and labels pass through untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.transforms.stain._colour import hed_affine
from histomammo.transforms.stain._od import ImagesT, as_batch

__all__ = ["HEDJitter", "hed_jitter"]


def hed_jitter(images: ImagesT, scale: npt.ArrayLike, shift: npt.ArrayLike) -> ImagesT:
    """Scale and shift each image's HED concentrations: ``c' = scale * c + shift``.

    Ruifrok's colour deconvolution is linear in optical density, so the whole change is one
    ``3 x 3`` affine map of each pixel's OD, applied batched.

    Parameters
    ----------
    images : numpy.ndarray or torch.Tensor
        One image or a batch (numpy ``(H, W, 3)`` / ``(N, H, W, 3)``, torch ``(3, H, W)`` /
        ``(N, 3, H, W)``; uint8, or float on [0, 1]).
    scale, shift : array-like
        ``(3,)`` or ``(N, 3)``: factors and offsets of the haematoxylin, eosin and DAB
        concentrations (skimage's ``rgb2hed`` units).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        The input's kind, shape, dtype and device.

    Examples
    --------
    >>> from skimage.data import immunohistochemistry
    >>> image = immunohistochemistry()[:64, :64]
    >>> bool((hed_jitter(image, [1, 1, 1], [0, 0, 0]) == image).all())
    True
    """
    batch = as_batch(images)
    pixels = batch.pixels
    scales, shifts = (torch.as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v)
                      .to(pixels).reshape(-1, 3).expand(len(pixels), 3) for v in (scale, shift))
    matrix, offset = hed_affine(scales, shifts)
    od = pixels.flatten(2).div(255.0).clamp_min_(1e-6).log_().neg_()  # skimage's floor for black
    out = torch.baddbmm(offset, matrix, od).neg_().exp_().mul_(255.0)
    return batch.restore(out.reshape(pixels.shape))


def batch_size(flat_inputs: list[Any]) -> int:
    """Images in the first image-like input (numpy or tensor, not boxes or masks)."""
    for inpt in flat_inputs:
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask)):
            continue
        if isinstance(inpt, (torch.Tensor, np.ndarray)) and inpt.ndim in (3, 4):
            return int(inpt.shape[0]) if inpt.ndim == 4 else 1
    return 1


class StainTransform(v2.Transform):
    """Base of the stain transforms: images (numpy, tensors, ``tv_tensors.Image``) only."""

    _transformed_types = (torch.Tensor, np.ndarray)

    def __init__(self, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.generator = generator

    def uniform(self, low: Any, high: Any, shape: tuple[int, ...]) -> torch.Tensor:
        """``U(low, high)`` float64 draws of ``shape`` from the generator, on its device."""
        device = self.generator.device if self.generator is not None else None
        draws = torch.rand(shape, generator=self.generator, dtype=torch.float64, device=device)
        return torch.as_tensor(low, dtype=torch.float64, device=draws.device) + draws * (
            torch.as_tensor(high, dtype=torch.float64, device=draws.device)
            - torch.as_tensor(low, dtype=torch.float64, device=draws.device))

    def apply(self, inpt: Any, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, (tv_tensors.BoundingBoxes, tv_tensors.Mask)):
            return inpt
        out = self.apply(inpt, params)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


class HEDJitter(StainTransform):
    """Tellez et al.'s HED jitter: per image, ``c' = U(1 - alpha, 1 + alpha) c + U(-beta, beta)``.

    Colour deconvolution with Ruifrok & Johnston's vectors gives each pixel haematoxylin,
    eosin and DAB concentrations; each image draws its own factor and offset per stain.

    Parameters
    ----------
    alpha : float
        Largest relative change of a concentration.
    beta : float
        Largest offset (skimage's ``rgb2hed`` units, optical density over ``ln(10**6)``).
    jitter_dab : bool
        Jitter DAB too; by default DAB keeps factor 1 and offset 0.
    generator : torch.Generator, optional
        Source of the draws (torch's global generator when None).

    References
    ----------
    Tellez et al., "Whole-slide mitosis detection in H&E breast histology using PHH3 as a
    reference to train distilled stain-invariant convolutional networks", IEEE TMI 37(9), 2018.
    Ruifrok & Johnston, "Quantification of histochemical staining by color deconvolution",
    Analytical and Quantitative Cytology and Histology 23(4), 2001.

    Examples
    --------
    >>> import torch
    >>> images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    >>> HEDJitter(generator=torch.Generator().manual_seed(0))(images).shape
    torch.Size([4, 3, 32, 32])
    """

    def __init__(self, alpha: float = 0.05, beta: float = 0.01, *, jitter_dab: bool = False,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(generator)
        if not 0 <= alpha < 1:
            raise ValueError(f"alpha must lie in [0, 1), got {alpha}")
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        self.alpha, self.beta, self.jitter_dab = float(alpha), float(beta), bool(jitter_dab)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        n = batch_size(flat_inputs)
        scale = self.uniform(1 - self.alpha, 1 + self.alpha, (n, 3))
        shift = self.uniform(-self.beta, self.beta, (n, 3))
        if not self.jitter_dab:
            scale[:, 2], shift[:, 2] = 1.0, 0.0
        return {"scale": scale, "shift": shift}

    def apply(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, torch.Tensor):
            params = {key: value.to(inpt.device) for key, value in params.items()}
        return hed_jitter(inpt, params["scale"], params["shift"])

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, jitter_dab={self.jitter_dab}"

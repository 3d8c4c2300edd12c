"""Square network inputs of any image, and the inverse that brings predictions back.

The GlaS seed paper feeds its U-Net 512x512 images. It says the aspect ratio is kept; its code
squashes. Both are here: ``mode="letterbox"`` scales the longer side to ``size`` and pads the
shorter one symmetrically with zeros (aspect ratio kept, the default); ``mode="squash"``
resizes each side to ``size``.
[`restore_original_size`][histomammo.transforms.restore_original_size] maps a prediction made on the
square input back to the original pixel grid, where the challenge computes its metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

__all__ = ["SquareGeometry", "square_geometry", "SquareResize", "restore_original_size"]

MODES = ("letterbox", "squash")


@dataclass(frozen=True)
class SquareGeometry:
    """How an ``original`` ``(H, W)`` image maps onto a ``size`` x ``size`` input.

    Attributes
    ----------
    original : (int, int)
        ``(H, W)`` of the image.
    size : int
        Side of the square input.
    resized : (int, int)
        ``(h, w)`` of the image content inside the square.
    offset : (int, int)
        ``(top, left)`` zero padding before the content.
    """

    original: tuple[int, int]
    size: int
    resized: tuple[int, int]
    offset: tuple[int, int]

    @property
    def padding(self) -> list[int]:
        """``[left, top, right, bottom]`` padding, torchvision's order."""
        top, left = self.offset
        return [left, top, self.size - self.resized[1] - left, self.size - self.resized[0] - top]


def square_geometry(
    original: tuple[int, int], size: int = 512, mode: Literal["letterbox", "squash"] = "letterbox"
) -> SquareGeometry:
    """The [`SquareGeometry`][histomammo.transforms.SquareGeometry] of an ``(H, W)`` image for a
    ``size`` x ``size`` input.

    Examples
    --------
    >>> square_geometry((522, 775), 512)
    SquareGeometry(original=(522, 775), size=512, resized=(345, 512), offset=(83, 0))
    >>> square_geometry((522, 775), 512, "squash").resized
    (512, 512)
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, but got {mode!r}")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, but got {size!r}")
    height, width = (int(v) for v in original)
    if height < 1 or width < 1:
        raise ValueError(f"original size must be positive, but got {original!r}")
    if mode == "squash":
        return SquareGeometry((height, width), size, (size, size), (0, 0))
    scale = size / max(height, width)
    resized = (max(1, round(height * scale)), max(1, round(width * scale)))
    offset = ((size - resized[0]) // 2, (size - resized[1]) // 2)
    return SquareGeometry((height, width), size, resized, offset)


class SquareResize(v2.Transform):
    """``torchvision.transforms.v2`` transform to a ``size`` x ``size`` input.

    Images are resized bilinearly with antialiasing, masks by nearest neighbour, boxes
    scaled; then zero-padded (letterbox). Use
    [`square_geometry`][histomammo.transforms.square_geometry] on the original
    ``(H, W)`` to invert with
    [`restore_original_size`][histomammo.transforms.restore_original_size].

    Examples
    --------
    >>> from torchvision import tv_tensors
    >>> image = tv_tensors.Image(torch.zeros(3, 60, 90, dtype=torch.uint8))
    >>> mask = tv_tensors.Mask(torch.ones(60, 90, dtype=torch.uint8))
    >>> out, out_mask = SquareResize(32)(image, mask)
    >>> tuple(out.shape), int(out_mask.sum())
    ((3, 32, 32), 672)
    """

    def __init__(self, size: int = 512, mode: Literal["letterbox", "squash"] = "letterbox") -> None:
        super().__init__()
        square_geometry((1, 1), size, mode)  # checks the arguments
        self.size, self.mode = size, mode

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        return {"geometry": square_geometry((height, width), self.size, self.mode)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        geometry: SquareGeometry = params["geometry"]
        out = F.resize(inpt, list(geometry.resized), antialias=True)
        if any(geometry.padding):
            out = F.pad(out, geometry.padding, fill=0)
        return out


def restore_original_size(prediction: torch.Tensor, geometry: SquareGeometry) -> torch.Tensor:
    """Map a prediction on the square input back to the original ``(H, W)`` grid.

    Parameters
    ----------
    prediction : Tensor[..., size, size]
        Float logits or probabilities (bilinear interpolation); cast to float first.
    geometry : SquareGeometry
        From [`square_geometry`][histomammo.transforms.square_geometry] of the original image.

    Returns
    -------
    Tensor[..., H, W]
        float32.

    Examples
    --------
    >>> g = square_geometry((522, 775), 512)
    >>> restore_original_size(torch.zeros(1, 512, 512), g).shape
    torch.Size([1, 522, 775])
    """
    size = geometry.size
    if prediction.shape[-2:] != (size, size):
        raise ValueError(
            f"prediction must end in ({size}, {size}), but got shape {tuple(prediction.shape)}"
        )
    top, left = geometry.offset
    content = prediction[..., top:top + geometry.resized[0], left:left + geometry.resized[1]]
    lead = content.shape[:-2]
    flat = content.float().reshape(-1, 1, *content.shape[-2:])
    restored = torch.nn.functional.interpolate(flat, size=geometry.original, mode="bilinear",
                                               align_corners=False)
    return restored.reshape(*lead, *geometry.original)

"""The input sides on which an equivariant classifier's logits are exactly invariant.

A 90-degree rotation (P4M: and a mirror) of a square image maps its pixel grid onto itself about
the centre. A layer keeps that symmetry only if it treats the grid symmetrically about the
centre: an unpadded or symmetrically padded convolution always does, a 2x2 pooling or a strided
convolution only on an even side (on an odd side the rotated image meets a grid shifted by a
pixel). Each model's valid sides form ``first, first + step, first + 2 step, ...``;
`InputGrid` checks them at every forward pass and,
on request, crops or zero-pads the input symmetrically to the nearest valid side.
"""

from __future__ import annotations

import torch
from torch import nn

from histomammo.errors import DataFormatError

__all__ = ["FIT_INPUT", "InputGrid"]

#: The values of ``fit_input``: raise, crop symmetrically, or zero-pad symmetrically.
FIT_INPUT = ("error", "crop", "pad")


class InputGrid(nn.Module):
    """Check (or fit) the height and width of ``(N, C, H, W)`` input to ``first + k * step``.

    Parameters
    ----------
    model : str
        The model's name, for messages.
    first, step : int
        The smallest valid side and the spacing of valid sides.
    fit_input : {"error", "crop", "pad"}
        What an invalid side does: raise [`DataFormatError`][histomammo.errors.DataFormatError]
        naming the valid sides; ``"crop"``: remove the same number of pixels from both ends
        down to the largest valid side; ``"pad"``: add zeros to both ends up to the smallest
        valid side. A side whose distance to every valid side is odd cannot be fitted
        symmetrically and raises in every mode.

    Examples
    --------
    >>> grid = InputGrid("AllGConvNet", 94, 32, fit_input="crop")
    >>> grid(torch.zeros(1, 3, 96, 96)).shape
    torch.Size([1, 3, 94, 94])
    >>> InputGrid("GCNN", 32, 4)(torch.zeros(1, 3, 95, 95))
    Traceback (most recent call last):
    ...
    histomammo.errors.DataFormatError: GCNN: input side 95 breaks exact rotation invariance; valid sides are 32, 36, 40, ... (32 + 4k), e.g. 92 and 96 near it
    """

    def __init__(self, model: str, first: int, step: int, fit_input: str = "error") -> None:
        super().__init__()
        if fit_input not in FIT_INPUT:
            raise ValueError(f"fit_input must be one of {FIT_INPUT}, but got {fit_input!r}")
        self.model, self.first, self.step, self.fit_input = model, int(first), int(step), fit_input

    def extra_repr(self) -> str:
        return f"first={self.first}, step={self.step}, fit_input={self.fit_input!r}"

    def is_valid(self, side: int) -> bool:
        """Whether ``side`` gives exactly invariant logits."""
        return side >= self.first and (side - self.first) % self.step == 0

    def valid_sides(self, up_to: int) -> list[int]:
        """The valid sides up to ``up_to``."""
        return list(range(self.first, up_to + 1, self.step))

    def _target(self, side: int) -> int:
        below = self.first + max(0, (side - self.first) // self.step) * self.step
        candidates = {"crop": [v for v in (below, below - self.step) if self.first <= v <= side],
                      "pad": [v for v in (below, below + self.step) if v >= max(side, self.first)]}
        for valid in candidates.get(self.fit_input, []):
            if (side - valid) % 2 == 0:
                return valid
        near = [v for v in (below, below + self.step) if v >= self.first]
        raise DataFormatError(
            f"{self.model}: input side {side} breaks exact rotation invariance; valid sides are "
            f"{self.first}, {self.first + self.step}, {self.first + 2 * self.step}, ... "
            f"({self.first} + {self.step}k), e.g. {' and '.join(map(str, near))} near it"
            + ("" if self.fit_input == "error" else
               f" (fit_input={self.fit_input!r} needs an even difference to fit symmetrically)")
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise DataFormatError(f"{self.model}: expected (N, C, H, W) input, but got shape "
                                  f"{tuple(x.shape)}")
        height, width = x.shape[-2:]
        if self.is_valid(height) and self.is_valid(width):
            return x
        # pixels to add at each end of each axis: negative crops, positive pads
        dy, dx = ((self._target(s) - s) // 2 if not self.is_valid(s) else 0
                  for s in (height, width))
        cy, cx = max(0, -dy), max(0, -dx)
        x = x[..., cy:height - cy, cx:width - cx]
        py, px = max(0, dy), max(0, dx)
        return nn.functional.pad(x, (px, px, py, py)) if py or px else x

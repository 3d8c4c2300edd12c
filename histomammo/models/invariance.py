"""How invariant a classifier's logits are to 90-degree rotations (and mirrors): one number.

[`invariance_ratio`][histomammo.models.invariance.invariance_ratio] is the measure of issue 20:
the largest change of any logit when the input is transformed by a group element, divided by
the largest change a different input makes. An exactly invariant model gives float rounding
(about 1e-6 in float32); a plain CNN gives a ratio of order one. Plain torch: it works for any
model, exported or not, on any device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["group_transforms", "invariance_ratio"]

Transform = Callable[[torch.Tensor], torch.Tensor]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _rotation(k: int) -> Transform:
    return lambda x: torch.rot90(x, k, dims=(-2, -1))


def _mirrored(then: Transform) -> Transform:
    return lambda x: then(torch.flip(x, dims=(-1,)))


def group_transforms(group: str) -> list[Transform]:
    """The non-identity elements of ``group`` acting on ``(..., H, W)`` images.

    ``"p4"``: rotations by 90, 180 and 270 degrees; ``"p4m"``: those and the four mirror images
    (a horizontal flip, then each rotation).

    Examples
    --------
    >>> len(group_transforms("p4")), len(group_transforms("p4m"))
    (3, 7)
    """
    rotations = [_rotation(k) for k in (1, 2, 3)]
    if group == "p4":
        return rotations
    if group != "p4m":
        raise ValueError(f"group must be 'p4' or 'p4m', but got {group!r}")
    mirrors = [_mirrored(r) for r in [_identity, *rotations]]
    return rotations + mirrors


@torch.no_grad()
def invariance_ratio(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     group: str = "p4") -> float:
    """``max |f(g x) - f(x)|`` over the elements ``g`` of ``group``, over ``max |f(y) - f(x)|``.

    Parameters
    ----------
    model : nn.Module
        Images ``(N, C, H, W)`` in, logits ``(N, K)`` out; called as it is (put it in eval mode
        first: dropout would make any model look non-invariant).
    x, y : Tensor (N, C, H, W)
        Square images and different images of the same shape (e.g. two random batches).
    group : {"p4", "p4m"}

    Returns
    -------
    float
        Below 1e-3 for an invariant model (float rounding only).

    Raises
    ------
    ValueError
        If ``f(y) == f(x)``: the logits do not depend on the input, so nothing is measured.

    Examples
    --------
    >>> pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # invariant by design
    >>> x, y = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    >>> invariance_ratio(pool, x, y, "p4m") < 1e-3
    True
    """
    fx = model(x)
    moved = float((model(y) - fx).abs().max())
    if moved == 0:
        raise ValueError("the logits do not depend on the input (f(y) == f(x)): nothing to "
                         "measure; check the model (an untrained tiny model may output constants)")
    return max(float((model(g(x)) - fx).abs().max()) for g in group_transforms(group)) / moved

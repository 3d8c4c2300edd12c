"""The seed's first G-CNN design (section 3.2.7.2): the All-CNN with every convolution a group one.

The seed abandoned it (section 3.3.3.1) because its last layer gave ``(N, 2, 4, 21, 21)`` and "it
is unknown how to replace [global average pooling] in a G-CNN". The answer: average over the
group as well as over space. The last 1x1 group convolution gives one regular field per class;
its mean over the ``|G|`` orientations and the pixels is invariant to the group, so the logits
of a patch and of its rotations (P4M: and mirror images) agree.

Exact invariance needs every stride-2 convolution to see an even side (otherwise a rotated image
meets a different stride-2 grid): input sides 94, 126, 158, 190, ... qualify; the seed's 96 does
not (its 45-pixel map), so at 96 the logits are invariant only up to that edge effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from histomammo.models._registry import register_model
from histomammo.models._weights import load_weights
from histomammo.models.allconv import ALL_CNN_LAYERS, ALL_CNN_WIDTHS
from histomammo.models.equivariant import (
    GROUPS,
    EquivariantClassifier,
    PointwiseLeakyReLU,
    enn,
    group_space,
    regular,
)

__all__ = ["AllGConvNet", "FieldMean", "all_gconv_net"]


def _basis(kernel: int) -> dict[str, Any]:
    """e2cnn basis options: a 2x2 filter is one ring of radius sqrt(2)/2, angular frequencies
    up to 2 (e2cnn's defaults find no basis at all for even kernels)."""
    return {"rings": [2**0.5 / 2], "frequencies_cutoff": 2.0} if kernel == 2 else {}


class FieldMean(nn.Module):
    """Mean over each regular field's ``order`` maps and over space: ``(N, F*order, H, W) -> (N, F)``."""

    def __init__(self, order: int) -> None:
        super().__init__()
        self.order = int(order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, c // self.order, self.order * h * w).mean(dim=2)


class AllGConvNet(EquivariantClassifier):
    """The All-CNN of :class:`~histomammo.models.allconv.AllConvNet` with group convolutions.

    The same layers, strides and dropouts, widths counted in fields (each ``|G|`` maps), the
    first convolution lifting the image to the group, LeakyReLU (pointwise, so equivariant on
    regular fields) after all but the last, and logits from the mean over group and space.

    Parameters
    ----------
    group : {"p4", "p4m"}
    in_channels, num_classes : int
    widths : sequence of 6 int
        Fields per stage; the All-CNN's 320 ... 1920 by default (which is |G| times the
        feature maps of the plain network: small widths for experiments).

    Examples
    --------
    >>> import torch
    >>> model = AllGConvNet("p4", widths=(1, 1, 1, 1, 1, 1)).eval()
    >>> model(torch.zeros(1, 3, 94, 94)).shape
    torch.Size([1, 2])
    """

    def __init__(
        self,
        group: str = "p4",
        in_channels: int = 3,
        num_classes: int = 2,
        widths: Sequence[int] = ALL_CNN_WIDTHS,
    ) -> None:
        super().__init__()
        if len(widths) != 6:
            raise ValueError(f"widths must give 6 widths, but got {tuple(widths)}")
        space = group_space(group)
        self.group = group
        self.in_type = enn.FieldType(space, in_channels * [space.trivial_repr])
        layers: list[Any] = []
        previous = self.in_type
        for kind, *args in ALL_CNN_LAYERS:
            if kind == "dropout":
                layers.append(enn.PointwiseDropout(previous, args[0]))
                continue
            kernel, stride, width = args
            out = regular(space, num_classes if width == "classes" else widths[width])
            layers.append(enn.R2Conv(previous, out, kernel, stride=stride, **_basis(kernel)))
            if width != "classes":
                layers.append(PointwiseLeakyReLU(out))
            previous = out
        self.features = enn.SequentialModule(*layers)
        self.invariant_map = None
        self.head = FieldMean(GROUPS[group])


@register_model
def all_gconv_net(group: str = "p4", weights: str | None = None, **kwargs: Any) -> AllGConvNet:
    """The seed's All-G-CNN (:class:`AllGConvNet`); ``weights``: path to its state dict.

    Examples
    --------
    >>> from histomammo.models import create_model
    >>> create_model("all_gconv_net", widths=(1, 1, 1, 1, 1, 1)).group
    'p4'
    """
    return load_weights(AllGConvNet(group, **kwargs), weights)

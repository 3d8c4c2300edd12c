"""U-Net (Ronneberger et al., 2015) as the GlaS seed paper built it (its section 5.2).

Encoder: ``depth`` levels of two zero-padded 3x3 convolutions, each followed by a ReLU, then
2x2 max pooling; channels double from ``base_channels`` (64) at every level, to 1024 at the
bottom (32x32 for a 512x512 input). Decoder: a 2x2 transposed convolution halving the
channels, concatenation with the encoder features of the same level, two padded 3x3
convolutions with ReLUs. Output: one 3x3 convolution to ``num_classes`` maps.

The paper ends with "a single 3x3 2D convolution and a ReLU ... using Sigmoid". A ReLU before
the sigmoid would pin every probability at >= 0.5 (background could never be predicted), so
here the last convolution returns *logits*: train with ``BCEWithLogitsLoss`` (numerically the
paper's BCE on sigmoid outputs) and take ``torch.sigmoid`` for probabilities.

References
----------
O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional networks for biomedical image
segmentation", MICCAI 2015.
"""

from __future__ import annotations

import torch
from torch import nn

from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["UNet", "unet"]


class DoubleConv(nn.Sequential):
    """Two zero-padded 3x3 convolutions, each followed by a ReLU (a "horizontal convolution")."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
            nn.ReLU(inplace=True),
        )


class UpBlock(nn.Module):
    """2x2 transposed convolution, concatenation with the skip features, `DoubleConv`."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv = DoubleConv(2 * out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    """U-Net with padded convolutions returning per-pixel logits.

    Parameters
    ----------
    in_channels : int
        Input channels (3 for RGB).
    num_classes : int
        Output maps (1 for gland vs background).
    base_channels : int
        Channels of the first level (64 in the paper); level ``i`` has ``base * 2**i``.
    depth : int
        Number of poolings (4 in the paper); height and width must be divisible by
        ``2**depth``.

    Shapes
    ------
    input ``(B, in_channels, H, W)`` float; output ``(B, num_classes, H, W)`` logits.
    The paper's configuration (3 -> 1, base 64, depth 4) has 31,032,257 parameters.

    Examples
    --------
    >>> model = UNet(base_channels=4, depth=2)
    >>> model(torch.zeros(1, 3, 16, 16)).shape
    torch.Size([1, 1, 16, 16])
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 1, base_channels: int = 64, depth: int = 4
    ) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes),
                            ("base_channels", base_channels), ("depth", depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, but got {value!r}")
        self.depth = depth
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.encoder = nn.ModuleList(
            [DoubleConv(in_channels, widths[0])]
            + [DoubleConv(widths[i], widths[i + 1]) for i in range(depth - 1)]
        )
        self.pool = nn.MaxPool2d(2)
        self.bottom = DoubleConv(widths[depth - 1], widths[depth])
        self.decoder = nn.ModuleList(
            [UpBlock(widths[i + 1], widths[i]) for i in reversed(range(depth))]
        )
        self.head = nn.Conv2d(widths[0], num_classes, 3, padding=1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps at every level, top to bottom then back up (for inspection).

        Returns ``[enc_0, ..., enc_{depth-1}, bottom, dec_{depth-1}, ..., dec_0]``.
        """
        factor = 2**self.depth
        if x.ndim != 4 or x.shape[-2] % factor or x.shape[-1] % factor:
            raise ValueError(
                f"UNet input must be (B, C, H, W) with H and W divisible by {factor}, "
                f"but got shape {tuple(x.shape)}"
            )
        skips, maps = [], []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            maps.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        maps.append(x)
        for block, skip in zip(self.decoder, reversed(skips), strict=True):
            x = block(x, skip)
            maps.append(x)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes, H, W)``; ``torch.sigmoid`` gives probabilities."""
        return self.head(self.features(x)[-1])


@register_model
def unet(
    *,
    num_classes: int = 1,
    in_channels: int = 3,
    weights: Weights = None,
    base_channels: int = 64,
    depth: int = 4,
) -> UNet:
    """The GlaS paper's U-Net ([`UNet`][histomammo.models.unets.UNet]; 31,032,257 parameters).

    Parameters
    ----------
    num_classes : int
        Output maps (1: gland vs background, the paper's).
    in_channels : int
        3 for RGB.
    weights : str, path or state dict, optional
        Loaded by [`load_weights`][histomammo.models._weights.load_weights] (a state dict
        file or a Trainer checkpoint). Nothing is downloaded.
    base_channels, depth : int
        As [`UNet`][histomammo.models.unets.UNet] (64 and 4 in the paper).

    Examples
    --------
    >>> from histomammo.models import create_model
    >>> create_model("unet", base_channels=4, depth=2).depth
    2
    """
    return load_weights(UNet(in_channels, num_classes, base_channels, depth), weights)

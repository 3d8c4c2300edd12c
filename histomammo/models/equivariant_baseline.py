"""The plain CNN twin of [`GCNN`][histomammo.models.GCNN], for comparisons.

The same layers (3x3 convolutions in pairs, 2x2 max pooling, dropout 0.2/0.3/0.4) and the same
kind of head, with ordinary convolutions of ``|G| * width`` channels: the same number of feature
maps as the G-CNN ("equal width"), so the two cost about the same per step. Its global-average
head is invariant to translations only: its logits change when a patch is rotated.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from histomammo.models._classifier import ClassifierMixin
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["PlainCNN", "plain_cnn"]


class PlainCNN(ClassifierMixin, nn.Module):
    """A plain CNN shaped like the seed's G-CNN, with the invariant-style pooled head.

    Parameters
    ----------
    in_channels, num_classes : int
    channels : sequence of 3 int
        Feature maps per stage (``|G| * widths`` of the G-CNN it is compared with).
    hidden : int
        Units of the first FC layer.

    Examples
    --------
    >>> import torch
    >>> PlainCNN(channels=(4, 4, 4), hidden=8).eval()(torch.zeros(1, 3, 96, 96)).shape
    torch.Size([1, 2])
    """

    classifier_name = "head.5"

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        channels: Sequence[int] = (384, 768, 1536),
        hidden: int = 1024,
    ) -> None:
        super().__init__()
        if len(channels) != 3:
            raise ValueError(f"channels must give 3 stage widths, but got {tuple(channels)}")
        layers: list[nn.Module] = []
        previous = in_channels
        dropouts = (0.2, 0.3)  # after the first two stages' pooling
        for stage, width in enumerate(channels):
            layers += [nn.Conv2d(previous, width, 3), nn.ReLU(inplace=True),
                       nn.Conv2d(width, width, 3), nn.ReLU(inplace=True)]
            if stage < len(dropouts):
                layers += [nn.MaxPool2d(2), nn.Dropout(dropouts[stage])]
            previous = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(previous, hidden),
            nn.ReLU(inplace=True), nn.Dropout(0.4), nn.Linear(hidden, num_classes),
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map ``(N, channels[2], h, w)``."""
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pooling and the FC layers; ``pre_logits``: stop before the last."""
        return self.head[:-1](x) if pre_logits else self.head(x)


@register_model
def plain_cnn(
    *,
    num_classes: int = 2,
    in_channels: int = 3,
    weights: Weights = None,
    channels: Sequence[int] = (384, 768, 1536),
    hidden: int = 1024,
) -> PlainCNN:
    """The G-CNN's plain twin ([`PlainCNN`][histomammo.models.equivariant_baseline.PlainCNN]).

    ``weights``: read by [`load_weights`][histomammo.models._weights.load_weights].

    Examples
    --------
    >>> from histomammo.models import create_model
    >>> create_model("plain_cnn", channels=(2, 2, 2), hidden=4).head[-1].out_features
    2
    """
    return load_weights(PlainCNN(in_channels, num_classes, channels, hidden), weights)

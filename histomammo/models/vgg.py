"""Shen et al.'s VGG16 patch classifier: five VGG blocks, global average pooling, one FC.

"To be consistent with the Resnet50, we replaced the two FC layers with a global average
pooling layer [...]. This output is then connected to the classification output with a FC
layer." The convolutional part has torchvision's ``vgg16().features`` layout (same indices),
so a torchvision ImageNet state dict loads into it.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from histomammo.models._pretrained import load_user_weights
from histomammo.models._registry import register_model

__all__ = ["VGG16GAP", "vgg16_gap"]

# VGG16 (configuration "D"): filters per convolution, "M" for 2x2 max pooling.
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

# Shen et al.'s "top 11 layers" of Keras's VGG16 with its GAP and dense head, counted from the
# output: dense, global_average_pooling, block5_pool, block5_conv3..1, block4_pool,
# block4_conv3..1, block3_pool. The ones with weights: the six convolutions of blocks 4 and 5
# (features.17/19/21 and 24/26/28 here) and fc.
_SHEN_TOP_11 = ("features.17", "features.19", "features.21",
                "features.24", "features.26", "features.28", "fc")


def _vgg_features(in_channels: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = in_channels
    for item in _VGG16:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    return nn.Sequential(*layers)


class VGG16GAP(nn.Module):
    """VGG16's 13 convolutions, global average pooling and a linear classifier.

    Parameters
    ----------
    num_classes : int
        Outputs (5 patch classes in Shen et al.).
    in_channels : int
        Input channels (1 for mammograms).

    Shapes
    ------
    input ``(N, in_channels, H, W)``; :meth:`forward_features` ``(N, 512, H/32, W/32)``;
    output ``(N, num_classes)`` logits.
    """

    feature_channels = 512
    #: Module prefixes matching Shen et al.'s "top 11 layers" (see the module source).
    shen_top_prefixes = _SHEN_TOP_11

    def __init__(self, num_classes: int = 5, in_channels: int = 1) -> None:
        super().__init__()
        self.features = _vgg_features(in_channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.feature_channels, num_classes)
        for module in self.features:
            if isinstance(module, nn.Conv2d):  # torchvision's VGG initialisation
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        self.in_channels = in_channels

    def conv_body(self) -> nn.Sequential:
        """The convolutional part (``features``)."""
        return self.features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map ``(N, 512, h, w)`` before global average pooling."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


@register_model
def vgg16_gap(
    num_classes: int = 5,
    in_channels: int = 1,
    weights: str | os.PathLike[str] | None = None,
) -> VGG16GAP:
    """Shen et al.'s VGG16 patch classifier (14,716,101 parameters for 5 classes, grey).

    Parameters
    ----------
    num_classes : int
        Patch classes (5).
    in_channels : int
        1 for mammograms.
    weights : str or path, optional
        This model's own state dict, or torchvision's ``vgg16`` ImageNet state dict saved
        by the user (stem kernels summed over RGB; the FC layers, absent here, are ignored).

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = vgg16_gap()
    >>> sum(p.numel() for p in model.parameters())
    14716101
    """
    model = VGG16GAP(num_classes, in_channels)
    if weights is not None:
        load_user_weights(model, weights, stem="features.0.weight", head=("fc", "classifier"))
    return model

"""Shen et al.'s VGG16 patch classifier: five VGG blocks, global average pooling, one FC.

"To be consistent with the Resnet50, we replaced the two FC layers with a global average
pooling layer [...]. This output is then connected to the classification output with a FC
layer." The convolutional part has torchvision's ``vgg16().features`` layout (same indices),
so a torchvision ImageNet state dict loads into it.
"""

from __future__ import annotations

import torch
from torch import nn

from histomammo.models._classifier import ClassifierMixin, conv_out_channels
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["VGG16GAP", "vgg16_gap"]

# VGG16 (configuration "D"): filters per convolution, "M" for 2x2 max pooling.
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

# Shen et al.'s "top 11 layers" of Keras's VGG16 with its GAP and dense head, counted from the
# output: dense, global_average_pooling, block5_pool, block5_conv3..1, block4_pool,
# block4_conv3..1, block3_pool. The ones with weights: the six convolutions of blocks 4 and 5
# (features.17/19/21 and 24/26/28 here) and fc.
_SHEN_TOP_11 = ("features.17", "features.19", "features.21",
                "features.24", "features.26", "features.28", "fc")


def _vgg_features(in_channels: int, width: float = 1.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = in_channels
    for item in _VGG16:
        if isinstance(item, str):  # "M"
            layers.append(nn.MaxPool2d(2, 2))
        else:
            filters = max(1, int(round(item * width)))
            layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(inplace=True)]
            channels = filters
    return nn.Sequential(*layers)


class VGG16GAP(ClassifierMixin, nn.Module):
    """VGG16's 13 convolutions, global average pooling and a linear classifier.

    Parameters
    ----------
    num_classes : int
        Outputs (5 patch classes in Shen et al.).
    in_channels : int
        Input channels (1 for mammograms).
    width : float
        Multiplier of every convolution's filter count (1.0: VGG16; smaller values give the
        same architecture at a size that trains in seconds on a CPU).

    Notes
    -----
    input ``(N, in_channels, H, W)``;
    [`forward_features`][histomammo.models.vgg.VGG16GAP.forward_features] ``(N, 512, H/32, W/32)``;
    ``forward_head(x, pre_logits=True)`` the pooled ``(N, 512)``; output ``(N, num_classes)``
    logits.
    """

    classifier_name = "fc"

    #: Module prefixes matching Shen et al.'s "top 11 layers" (see the module source).
    shen_top_prefixes = _SHEN_TOP_11

    def __init__(self, num_classes: int = 5, in_channels: int = 1, width: float = 1.0) -> None:
        super().__init__()
        self.features = _vgg_features(in_channels, width)
        self.feature_channels = conv_out_channels(self.features[28])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.feature_channels, num_classes)
        for module in self.features:
            if isinstance(module, nn.Conv2d):  # torchvision's VGG initialisation
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        self.in_channels = in_channels

    def conv_body(self) -> nn.Sequential:
        """The convolutional part (``features``)."""
        return self.features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map ``(N, 512, h, w)`` before global average pooling."""
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pooling, then ``fc`` unless ``pre_logits``."""
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)


@register_model
def vgg16_gap(
    *,
    num_classes: int = 5,
    in_channels: int = 1,
    weights: Weights = None,
    width: float = 1.0,
) -> VGG16GAP:
    """Shen et al.'s VGG16 patch classifier (14,716,101 parameters for 5 classes, grey).

    Parameters
    ----------
    num_classes : int
        Patch classes (5).
    in_channels : int
        1 for mammograms.
    weights : str, path or state dict, optional
        This model's own state dict or Trainer checkpoint, or torchvision's ``vgg16`` ImageNet
        state dict saved by the user (stem kernels summed over RGB; the FC layers, absent
        here, are ignored); read by [`load_weights`][histomammo.models._weights.load_weights].
    width : float
        Filter-count multiplier (1.0: VGG16; see [`VGG16GAP`][histomammo.models.VGG16GAP]).

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = vgg16_gap()
    >>> sum(p.numel() for p in model.parameters())
    14716101
    """
    model = VGG16GAP(num_classes, in_channels, width)
    return load_weights(model, weights, stem="features.0.weight", head=("fc", "classifier"))

"""The seed's All-CNN (section 3.2.7.1): Springenberg et al.'s Large All-CNN for 96x96 patches.

Fifteen 2x2 convolutions in five stages of three (the third of each with stride 2 in place of
pooling), widths 320/640/960/1280/1600, then a 1x1 convolution to 1920 maps and a 1x1
convolution to the logits, LeakyReLU after every convolution but the last, the listed dropouts,
Glorot (Xavier-uniform) initialisation of the weights, and a global mean over space.
64,536,002 parameters for 3 input channels and 2 classes.

The seed zeroed the biases as the Caffe model did, and its network returned 0.5/0.5 for every
input (its section 3.3.3.1); here the biases keep PyTorch's default initialisation. The seed
also put a LeakyReLU and a softmax after the logits and trained with ``CrossEntropyLoss``,
which applies log-softmax itself (a double softmax, and a LeakyReLU that damps negative
logits): here the last convolution *is* the logits, and the model returns them raw, for
``CrossEntropyLoss``; take ``softmax`` yourself for probabilities.

References
----------
.. [1] J. T. Springenberg, A. Dosovitskiy, T. Brox and M. Riedmiller, "Striving for Simplicity:
   The All Convolutional Net", ICLR workshop 2015, appendix A (Large All-CNN for CIFAR-10).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from histomammo.models._classifier import ClassifierMixin
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["ALL_CNN_WIDTHS", "ALL_CNN_LAYERS", "AllConvNet", "all_conv_net"]

#: Widths of the five 2x2 stages and of the 1x1 convolution (section 3.2.7.1).
ALL_CNN_WIDTHS = (320, 640, 960, 1280, 1600, 1920)

#: The layers in order: ("conv", kernel, stride, width index or "classes") and ("dropout", p).
ALL_CNN_LAYERS: tuple[tuple[Any, ...], ...] = (
    ("conv", 2, 1, 0), ("conv", 2, 1, 0), ("conv", 2, 2, 0), ("dropout", 0.1),
    ("conv", 2, 1, 1), ("dropout", 0.1), ("conv", 2, 1, 1), ("conv", 2, 2, 1), ("dropout", 0.2),
    ("conv", 2, 1, 2), ("dropout", 0.2), ("conv", 2, 1, 2), ("conv", 2, 2, 2), ("dropout", 0.3),
    ("conv", 2, 1, 3), ("dropout", 0.3), ("conv", 2, 1, 3), ("conv", 2, 2, 3), ("dropout", 0.4),
    ("conv", 2, 1, 4), ("dropout", 0.4), ("conv", 2, 1, 4), ("conv", 2, 2, 4), ("dropout", 0.5),
    ("conv", 1, 1, 5), ("dropout", 0.5), ("conv", 1, 1, "classes"),
)


class AllConvNet(ClassifierMixin, nn.Module):
    """The All-CNN of section 3.2.7.1, returning raw logits (no softmax).

    Parameters
    ----------
    in_channels : int
        Input channels (3 for RGB patches).
    num_classes : int
        Logits per patch; 2 for PCam (normal 0, tumour 1).
    widths : sequence of 6 int
        [`ALL_CNN_WIDTHS`][histomammo.models.allconv.ALL_CNN_WIDTHS] by default; smaller for quick
        experiments.

    Notes
    -----
    ``self.layers`` holds one module per line of the seed's listing: each convolution with its
    LeakyReLU as one ``nn.Sequential`` block (the last convolution alone), each dropout as
    itself. A 96x96 input gives 95, 94, 47, 46, 45, 22, 21, 20, 10, 9, 8, 4, 3, 2, 1 pixels.
    [`forward_features`][histomammo.models.allconv.AllConvNet.forward_features] gives the 1920 maps
    before the last (classifier) convolution;
    ``forward_head(x, pre_logits=True)`` their spatial mean ``(N, 1920)``.

    Examples
    --------
    >>> import torch
    >>> model = AllConvNet(widths=(2, 2, 2, 2, 2, 2)).eval()
    >>> model(torch.zeros(1, 3, 96, 96)).shape
    torch.Size([1, 2])
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 2, widths: Sequence[int] = ALL_CNN_WIDTHS
    ) -> None:
        super().__init__()
        if len(widths) != 6:
            raise ValueError(f"widths must give 6 widths, but got {tuple(widths)}")
        layers: list[nn.Module] = []
        previous = in_channels
        for kind, *args in ALL_CNN_LAYERS:
            if kind == "dropout":
                layers.append(nn.Dropout(args[0]))
                continue
            kernel, stride, width = args
            out = num_classes if width == "classes" else widths[width]
            conv = nn.Conv2d(previous, out, kernel, stride=stride)
            nn.init.xavier_uniform_(conv.weight)  # Glorot, as the Caffe model; biases kept
            layers.append(conv if width == "classes" else nn.Sequential(conv, nn.LeakyReLU()))
            previous = out
        self.layers = nn.Sequential(*layers)

    @property
    def classifier_name(self) -> str:  # the last 1x1 convolution, to the logits
        return f"layers.{len(self.layers) - 1}"

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The maps before the last 1x1 convolution ``(N, 1920, h, w)``."""
        return self.layers[:-1](x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The 1x1 convolution to the logits, then the seed's Reshape + ReduceMean (global
        average pooling); ``pre_logits``: the pooled features."""
        if pre_logits:
            return x.mean(dim=(2, 3))
        return self.layers[-1](x).mean(dim=(2, 3))


@register_model
def all_conv_net(
    *,
    num_classes: int = 2,
    in_channels: int = 3,
    weights: Weights = None,
    widths: Sequence[int] = ALL_CNN_WIDTHS,
) -> AllConvNet:
    """The seed's All-CNN ([`AllConvNet`][histomammo.models.allconv.AllConvNet]).

    Parameters
    ----------
    num_classes, in_channels : int
        2 and 3 for PCam.
    weights : str, path or state dict, optional
        Read by [`load_weights`][histomammo.models._weights.load_weights].
    widths : sequence of 6 int
        [`ALL_CNN_WIDTHS`][histomammo.models.allconv.ALL_CNN_WIDTHS] by default.

    Examples
    --------
    >>> from histomammo.models import create_model
    >>> create_model("all_conv_net", widths=(1, 1, 1, 1, 1, 1)).layers[-1].out_channels
    2
    """
    return load_weights(AllConvNet(in_channels, num_classes, widths), weights)

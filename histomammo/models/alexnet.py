"""Greyscale AlexNet exactly as the whole-mammogram thesis built it (appendix A).

Layer by layer (224x224 input; 512x416 for ``alexnet_large``):

```text
pad 2            228x228x1     (516x420)
conv1 11x11/4    55x55x96      (127x103)   96 filters, ReLU
pool1 3x3/2      27x27x96      (63x51)
lrn1 (size 5)
pad 2            31x31x96      (67x55)
conv2 5x5        27x27x256     (63x51)     split in two: groups=2, 2 x 128 filters
pool2 3x3/2      13x13x256     (31x25)
lrn2 (size 5)
pad 1            15x15x256     (33x27)
conv3 3x3        13x13x384     (31x25)     not split
pad 1            15x15x384     (33x27)
conv4 3x3        13x13x384     (31x25)     groups=2, 2 x 192
pad 1            15x15x384     (33x27)
conv5 5x5        11x11x256     (29x23)     groups=2, 2 x 128 (5x5 kernels, as appendix A)
pool5 3x3/2      5x5x256       (14x11)
fc1 6400 -> 4096 (39424 -> 4096), ReLU, dropout 0.5
fc2 4096 -> 4096, ReLU, dropout 0.5
fc  4096 -> 2
```

Trainable parameters: 46,105,282 (224x224) and 181,371,586 (512x416), table 6.1.

The thesis's "split layer" sends half of the channels to each of two convolutions and
concatenates their outputs; ``groups=2`` is the same computation with the same parameters.
The model returns logits: the thesis's final softmax ``Activation`` is applied by the loss
(`torch.nn.CrossEntropyLoss`) or by the caller at evaluation.

Initialisation: the thesis says only that the weights "have been randomly initialized" and
takes its SGD learning rate of 0.01 from He et al. (the ResNet paper, whose networks are
initialised as He et al. 2015 prescribe for ReLU networks). Here every convolution and
linear layer is initialised that way by default (``init="he"``: normal with variance
2 / fan_in, zero biases), as the Keras ResNet-50 sample the thesis used does
(``he_normal``). PyTorch's default (``init="torch"``, uniform with variance 1 / (3 fan_in))
and Keras's ``glorot_uniform`` shrink the signal through AlexNet's eight layers and three
poolings so much (logit standard deviation 0.006 at initialisation for the small
configuration of the tests, against 0.3 with ``"he"``) that plain SGD at 0.01 sits at chance
for hundreds of steps on the CC-vs-MLO check that the thesis passes within one epoch.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from histomammo.models._classifier import ClassifierMixin, conv_out_channels
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["GreyAlexNet", "alexnet_grey", "alexnet_large", "conv_output_size"]


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling along one axis (no dilation, floor mode).

    Examples
    --------
    >>> conv_output_size(228, 11, 4)
    55
    """
    return (size + 2 * padding - kernel) // stride + 1


def _lrn() -> nn.LocalResponseNorm:
    # Krizhevsky et al.: b = a / (k + alpha * sum a^2)^beta with n=5, k=2, alpha=1e-4,
    # beta=0.75. PyTorch divides alpha by n, so alpha is given as n * 1e-4.
    return nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)


def _scaled(channels: int, width: float) -> int:
    """``channels * width`` rounded to an even number (the split convolutions halve it)."""
    return max(2, int(round(channels * width / 2)) * 2)


def _features(in_channels: int, width: float = 1.0) -> nn.Sequential:
    c1, c2, c3, c5 = (_scaled(c, width) for c in (96, 256, 384, 256))

    def conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
        return nn.Conv2d(cin, cout, k, stride=stride, groups=groups)

    layers = [
        ("pad1", nn.ZeroPad2d(2)), ("conv1", conv(in_channels, c1, 11, stride=4)),
        ("relu1", nn.ReLU(inplace=True)), ("pool1", nn.MaxPool2d(3, 2)), ("lrn1", _lrn()),
        ("pad2", nn.ZeroPad2d(2)), ("conv2", conv(c1, c2, 5, groups=2)),
        ("relu2", nn.ReLU(inplace=True)), ("pool2", nn.MaxPool2d(3, 2)), ("lrn2", _lrn()),
        ("pad3", nn.ZeroPad2d(1)), ("conv3", conv(c2, c3, 3)), ("relu3", nn.ReLU(inplace=True)),
        ("pad4", nn.ZeroPad2d(1)), ("conv4", conv(c3, c3, 3, groups=2)),
        ("relu4", nn.ReLU(inplace=True)),
        ("pad5", nn.ZeroPad2d(1)), ("conv5", conv(c3, c5, 5, groups=2)),
        ("relu5", nn.ReLU(inplace=True)), ("pool5", nn.MaxPool2d(3, 2)),
    ]
    return nn.Sequential(OrderedDict(layers))


def _feature_size(input_size: tuple[int, int]) -> tuple[int, int]:
    """Spatial size after ``pool5`` for an ``(H, W)`` input, following the layers above."""
    out = []
    for size in input_size:
        size = conv_output_size(size + 4, 11, 4)  # pad 2, conv1
        size = conv_output_size(size, 3, 2)  # pool1
        size = conv_output_size(size + 4, 5)  # pad 2, conv2
        size = conv_output_size(size, 3, 2)  # pool2
        size = conv_output_size(size + 2, 3)  # pad 1, conv3
        size = conv_output_size(size + 2, 3)  # pad 1, conv4
        size = conv_output_size(size + 2, 5)  # pad 1, conv5
        out.append(conv_output_size(size, 3, 2))  # pool5
    return out[0], out[1]


class GreyAlexNet(ClassifierMixin, nn.Module):
    """AlexNet with one input channel and a fixed input size (thesis appendix A).

    Parameters
    ----------
    num_classes : int
        Outputs (2 in the thesis).
    input_size : tuple of int
        ``(H, W)`` of the input; fixes the size of the first fully connected layer.
    in_channels : int
        1 for mammograms.
    dropout : float
        Dropout probability before ``fc2`` and ``fc`` (0.5, Krizhevsky et al.).
    width : float
        Multiplier of every convolution's filter count (1.0: the thesis's network; smaller
        values give the same architecture at a size that trains in seconds on a CPU).
    fc_size : int
        Width of ``fc1`` and ``fc2`` (4096 in the thesis).
    init : {"he", "torch"}
        ``"he"``: He et al.'s normal initialisation (variance 2 / fan_in) with zero biases,
        the default (see the module notes); ``"torch"``: PyTorch's default.

    Attributes
    ----------
    features : nn.Sequential
        The convolutional part, with named layers ``conv1`` ... ``pool5``.
    classifier : nn.Sequential
        ``flatten``, ``fc1``, ``relu6``, ``drop6``, ``fc2``, ``relu7``, ``drop7``, ``fc``.

    Notes
    -----
    input ``(N, in_channels, H, W)`` float;
    [`forward_features`][histomammo.models.alexnet.GreyAlexNet.forward_features] ``(N, 256, h, w)``
    (the
    ``pool5`` map, 5x5 at 224x224); ``forward_head(x, pre_logits=True)`` the ``fc2``
    activations ``(N, fc_size)``; output ``(N, num_classes)`` logits.
    """

    classifier_name = "classifier.fc"

    def __init__(
        self,
        num_classes: int = 2,
        input_size: tuple[int, int] = (224, 224),
        in_channels: int = 1,
        dropout: float = 0.5,
        width: float = 1.0,
        fc_size: int = 4096,
        init: str = "he",
    ) -> None:
        super().__init__()
        if init not in ("he", "torch"):
            raise ValueError(f"init must be 'he' or 'torch', got {init!r}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        rows, cols = _feature_size(self.input_size)
        if rows < 1 or cols < 1:
            raise ValueError(f"input_size {tuple(input_size)} is too small for AlexNet")
        self.features = _features(in_channels, width)
        flat = conv_out_channels(self.features.get_submodule("conv5")) * rows * cols
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(flat, fc_size)), ("relu6", nn.ReLU(inplace=True)),
            ("drop6", nn.Dropout(dropout)),
            ("fc2", nn.Linear(fc_size, fc_size)), ("relu7", nn.ReLU(inplace=True)),
            ("drop7", nn.Dropout(dropout)),
            ("fc", nn.Linear(fc_size, num_classes)),
        ]))
        if init == "he":
            _init_he(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The ``pool5`` feature map ``(N, C, h, w)``."""
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(
                f"GreyAlexNet was built for inputs of size {self.input_size}; got "
                f"{tuple(x.shape[-2:])} (its first fully connected layer fixes the size)"
            )
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``fc1`` ... ``fc`` on the ``pool5`` map; ``pre_logits``: stop before ``fc``."""
        return self.classifier[:-1](x) if pre_logits else self.classifier(x)


def _init_he(model: nn.Module) -> None:
    """He et al.'s initialisation for ReLU networks: N(0, 2 / fan_in) weights, zero biases."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def _create_alexnet(weights: Weights, **kwargs: Any) -> GreyAlexNet:
    return load_weights(GreyAlexNet(**kwargs), weights)


@register_model
def alexnet_grey(
    *,
    num_classes: int = 2,
    in_channels: int = 1,
    weights: Weights = None,
    input_size: tuple[int, int] = (224, 224),
    dropout: float = 0.5,
    width: float = 1.0,
    fc_size: int = 4096,
    init: str = "he",
) -> GreyAlexNet:
    """The thesis's ``alexnet``: 224x224 greyscale crops, 46,105,282 parameters.

    Parameters
    ----------
    num_classes : int
        Outputs (2).
    in_channels : int
        1 for mammograms.
    weights : str, path or state dict, optional
        This model's own state dict or a Trainer checkpoint
        ([`load_weights`][histomammo.models._weights.load_weights]).
    input_size : tuple of int
        ``(H, W)``.
    dropout, width, fc_size, init
        As [`GreyAlexNet`][histomammo.models.alexnet.GreyAlexNet] (the thesis: 0.5, 1.0, 4096,
        He initialisation).

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = alexnet_grey()
    >>> sum(p.numel() for p in model.parameters())
    46105282
    """
    return _create_alexnet(weights, num_classes=num_classes, input_size=input_size,
                           in_channels=in_channels, dropout=dropout, width=width,
                           fc_size=fc_size, init=init)


@register_model
def alexnet_large(
    *,
    num_classes: int = 2,
    in_channels: int = 1,
    weights: Weights = None,
    input_size: tuple[int, int] = (512, 416),
    dropout: float = 0.5,
    width: float = 1.0,
    fc_size: int = 4096,
    init: str = "he",
) -> GreyAlexNet:
    """The thesis's ``alexnet_large``: 512x416 resized mammograms, 181,371,586 parameters.

    Parameters as [`alexnet_grey`][histomammo.models.alexnet.alexnet_grey].

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = alexnet_large()
    >>> sum(p.numel() for p in model.parameters())
    181371586
    """
    return _create_alexnet(weights, num_classes=num_classes, input_size=input_size,
                           in_channels=in_channels, dropout=dropout, width=width,
                           fc_size=fc_size, init=init)

"""Greyscale AlexNet exactly as the whole-mammogram thesis built it (appendix A).

Layer by layer (224x224 input; 512x416 for ``alexnet_large``)::

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

Trainable parameters: 46,105,282 (224x224) and 181,371,586 (512x416), table 6.1.

The thesis's "split layer" sends half of the channels to each of two convolutions and
concatenates their outputs; ``groups=2`` is the same computation with the same parameters.
The model returns logits: the thesis's final softmax ``Activation`` is applied by the loss
(:class:`torch.nn.CrossEntropyLoss`) or by the caller at evaluation.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from histomammo.models._pretrained import load_user_weights
from histomammo.models._registry import register_model

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


def _features(in_channels: int) -> nn.Sequential:
    def conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
        return nn.Conv2d(cin, cout, k, stride=stride, groups=groups)

    layers = [
        ("pad1", nn.ZeroPad2d(2)), ("conv1", conv(in_channels, 96, 11, stride=4)),
        ("relu1", nn.ReLU(inplace=True)), ("pool1", nn.MaxPool2d(3, 2)), ("lrn1", _lrn()),
        ("pad2", nn.ZeroPad2d(2)), ("conv2", conv(96, 256, 5, groups=2)),
        ("relu2", nn.ReLU(inplace=True)), ("pool2", nn.MaxPool2d(3, 2)), ("lrn2", _lrn()),
        ("pad3", nn.ZeroPad2d(1)), ("conv3", conv(256, 384, 3)), ("relu3", nn.ReLU(inplace=True)),
        ("pad4", nn.ZeroPad2d(1)), ("conv4", conv(384, 384, 3, groups=2)),
        ("relu4", nn.ReLU(inplace=True)),
        ("pad5", nn.ZeroPad2d(1)), ("conv5", conv(384, 256, 5, groups=2)),
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


class GreyAlexNet(nn.Module):
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

    Attributes
    ----------
    features : nn.Sequential
        The convolutional part, with named layers ``conv1`` ... ``pool5``.
    classifier : nn.Sequential
        ``flatten``, ``fc1``, ``relu6``, ``drop6``, ``fc2``, ``relu7``, ``drop7``, ``fc``.

    Shapes
    ------
    input ``(N, in_channels, H, W)`` float; output ``(N, num_classes)`` logits.
    """

    def __init__(
        self,
        num_classes: int = 2,
        input_size: tuple[int, int] = (224, 224),
        in_channels: int = 1,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        height, width = _feature_size(tuple(input_size))
        if height < 1 or width < 1:
            raise ValueError(f"input_size {tuple(input_size)} is too small for AlexNet")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.features = _features(in_channels)
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(256 * height * width, 4096)), ("relu6", nn.ReLU(inplace=True)),
            ("drop6", nn.Dropout(dropout)),
            ("fc2", nn.Linear(4096, 4096)), ("relu7", nn.ReLU(inplace=True)),
            ("drop7", nn.Dropout(dropout)),
            ("fc", nn.Linear(4096, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            raise ValueError(
                f"GreyAlexNet was built for inputs of size {self.input_size}; got "
                f"{tuple(x.shape[-2:])} (its first fully connected layer fixes the size)"
            )
        return self.classifier(self.features(x))


def _create_alexnet(
    num_classes: int, input_size: tuple[int, int], weights: str | None, **kwargs: object
) -> GreyAlexNet:
    model = GreyAlexNet(num_classes=num_classes, input_size=input_size, **kwargs)
    if weights is not None:
        load_user_weights(model, weights)
    return model


@register_model
def alexnet_grey(
    num_classes: int = 2,
    input_size: tuple[int, int] = (224, 224),
    weights: str | None = None,
    **kwargs: object,
) -> GreyAlexNet:
    """The thesis's ``alexnet``: 224x224 greyscale crops, 46,105,282 parameters.

    Parameters
    ----------
    num_classes : int
        Outputs (2).
    input_size : tuple of int
        ``(H, W)``.
    weights : str or path, optional
        A state dict saved from this model (``torch.load(..., weights_only=True)``).

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = alexnet_grey()
    >>> sum(p.numel() for p in model.parameters())
    46105282
    """
    return _create_alexnet(num_classes, input_size, weights, **kwargs)


@register_model
def alexnet_large(
    num_classes: int = 2,
    input_size: tuple[int, int] = (512, 416),
    weights: str | None = None,
    **kwargs: object,
) -> GreyAlexNet:
    """The thesis's ``alexnet_large``: 512x416 resized mammograms, 181,371,586 parameters.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = alexnet_large()
    >>> sum(p.numel() for p in model.parameters())
    181371586
    """
    return _create_alexnet(num_classes, input_size, weights, **kwargs)

"""ResNet-50 with a greyscale stem: the thesis's Keras network and Shen et al.'s patch model.

Keras's ResNet-50 (the thesis, appendix A; Shen et al.) puts the stride 2 of each
downsampling unit on its first 1x1 convolution (``res3a_branch2a ... Stride (2, 2)``);
torchvision puts it on the 3x3. ``stride_in_1x1=True`` (the default) builds the Keras
network, ``False`` torchvision's; both have the same parameters and output shapes.

Parameter count: table 6.1 lists 23,532,418 trainable parameters for the Keras model, whose
53 convolutions carry biases (26,560 of them: one per output channel). Here, as in
torchvision, a convolution followed by batch normalisation has no bias (the normalisation's
shift makes it redundant), so the 2-way greyscale model has exactly 23,505,858.
BatchNorm uses PyTorch's defaults (eps 1e-5, momentum 0.1) rather than Keras's (1.001e-5,
0.99 = PyTorch 0.01); neither seed discusses them.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from histomammo.models._classifier import ClassifierMixin
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["GreyResNet", "resnet50_grey", "resnet50_patch", "KERAS_CONV_BIASES"]

#: Biases of the 53 convolutions of Keras's ResNet-50 that this model does not have.
KERAS_CONV_BIASES = 26_560

# Shen et al.'s "top 46 layers" of Keras's ResNet-50 (with its GAP and dense head), counted
# from the output: dense, avg_pool, the 32 layers of res5a-res5c, the 10 of res4f (conv, bn,
# activation x3, add, activation), and the add + activation of res4e, which own no
# weights. The layers with weights are therefore torchvision's layer3[5] (res4f), layer4
# (res5) and fc.
_SHEN_TOP_46 = ("layer3.5", "layer4", "fc")


def _move_stride_to_1x1(model: ResNet) -> None:
    """Keras's placement: the 1x1 ``conv1`` of a downsampling unit strides, the 3x3 does not."""
    for layer in (model.layer2, model.layer3, model.layer4):
        first = layer[0]
        stride = first.conv2.stride
        first.conv1.stride, first.conv2.stride = stride, (1, 1)


class GreyResNet(ClassifierMixin, ResNet):
    """ResNet-50 (bottleneck units ``[3, 4, 6, 3]``) with ``in_channels`` input channels.

    Module names are torchvision's (``conv1``, ``bn1``, ``layer1`` ... ``layer4``, ``fc``), so
    a torchvision ImageNet state dict loads into it (the RGB stem summed for one channel).

    Parameters
    ----------
    num_classes : int
        Outputs of ``fc``.
    in_channels : int
        Input channels (1 for mammograms).
    stride_in_1x1 : bool
        Keras's stride placement (see the module docstring).

    Notes
    -----
    input ``(N, in_channels, H, W)``;
    [`forward_features`][histomammo.models.resnet.GreyResNet.forward_features] ``(N, 2048, H/32,
    W/32)``;
    ``forward_head(x, pre_logits=True)`` the pooled ``(N, 2048)``; output ``(N, num_classes)``
    logits. Any input size works (global average pooling).
    """

    classifier_name = "fc"

    feature_channels = 2048
    #: Module prefixes matching Shen et al.'s "top 46 layers" (see the module source).
    shen_top_prefixes = _SHEN_TOP_46

    def __init__(self, num_classes: int = 2, in_channels: int = 1,
                 stride_in_1x1: bool = True) -> None:
        super().__init__(Bottleneck, [3, 4, 6, 3], num_classes=num_classes)
        if in_channels != 3:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
            nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        if stride_in_1x1:
            _move_stride_to_1x1(self)
        self.in_channels = in_channels
        self.stride_in_1x1 = stride_in_1x1

    def conv_body(self) -> nn.Sequential:
        """The convolutional part, stem to ``layer4``, sharing this model's modules."""
        return nn.Sequential(self.conv1, self.bn1, self.relu, self.maxpool,
                             self.layer1, self.layer2, self.layer3, self.layer4)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map ``(N, 2048, h, w)`` before global average pooling."""
        return self.conv_body()(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pooling, then ``fc`` unless ``pre_logits``."""
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.fc(x)


def _create_resnet50(num_classes: int, in_channels: int, stride_in_1x1: bool,
                     weights: Weights) -> GreyResNet:
    model = GreyResNet(num_classes, in_channels, stride_in_1x1)
    return load_weights(model, weights, stem="conv1.weight", head=("fc",))


@register_model
def resnet50_grey(
    *,
    num_classes: int = 2,
    in_channels: int = 1,
    weights: Weights = None,
    stride_in_1x1: bool = True,
) -> GreyResNet:
    """The thesis's ``resnet`` / ``reduced_resnet``: 23,505,858 parameters (see module).

    Parameters
    ----------
    num_classes : int
        2 in the thesis.
    in_channels : int
        1 for mammograms.
    weights : str, path or state dict, optional
        A user's file ([`load_weights`][histomammo.models._weights.load_weights]): this
        model's own state dict or Trainer checkpoint, or RGB ImageNet weights (e.g.
        torchvision's ``resnet50`` saved with ``torch.save(m.state_dict(), path)``), whose
        stem kernels are summed over RGB and whose 1000-way ``fc`` is not loaded.
    stride_in_1x1 : bool
        ``True``: Keras's network (the thesis's); ``False``: torchvision's.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = resnet50_grey()
    >>> sum(p.numel() for p in model.parameters()), sum(p.numel() for p in model.parameters()) + KERAS_CONV_BIASES
    (23505858, 23532418)
    """
    return _create_resnet50(num_classes, in_channels, stride_in_1x1, weights)


@register_model
def resnet50_patch(
    *,
    num_classes: int = 5,
    in_channels: int = 1,
    weights: Weights = None,
    stride_in_1x1: bool = True,
) -> GreyResNet:
    """Shen et al.'s ResNet-50 patch classifier: five patch classes, one input channel.

    Parameters as [`resnet50_grey`][histomammo.models.resnet.resnet50_grey] (the paper
    compares ImageNet-pretrained with random initialisation; ``weights=None``, the default,
    is random).

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = resnet50_patch()
    >>> model.fc.out_features, model.conv1.in_channels
    (5, 1)
    """
    return _create_resnet50(num_classes, in_channels, stride_in_1x1, weights)

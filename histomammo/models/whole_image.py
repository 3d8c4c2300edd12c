"""Shen et al.'s whole-image classifier, converted from a trained patch classifier.

The patch classifier ``f`` ([`resnet50_patch`][histomammo.models.resnet50_patch] or
[`vgg16_gap`][histomammo.models.vgg16_gap]) is cut into its convolutional body and its last
linear layer. The body runs over the whole image; optionally its linear layer becomes a
1x1 convolution with a ReLU, the *heatmap* (the patch classifier's class scores at every
location of the feature map: since average pooling and a linear map commute, the heatmap
averaged over a patch-sized image is the patch classifier's logit vector); two new top
blocks, global average pooling and a linear layer give the image's label. ``head="fc"``
builds the paper's other design: heatmap, max pooling, flattening, FC layers, with a
shortcut from the (globally averaged) heatmap to the output.

References
----------
Shen L. et al. (2019), "Deep Learning to Improve Breast Cancer Detection on Screening
Mammography", Scientific Reports 9:12495 (``seeds/patch_to_whole_image_classifier.txt``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Protocol, TypeGuard

import torch
from torch import nn

from histomammo.models._classifier import ClassifierMixin, new_classifier, sequential
from histomammo.models._registry import create_model, register_model
from histomammo.models._weights import Weights, load_weights

__all__ = ["PatchToImageClassifier", "patch_to_image", "vgg_block", "resnet_block"]

# The seed text gives the block patterns only symbolically (VGG "N x K", ResNet
# "[L-M-N] x K"). Defaults: the top layers of the authors' best published models (the table
# of best whole-image models in their companion repository, lishen/end2end-all-conv,
# README: DDSM, two blocks each): ResNet [512-512-1024] x 2 (ResNet-50 patch classifier,
# AUC 0.86; also the best with VGG16, 0.85) and VGG 512 x 1 (VGG16, 0.83). An earlier
# version of this module defaulted to [512-512-2048] x 1 and 512 x 3, which match neither.
_DEFAULT_TOP = {
    "resnet": (((512, 512, 1024), 2), ((512, 512, 1024), 2)),
    "vgg": ((512, 1), (512, 1)),
}


def vgg_block(in_channels: int, depth: int, n_convs: int) -> nn.Sequential:
    """A VGG block ``depth x n_convs``: 3x3 convolutions + BN + ReLU, then 2x2 max pooling.

    (Shen et al.: "a stack of several 3x3 convolutional layers with the same depth followed
    by a 2x2 max pooling layer". The seed does not say whether the new VGG blocks use batch
    normalisation; here they do, like the ResNet blocks, because new randomly initialised
    blocks on top of a trained body train markedly more stably with it.)
    """
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else depth, depth, 3, padding=1, bias=False),
                   nn.BatchNorm2d(depth), nn.ReLU(inplace=True)]
    layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class _BottleneckUnit(nn.Module):
    """1x1 (L) -> 3x3 (M) -> 1x1 (N) with BN, a shortcut, stride on the first 1x1 (Keras)."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int], stride: int) -> None:
        super().__init__()
        first, middle, out = widths
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, first, 1, stride=stride, bias=False), nn.BatchNorm2d(first),
            nn.ReLU(inplace=True),
            nn.Conv2d(first, middle, 3, padding=1, bias=False), nn.BatchNorm2d(middle),
            nn.ReLU(inplace=True),
            nn.Conv2d(middle, out, 1, bias=False), nn.BatchNorm2d(out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def resnet_block(in_channels: int, widths: Sequence[int], n_units: int) -> nn.Sequential:
    """A ResNet block ``[L-M-N] x K``: ``K`` bottleneck units, the first with stride 2."""
    widths = tuple(int(w) for w in widths)
    if len(widths) != 3:
        raise ValueError(f"a ResNet block pattern is [L, M, N]; got {list(widths)}")
    units = [_BottleneckUnit(in_channels if i == 0 else widths[2], widths, 2 if i == 0 else 1)
             for i in range(n_units)]
    return nn.Sequential(*units)


def _top_blocks(top: str, blocks: Sequence[tuple[Any, int]], in_channels: int) -> tuple[nn.Sequential, int]:
    modules = []
    channels = in_channels
    for pattern, count in blocks:
        if top == "resnet":
            modules.append(resnet_block(channels, pattern, int(count)))
            channels = int(pattern[-1])
        else:
            modules.append(vgg_block(channels, int(pattern), int(count)))
            channels = int(pattern)
    return nn.Sequential(*modules), channels


class PatchNet(Protocol):
    """A patch classifier a whole-image model is built from: a convolutional body and a
    linear ``fc`` on its pooled features (``resnet50_patch``, ``vgg16_gap``)."""

    fc: nn.Linear

    def conv_body(self) -> nn.Module: ...


def _is_patch_net(module: nn.Module) -> TypeGuard[PatchNet]:
    return hasattr(module, "conv_body") and isinstance(getattr(module, "fc", None), nn.Linear)


def _split_patch_net(patch_net: nn.Module) -> tuple[nn.Module, nn.Linear]:
    if not _is_patch_net(patch_net):
        raise TypeError(
            "patch_net must be a patch classifier with conv_body() and a linear fc (e.g. "
            f"resnet50_patch or vgg16_gap); got {type(patch_net).__name__}"
        )
    owned = copy.deepcopy(patch_net)  # the whole-image model owns its own copy
    return owned.conv_body(), owned.fc


class PatchToImageClassifier(ClassifierMixin, nn.Module):
    """All-convolutional whole-image classifier built from a (trained) patch classifier.

    Parameters
    ----------
    patch_net : nn.Module
        A patch classifier with ``conv_body()`` and a linear ``fc`` (``resnet50_patch``,
        ``vgg16_gap``). It is copied: its trained weights carry over tensor by tensor and the
        original is left untouched.
    top : {"resnet", "vgg"}
        Kind of the two new top blocks (``head="conv"``).
    top_blocks : sequence, optional
        ``[(pattern, K), ...]``: ResNet ``((L, M, N), K)`` or VGG ``(N, K)``; default two
        blocks (see ``_DEFAULT_TOP``).
    heatmap : bool
        Put the heatmap (patch ``fc`` as a 1x1 convolution, then ReLU) between the body and
        the top. ``head="fc"`` always uses it.
    head : {"conv", "fc"}
        ``"conv"``: top blocks, global average pooling, linear. ``"fc"``: heatmap, max
        pooling (``pool_size``), flatten, ``fc_hidden`` FC layers, output, plus a shortcut
        from the globally averaged heatmap to the output.
    num_classes : int
        Image-level classes (2: cancer or not).
    input_size : tuple of int, optional
        ``(H, W)`` of the images; required for ``head="fc"`` (it fixes the flattened size).
    pool_size, fc_hidden, shortcut : int or None, tuple of int, bool
        For ``head="fc"``: max pooling after the heatmap (``None``: none), the hidden FC
        widths, and whether the shortcut from the heatmap to the output is added.

    Attributes
    ----------
    body : nn.Module
        The patch classifier's convolutional part. ``heatmap_conv`` (when used) holds the
        patch classifier's ``fc`` weights. ``top`` holds every new layer, which the first of
        the two training stages trains alone.

    Notes
    -----
    [`forward_features`][histomammo.models.whole_image.PatchToImageClassifier.forward_features]: the
    map the global pooling sees (``head="conv"``: after the top
    blocks) or the heatmap (``head="fc"``); ``forward_head(x, pre_logits=True)``: the pooled
    features (``"conv"``) or the last hidden FC layer's output (``"fc"``, without the
    shortcut). ``reset_classifier`` replaces the output layer and, with ``head="fc"``, the
    shortcut's.

    Examples
    --------
    >>> from histomammo.models.vgg import VGG16GAP
    >>> patch = VGG16GAP(num_classes=5)
    >>> model = PatchToImageClassifier(patch, top="vgg", top_blocks=[(16, 1), (16, 1)])
    >>> model(torch.zeros(1, 1, 256, 192)).shape
    torch.Size([1, 2])
    >>> torch.equal(model.body[0].weight, patch.features[0].weight)
    True
    """

    def __init__(
        self,
        patch_net: nn.Module,
        top: str = "resnet",
        top_blocks: Sequence[tuple[Any, int]] | None = None,
        heatmap: bool = False,
        head: str = "conv",
        num_classes: int = 2,
        input_size: tuple[int, int] | None = None,
        pool_size: int | None = 2,
        fc_hidden: Sequence[int] = (64,),
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        if top not in _DEFAULT_TOP:
            raise ValueError(f"top must be 'resnet' or 'vgg'; got {top!r}")
        if head not in ("conv", "fc"):
            raise ValueError(f"head must be 'conv' or 'fc'; got {head!r}")
        self.body, patch_fc = _split_patch_net(patch_net)
        self.top_kind, self.head_kind = top, head
        self.uses_heatmap = heatmap or head == "fc"
        channels = patch_fc.in_features
        if self.uses_heatmap:
            self.heatmap_conv = nn.Conv2d(channels, patch_fc.out_features, 1,
                                          bias=patch_fc.bias is not None)
            with torch.no_grad():
                self.heatmap_conv.weight.copy_(patch_fc.weight[:, :, None, None])
                if self.heatmap_conv.bias is not None and patch_fc.bias is not None:
                    self.heatmap_conv.bias.copy_(patch_fc.bias)
            channels = patch_fc.out_features
        if head == "conv":
            blocks, channels = _top_blocks(top, top_blocks or _DEFAULT_TOP[top], channels)
            self.top = nn.ModuleDict({
                "blocks": blocks, "pool": nn.AdaptiveAvgPool2d(1), "flatten": nn.Flatten(),
                "classifier": nn.Linear(channels, num_classes),
            })
        else:
            self.top = self._fc_head(channels, num_classes, input_size, pool_size, fc_hidden,
                                     shortcut)

    def _fc_head(self, channels: int, num_classes: int, input_size: tuple[int, int] | None,
                 pool_size: int | None, fc_hidden: Sequence[int],
                 shortcut: bool) -> nn.ModuleDict:
        if input_size is None:
            raise ValueError("head='fc' flattens the heatmap: give input_size=(H, W)")
        with torch.no_grad():
            probe = next(self.body.parameters())
            zeros = torch.zeros(1, probe.shape[1], *input_size, device=probe.device,
                                dtype=probe.dtype)
            height, width = self.body(zeros).shape[-2:]
        pool = pool_size or 1
        layers: list[nn.Module] = [nn.MaxPool2d(pool) if pool_size else nn.Identity(),
                                   nn.Flatten()]
        size = channels * (height // pool) * (width // pool)
        for hidden in fc_hidden:
            layers += [nn.Linear(size, hidden), nn.ReLU(inplace=True)]
            size = hidden
        layers.append(nn.Linear(size, num_classes))
        head = nn.ModuleDict({"fc": nn.Sequential(*layers)})
        if shortcut:
            head["shortcut"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                             nn.Linear(channels, num_classes))
        return head

    def heatmap(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU heatmap ``(N, patch_classes, h, w)`` (the patch classifier at every location)."""
        if not self.uses_heatmap:
            raise RuntimeError("this classifier was built with heatmap=False")
        return torch.relu(self.heatmap_conv(self.body(x)))

    @property
    def classifier_name(self) -> str:
        if self.head_kind == "fc":
            return f"top.fc.{len(sequential(self.top['fc'], 'top.fc')) - 1}"
        return "top.classifier"

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The map before the head: top blocks' output (``"conv"``) or heatmap (``"fc"``)."""
        features = self.heatmap(x) if self.uses_heatmap else self.body(x)
        return features if self.head_kind == "fc" else self.top["blocks"](features)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pooling and the classifier on
        [`forward_features`][histomammo.models.whole_image.PatchToImageClassifier.forward_features]'
        map."""
        if self.head_kind == "fc":
            if pre_logits:
                return sequential(self.top["fc"], "top.fc")[:-1](x)
            logits = self.top["fc"](x)
            if "shortcut" in self.top:
                logits = logits + self.top["shortcut"](x)
            return logits
        pooled = self.top["flatten"](self.top["pool"](x))
        return pooled if pre_logits else self.top["classifier"](pooled)

    def reset_classifier(self, num_classes: int) -> None:
        """A new output layer with ``num_classes`` outputs (and a new shortcut's, if any)."""
        super().reset_classifier(num_classes)
        if self.head_kind == "fc" and "shortcut" in self.top:
            shortcut = sequential(self.top["shortcut"], "top.shortcut")
            shortcut[-1] = new_classifier(shortcut[-1], num_classes)


@register_model
def patch_to_image(
    patch_net: nn.Module | str = "resnet50_patch",
    *,
    num_classes: int = 2,
    in_channels: int | None = None,
    weights: Weights = None,
    top: str | None = None,
    top_blocks: Sequence[tuple[Any, int]] | None = None,
    heatmap: bool = False,
    head: str = "conv",
    input_size: tuple[int, int] | None = None,
    pool_size: int | None = 2,
    fc_hidden: Sequence[int] = (64,),
    shortcut: bool = True,
) -> PatchToImageClassifier:
    """Registry entry for
    [`PatchToImageClassifier`][histomammo.models.whole_image.PatchToImageClassifier].

    Parameters
    ----------
    patch_net : nn.Module or str
        A trained patch classifier, or a registered name (built untrained, e.g. to load a
        whole-image model's saved ``weights``).
    num_classes : int
        Image-level classes (2).
    in_channels : int, optional
        Input channels of a patch network built from its name (its builder's default, 1, when
        ``None``); a given module keeps its own.
    weights : str, path or state dict, optional
        A state dict or Trainer checkpoint of the whole-image model
        ([`load_weights`][histomammo.models._weights.load_weights]).
    top : {"resnet", "vgg"}, optional
        Defaults to the patch network's family.
    top_blocks, heatmap, head, input_size, pool_size, fc_hidden, shortcut
        As [`PatchToImageClassifier`][histomammo.models.whole_image.PatchToImageClassifier].

    Examples
    --------
    >>> model = patch_to_image("vgg16_gap", top_blocks=[(8, 1), (8, 1)], heatmap=True)
    >>> model.heatmap(torch.zeros(1, 1, 64, 64)).shape
    torch.Size([1, 5, 2, 2])
    """
    if isinstance(patch_net, str):
        patch_net = create_model(patch_net, **({} if in_channels is None
                                               else {"in_channels": in_channels}))
    elif in_channels is not None:
        raise ValueError("in_channels is only used when patch_net is a registered name; "
                         f"the given {type(patch_net).__name__} keeps its own")
    top = top or ("vgg" if hasattr(patch_net, "features") else "resnet")
    model = PatchToImageClassifier(
        patch_net, top=top, top_blocks=top_blocks, heatmap=heatmap, head=head,
        num_classes=num_classes, input_size=input_size, pool_size=pool_size,
        fc_hidden=fc_hidden, shortcut=shortcut)
    return load_weights(model, weights)

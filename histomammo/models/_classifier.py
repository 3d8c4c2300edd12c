"""timm's classifier interface, shared by every classification model of the package.

A classifier defines ``forward_features(x)`` (the features before global pooling, or before the
fully connected layers) and ``forward_head(x, pre_logits=False)`` (pooling and the head) and names
its last layer in ``classifier_name``; [`ClassifierMixin`][histomammo.models._classifier.ClassifierMixin]
adds ``forward``, ``get_classifier`` and ``reset_classifier`` as timm's models have them.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

__all__ = ["ClassifierMixin", "conv_out_channels", "new_classifier", "sequential"]


def new_classifier(old: nn.Module, num_classes: int) -> nn.Module:
    """A fresh layer like ``old`` (``nn.Linear`` or 1x1 ``nn.Conv2d``) with ``num_classes`` outputs.

    ``num_classes=0`` gives ``nn.Identity`` for a linear layer (timm's convention: the model
    then returns its pre-logits features). The new layer is on ``old``'s device and dtype.

    Examples
    --------
    >>> new_classifier(nn.Linear(8, 1000), 2)
    Linear(in_features=8, out_features=2, bias=True)
    """
    if not isinstance(num_classes, int) or num_classes < 0:
        raise ValueError(f"num_classes must be an int >= 0, but got {num_classes!r}")
    if isinstance(old, nn.Linear):
        if num_classes == 0:
            return nn.Identity()
        layer: nn.Module = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    elif isinstance(old, nn.Conv2d) and old.kernel_size == (1, 1):
        if num_classes == 0:
            raise ValueError("a convolutional classifier cannot be removed (num_classes=0); "
                             "use forward_head(x, pre_logits=True) for the features")
        layer = nn.Conv2d(old.in_channels, num_classes, 1, bias=old.bias is not None)
    else:
        raise TypeError(f"cannot replace a classifier of type {type(old).__name__}")
    return layer.to(device=old.weight.device, dtype=old.weight.dtype)


def conv_out_channels(layer: nn.Module) -> int:
    """The output channels of ``layer``, a convolution (e.g. the last of a feature stack)."""
    if not isinstance(layer, nn.Conv2d):
        raise TypeError(f"expected an nn.Conv2d, got {type(layer).__name__}")
    return layer.out_channels


def sequential(module: nn.Module, what: str) -> nn.Sequential:
    """``module`` (named ``what`` in the error), checked to be an ``nn.Sequential``."""
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"{what} is a {type(module).__name__}; expected an nn.Sequential")
    return module


class _NamedLayers(Protocol):
    """What the mixin's methods use of the ``nn.Module`` it is mixed into."""

    @property
    def classifier_name(self) -> str: ...

    def get_submodule(self, target: str) -> nn.Module: ...


class ClassifierMixin:
    """``forward``, ``get_classifier`` and ``reset_classifier`` from a model's two halves.

    A subclass (also an ``nn.Module``) defines ``forward_features``, ``forward_head`` and
    ``classifier_name``, the dotted name of its last layer.
    """

    @property
    def classifier_name(self) -> str:  # pragma: no cover - a class attribute or a property
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)``: ``forward_head(forward_features(x))``."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self: _NamedLayers) -> nn.Module:
        """The last layer, which maps pre-logits features to the logits."""
        return self.get_submodule(self.classifier_name)

    def reset_classifier(self: _NamedLayers, num_classes: int) -> None:
        """Replace the last layer by a freshly initialised one with ``num_classes`` outputs."""
        parent_name, _, leaf = self.classifier_name.rpartition(".")
        parent = self.get_submodule(parent_name) if parent_name else self
        old = self.get_submodule(self.classifier_name)
        setattr(parent, leaf, new_classifier(old, num_classes))

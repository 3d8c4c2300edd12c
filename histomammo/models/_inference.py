"""Inference rewrites of an exported (plain torch) model: same logits, less work on a CPU.

[`export`][histomammo.models.equivariant.EquivariantClassifier.export] hands e2cnn's export of
each layer to `optimize_exported`, which rewrites it with exact identities only:

* eval-mode ``Dropout`` and ``Identity`` are dropped;
* a ``BatchNorm2d`` right after a ``Conv2d`` is folded into the convolution's weight and bias;
* ``ReLU`` then ``MaxPool2d`` becomes ``MaxPool2d`` then ``ReLU`` (both are monotone, so
  ``max(relu(a), relu(b)) == relu(max(a, b))``): the ReLU touches a quarter of the values;
* a 1x1 ``Conv2d`` (stride 1, no padding) then a non-overlapping ``AvgPool2d`` becomes the
  pooling then the convolution (both linear and per pixel / per channel, so they commute):
  the convolution runs on a quarter of the pixels (the P4M-DenseNet's transitions);
* every ``ReLU`` that follows a layer producing a fresh tensor runs in place (no allocation);
* a ``BatchNorm2d`` then a ``ReLU`` (the DenseNet's pre-activations, which follow a
  concatenation or a pooling, not a convolution) becomes one `AffineReLU`;
* the weights and the activations are ``channels_last`` (NHWC) from the input on: on CPUs
  oneDNN's convolutions and PyTorch's pooling are markedly faster on NHWC data (the
  un-exported e2cnn model's max pooling on NCHW data costs about a quarter of its time).

Results agree with the unrewritten model to float rounding (tests assert ``1e-5``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["AffineReLU", "ToChannelsLast", "flatten_sequential", "optimize_exported", "rewrite_layers"]

#: Layers whose output is a tensor of their own, so a ReLU after them may run in place.
_FRESH_OUTPUT = (nn.Conv2d, nn.BatchNorm2d, nn.Linear, nn.MaxPool2d, nn.AvgPool2d,
                 nn.AdaptiveAvgPool2d)


class ToChannelsLast(nn.Module):
    """Return ``x`` in ``channels_last`` memory format (same values and shape)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last)


class AffineReLU(nn.Module):
    """``relu(x * scale + shift)`` per channel: an eval-mode ``BatchNorm2d`` and ``ReLU`` in one.

    Parameters
    ----------
    batch_norm : nn.BatchNorm2d
        Its running statistics and affine parameters give ``scale`` and ``shift``.
    """

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, batch_norm: nn.BatchNorm2d) -> None:
        super().__init__()
        bn = batch_norm
        if bn.running_var is None or bn.running_mean is None:
            raise ValueError(f"{bn} has no running statistics (track_running_stats=False); "
                             "it normalises with each batch's and cannot be folded")
        scale = torch.rsqrt(bn.running_var + bn.eps)
        shift = -bn.running_mean * scale
        if bn.affine:
            scale, shift = scale * bn.weight, shift * bn.weight + bn.bias
        self.register_buffer("scale", scale.detach().reshape(1, -1, 1, 1).clone())
        self.register_buffer("shift", shift.detach().reshape(1, -1, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x, self.scale).clamp_min_(0)


def flatten_sequential(module: nn.Module) -> list[nn.Module]:
    """The leaves of nested ``nn.Sequential`` modules in call order (others kept whole)."""
    if type(module) is not nn.Sequential:
        return [module]
    return [leaf for child in module for leaf in flatten_sequential(child)]


def _is_pointwise_conv(m: nn.Module) -> bool:
    return (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.stride == (1, 1)
            and m.padding == (0, 0) and m.dilation == (1, 1) and m.padding_mode == "zeros")


def _is_disjoint_avg_pool(m: nn.Module) -> bool:
    if not isinstance(m, nn.AvgPool2d) or m.padding not in (0, (0, 0)) or m.ceil_mode:
        return False
    return m.stride in (None, m.kernel_size) and m.divisor_override is None


def _fold_conv_bn(a: nn.Module, b: nn.Module) -> list[nn.Module] | None:
    if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d) and b.track_running_stats:
        return [fuse_conv_bn_eval(a.eval(), b.eval())]
    return None


def _fuse_bn_relu(a: nn.Module, b: nn.Module) -> list[nn.Module] | None:
    if isinstance(a, nn.BatchNorm2d) and a.track_running_stats and isinstance(b, nn.ReLU):
        return [AffineReLU(a)]
    return None


def _pool_before_relu(a: nn.Module, b: nn.Module) -> list[nn.Module] | None:
    if isinstance(a, nn.ReLU) and isinstance(b, nn.MaxPool2d) and not b.return_indices:
        return [b, a]
    return None


def _pool_before_pointwise_conv(a: nn.Module, b: nn.Module) -> list[nn.Module] | None:
    if _is_pointwise_conv(a) and _is_disjoint_avg_pool(b):
        return [b, a]
    return None


_PAIR_RULES: tuple[Callable[[nn.Module, nn.Module], list[nn.Module] | None], ...] = (
    _fold_conv_bn, _pool_before_relu, _pool_before_pointwise_conv, _fuse_bn_relu,
)


def rewrite_layers(layers: list[nn.Module]) -> list[nn.Module]:
    """Apply the pairwise rewrites of the module docstring to a flat list until none applies."""
    layers = [m for m in layers if not isinstance(m, nn.Dropout | nn.Identity)]
    changed = True
    while changed:
        changed = False
        for i in range(len(layers) - 1):
            for rule in _PAIR_RULES:
                replacement = rule(layers[i], layers[i + 1])
                if replacement is not None:
                    layers[i:i + 2] = replacement
                    changed = True
                    break
            if changed:
                break
    for previous, layer in zip(layers, layers[1:], strict=False):
        if isinstance(layer, nn.ReLU) and isinstance(previous, _FRESH_OUTPUT):
            layer.inplace = True
    return layers


def _optimize_children(module: nn.Module) -> nn.Module:
    """Rewrite every ``nn.Sequential`` inside a non-sequential module (a dense block's layers)."""
    for name, child in module.named_children():
        if type(child) is nn.Sequential:
            setattr(module, name, nn.Sequential(*_optimize_list(flatten_sequential(child))))
        elif isinstance(child, nn.ModuleList):
            for i, item in enumerate(child):
                child[i] = nn.Sequential(*_optimize_list(flatten_sequential(item)))
        else:
            _optimize_children(child)
    return module


def _optimize_list(layers: list[nn.Module]) -> list[nn.Module]:
    return [_optimize_children(m) for m in rewrite_layers(layers)]


def optimize_exported(model: nn.Module, channels_last: bool = True) -> nn.Sequential:
    """Rewrite an exported eval-mode model for inference; the result computes the same outputs.

    Parameters
    ----------
    model : nn.Module
        A plain torch model (``nn.Sequential`` of plain layers, possibly nested, and modules
        such as an exported dense block, whose inner sequences are rewritten as well).
    channels_last : bool
        Convert the input to ``channels_last`` first and keep every layer's weights and
        activations in it.

    Returns
    -------
    nn.Sequential
        In eval mode. Input and output are as for ``model``; only memory layout differs inside.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
    ...                       nn.Dropout(0.2)).eval()
    >>> fast = optimize_exported(model)
    >>> [type(m).__name__ for m in fast]
    ['ToChannelsLast', 'Conv2d', 'MaxPool2d', 'ReLU']
    >>> x = torch.randn(2, 3, 8, 8)
    >>> torch.allclose(fast(x), model(x), atol=1e-6)
    True
    """
    layers = _optimize_list(flatten_sequential(model.eval()))
    if channels_last:
        layers = [ToChannelsLast(), *(m.to(memory_format=torch.channels_last) for m in layers)]
    return nn.Sequential(*layers).eval()

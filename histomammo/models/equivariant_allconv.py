"""The seed's first G-CNN design (section 3.2.7.2): the All-CNN with every convolution a group one.

The seed abandoned it (section 3.3.3.1) because its last layer gave ``(N, 2, 4, 21, 21)`` and "it
is unknown how to replace [global average pooling] in a G-CNN". The answer: average over the
group as well as over space. The last 1x1 group convolution gives one regular field per class;
its mean over the ``|G|`` orientations and the pixels is invariant to the group, so the logits
of a patch and of its rotations (P4M: and mirror images) agree.

Exact invariance needs every stride-2 convolution to see an even side (otherwise a rotated image
meets a stride-2 grid shifted by a pixel): input sides 94, 126, 158, 190, ... (``94 + 32k``)
qualify. The seed's 96 does not (its 45-pixel map), so by default (``fit_input="crop"``) a 96x96
patch loses one border pixel on each side and enters as 94x94; ``fit_input="pad"`` zero-pads it
to 126x126 instead (1.8x the computation), ``"error"`` refuses it.

Size: with the seed's widths the model has 196,642,562 weights for P4 and 393,265,922 for P4M
(3 input channels, 2 classes;
[`all_gconv_parameters`][histomammo.models.equivariant_allconv.all_gconv_parameters]
counts them exactly without building the model). e2cnn 0.2.3 keeps about
[`BUILD_BYTES_PER_WEIGHT`][histomammo.models.equivariant_allconv.BUILD_BYTES_PER_WEIGHT] bytes of
host memory per weight for its basis bookkeeping (measured: 250 MiB for 770,162 weights, 3.8 GiB
for 12,296,642), so the seed's P4 network needs about 67 GB to build: the constructor refuses, at
once and with that estimate, to build a network larger than the memory available.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from histomammo.models._e2cnn_compat import r2conv
from histomammo.models._input_grid import InputGrid
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights
from histomammo.models.allconv import ALL_CNN_LAYERS, ALL_CNN_WIDTHS
from histomammo.models.equivariant import (
    GROUPS,
    EquivariantClassifier,
    PointwiseLeakyReLU,
    enn,
    export_module,
    group_space,
    regular,
)

__all__ = [
    "BUILD_BYTES_PER_WEIGHT", "AllGConvNet", "FieldMean", "all_gconv_net",
    "all_gconv_parameters", "available_memory",
]

#: Host memory e2cnn 0.2.3 holds per weight of an ``AllGConvNet`` once built (its basis
#: bookkeeping; measured 333-341 bytes at widths 1/16 to 1/4 of the seed's, rounded up).
BUILD_BYTES_PER_WEIGHT = 345


def _basis(kernel: int) -> dict[str, Any]:
    """e2cnn basis options: a 2x2 filter is one ring of radius sqrt(2)/2, angular frequencies
    up to 2 (e2cnn's defaults find no basis at all for even kernels)."""
    return {"rings": [2**0.5 / 2], "frequencies_cutoff": 2.0} if kernel == 2 else {}


@functools.cache
def _pair_weights(group: str, kernel: int, lifting: bool) -> tuple[int, int]:
    """Free weights and biases of an e2cnn convolution from one field to one regular field."""
    space = group_space(group)
    in_type = enn.FieldType(space, [space.trivial_repr]) if lifting else regular(space, 1)
    conv = r2conv(in_type, regular(space, 1), kernel, **_basis(kernel))
    return conv.weights.numel(), 0 if conv.bias is None else conv.bias.numel()


def all_gconv_parameters(group: str = "p4", widths: Sequence[int] = ALL_CNN_WIDTHS,
                         in_channels: int = 3, num_classes: int = 2) -> int:
    """The exact parameter count of an ``AllGConvNet``, without building it.

    Each layer has (weights per pair of fields) x (input fields) x (output fields) weights and
    one bias per output field; the per-pair counts come from e2cnn on one field each (a
    test checks the formula against built models).

    Examples
    --------
    >>> all_gconv_parameters("p4"), all_gconv_parameters("p4m")
    (196642562, 393265922)
    """
    total, previous, lifting = 0, in_channels, True
    for kind, *args in ALL_CNN_LAYERS:
        if kind == "dropout":
            continue
        kernel, _, width = args
        out = num_classes if width == "classes" else int(widths[width])
        weights, biases = _pair_weights(group, kernel, lifting)
        total += weights * previous * out + biases * out
        previous, lifting = out, False
    return total


def available_memory() -> int | None:
    """Bytes of host memory available now (Linux ``MemAvailable``), or ``None`` if unknown.

    Examples
    --------
    >>> free = available_memory()
    >>> free is None or free > 0
    True
    """
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _check_memory(group: str, widths: Sequence[int], in_channels: int, num_classes: int) -> None:
    count = all_gconv_parameters(group, widths, in_channels, num_classes)
    needed, free = count * BUILD_BYTES_PER_WEIGHT, available_memory()
    if free is not None and needed > free:
        raise MemoryError(
            f"AllGConvNet({group!r}, widths={tuple(widths)}) has {count:,} weights and needs "
            f"about {needed / 1e9:.1f} GB of host memory to build with e2cnn "
            f"({BUILD_BYTES_PER_WEIGHT} bytes per weight), but {free / 1e9:.1f} GB are "
            "available; use smaller widths"
        )


class FieldMean(nn.Module):
    """Mean over each regular field's ``order`` maps and over space: ``(N, F*order, H, W) -> (N, F)``."""

    def __init__(self, order: int) -> None:
        super().__init__()
        self.order = int(order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, c // self.order, self.order * h * w).mean(dim=2)


class AllGConvNet(EquivariantClassifier):
    """The All-CNN of [`AllConvNet`][histomammo.models.AllConvNet] with group convolutions.

    The same layers, strides and dropouts, widths counted in fields (each ``|G|`` maps), the
    first convolution lifting the image to the group, LeakyReLU (pointwise, so equivariant on
    regular fields) after all but the last, and logits from the mean over group and space.

    Parameters
    ----------
    group : {"p4", "p4m"}
    in_channels, num_classes : int
    widths : sequence of 6 int
        Fields per stage; the All-CNN's 320 ... 1920 by default (which is |G| times the
        feature maps of the plain network: 196,642,562 weights for P4, about 67 GB to build,
        see the module notes; small widths for experiments).
    fit_input : {"crop", "pad", "error"}
        For a side outside ``94 + 32k``
        (`InputGrid`); ``"crop"`` makes the seed's
        96x96 patches 94x94.

    Raises
    ------
    MemoryError
        At once, when the estimated build memory exceeds the memory available.

    Notes
    -----
    [`forward_features`][histomammo.models.equivariant_allconv.AllGConvNet.forward_features] gives
    the maps before the last 1x1 group convolution (the
    classifier, ``self.classifier``); ``forward_head(x, pre_logits=True)`` their mean over
    orientations and space, ``(N, widths[5])``.

    Examples
    --------
    >>> import torch
    >>> model = AllGConvNet("p4", widths=(1, 1, 1, 1, 1, 1)).eval()
    >>> model(torch.zeros(1, 3, 96, 96)).shape
    torch.Size([1, 2])
    """

    classifier_name = "classifier"

    def __init__(
        self,
        group: str = "p4",
        in_channels: int = 3,
        num_classes: int = 2,
        widths: Sequence[int] = ALL_CNN_WIDTHS,
        fit_input: str = "crop",
    ) -> None:
        super().__init__()
        if len(widths) != 6:
            raise ValueError(f"widths must give 6 widths, but got {tuple(widths)}")
        _check_memory(group, widths, in_channels, num_classes)
        self.input_grid = InputGrid(type(self).__name__, 94, 32, fit_input)
        space = group_space(group)
        self.group = group
        self.in_type = enn.FieldType(space, in_channels * [space.trivial_repr])
        layers: list[Any] = []
        previous = self.in_type
        for kind, *args in ALL_CNN_LAYERS:
            if kind == "dropout":
                layers.append(enn.PointwiseDropout(previous, args[0]))
                continue
            kernel, stride, width = args
            out = regular(space, num_classes if width == "classes" else widths[width])
            layers.append(r2conv(previous, out, kernel, stride=stride, **_basis(kernel)))
            if width != "classes":
                layers.append(PointwiseLeakyReLU(out))
            previous = out
        self.classifier = layers.pop()  # the 1x1 group convolution to one field per class
        self.features = enn.SequentialModule(*layers)
        self.invariant_map = None
        self.head = FieldMean(GROUPS[group])

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The 1x1 group convolution to the class fields, then their mean over orientations
        and space; ``pre_logits``: the mean of the input fields instead."""
        if pre_logits:
            return self.head(x)
        fields = enn.GeometricTensor(x, self.features.out_type)
        return self.head(self.classifier(fields).tensor)

    def reset_classifier(self, num_classes: int) -> None:
        """A new 1x1 group convolution to ``num_classes`` regular fields."""
        old = self.classifier
        self.classifier = r2conv(old.in_type, regular(old.in_type.gspace, num_classes), 1)
        self.classifier.to(device=old.weights.device, dtype=old.weights.dtype)

    def _export_parts(self) -> list[nn.Module]:
        return [copy.deepcopy(self.input_grid), export_module(self.features),
                export_module(self.classifier), copy.deepcopy(self.head)]


@register_model
def all_gconv_net(
    *,
    num_classes: int = 2,
    in_channels: int = 3,
    weights: Weights = None,
    group: str = "p4",
    widths: Sequence[int] = ALL_CNN_WIDTHS,
    fit_input: str = "crop",
) -> AllGConvNet:
    """The seed's All-G-CNN ([`AllGConvNet`][histomammo.models.equivariant_allconv.AllGConvNet]).

    Parameters
    ----------
    num_classes, in_channels : int
        2 and 3 for PCam.
    weights : str, path or state dict, optional
        Read by `load_weights`.
    group, widths, fit_input
        As [`AllGConvNet`][histomammo.models.equivariant_allconv.AllGConvNet].

    Examples
    --------
    >>> from histomammo.models import create_model
    >>> create_model("all_gconv_net", widths=(1, 1, 1, 1, 1, 1)).group
    'p4'
    """
    model = AllGConvNet(group, in_channels, num_classes, widths, fit_input)
    return load_weights(model, weights)

"""P4M-DenseNet: the rotation- and mirror-equivariant DenseNet of Veeling et al. (2018), PCam's
reference model (the seed's benchmark, section 2.3: accuracy 89.8%, AUC 0.96).

What the seed fixes (section 4.2): a DenseNet of 5 dense blocks alternated with transition
blocks, equivariant to P4M, pooled to an invariant before the classifier. What it does not fix,
and what is chosen here (Huang et al.'s DenseNet-BC conventions where Veeling et al. follow
them, the composite layer BN-ReLU-Conv and transitions that halve the resolution):

* stem: a 3x3 lifting convolution (padding 1) to ``2 * growth`` regular fields;
* dense layer: e2cnn ``InnerBatchNorm`` - ReLU - 3x3 group convolution (padding 1) giving
  ``growth`` fields, concatenated to its input; ``layers_per_block`` of them per dense block;
* transition: BN - ReLU - 1x1 group convolution keeping ``compression`` of the fields - 2x2
  average pooling (96 -> 48 -> 24 -> 12 -> 6 -> 3 over the five transitions);
* head: BN - ReLU - group pooling (max over the 8 orientations of each field) - mean over
  space - a linear layer to the logits.

The defaults (``growth=8``, ``layers_per_block=2``, ``compression=0.5``) keep the model near
Veeling et al.'s order of magnitude in parameters while training on a CPU; they are parameters.
With zero padding and even sides before every pooling, 90-degree rotations and mirrors of a
96x96 patch leave the logits unchanged (eval mode: batch statistics are per field, so also in
training mode the normalisation is equivariant).

References
----------
.. [1] B. S. Veeling, J. Linmans, J. Winkens, T. Cohen and M. Welling, "Rotation Equivariant
   CNNs for Digital Pathology", MICCAI 2018, arXiv:1806.03962.
.. [2] G. Huang, Z. Liu, L. van der Maaten and K. Q. Weinberger, "Densely Connected
   Convolutional Networks", CVPR 2017.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from histomammo.models._e2cnn_compat import r2conv
from histomammo.models._input_grid import InputGrid
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights
from histomammo.models.equivariant import (
    EquivariantClassifier,
    enn,
    export_module,
    group_space,
    regular,
)

__all__ = ["DenseBlock", "P4MDenseNet", "p4m_densenet"]


def _bn_relu_conv(in_type: Any, out_type: Any, kernel: int) -> Any:
    return enn.SequentialModule(
        enn.InnerBatchNorm(in_type), enn.ReLU(in_type),
        r2conv(in_type, out_type, kernel, padding=kernel // 2),
    )


class _ExportedDenseBlock(nn.Module):
    """A dense block in plain torch: each layer's output concatenated to its input.

    Without gradients the block writes every layer's output once into a preallocated output
    (in the input's memory format) and feeds each layer a channel slice of it, instead of
    re-copying the growing concatenation at every layer; with gradients it concatenates.
    """

    def __init__(self, layers: list[nn.Module], growth_channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.growth_channels = int(growth_channels)  # maps each layer adds: growth * |G|

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            for layer in self.layers:
                x = torch.cat([x, layer(x)], dim=1)
            return x
        n, c, h, w = x.shape
        layout = (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
                  and not x.is_contiguous() else torch.contiguous_format)
        growth = self.growth_channels
        out = torch.empty((n, c + len(self.layers) * growth, h, w), dtype=x.dtype,
                          device=x.device, memory_format=layout)
        out[:, :c] = x
        for layer in self.layers:
            out[:, c:c + growth] = layer(out[:, :c])
            c += growth
        return out


class DenseBlock(enn.EquivariantModule):
    """``n_layers`` BN-ReLU-Conv layers, each one's ``growth`` fields concatenated to its input."""

    def __init__(self, in_type: Any, growth: int, n_layers: int) -> None:
        super().__init__()
        space, fields = in_type.gspace, len(in_type)
        self.in_type = in_type
        # the field type after each layer: both parts of a concatenation are regular fields of
        # one gspace, so concatenating the tensors concatenates the types in the same order
        self._types = [regular(space, fields + i * growth) for i in range(n_layers + 1)]
        self.layers = nn.ModuleList(
            _bn_relu_conv(self._types[i], regular(space, growth), 3) for i in range(n_layers)
        )
        self.out_type = self._types[-1]
        self.growth_channels = regular(space, growth).size  # the maps each layer adds

    def forward(self, x: Any) -> Any:
        for layer, out_type in zip(self.layers, self._types[1:], strict=True):
            x = enn.GeometricTensor(torch.cat([x.tensor, layer(x).tensor], dim=1), out_type)
        return x

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, _, h, w = input_shape
        return n, self.out_type.size, h, w

    def export(self) -> nn.Module:
        return _ExportedDenseBlock([export_module(layer) for layer in self.layers],
                                   self.growth_channels)


class P4MDenseNet(EquivariantClassifier):
    """The P4M-DenseNet (module docstring for every choice); plain tensors in and out.

    Parameters
    ----------
    in_channels, num_classes : int
    growth : int
        Regular fields (8 maps each) added by every dense layer.
    layers_per_block : int
        Dense layers in each of the 5 dense blocks.
    compression : float
        Fraction of the fields a transition keeps.
    group : {"p4m", "p4"}
        P4M as in the paper; P4 for comparison.
    fit_input : {"error", "crop", "pad"}
        For a side that is not a multiple of 32
        (`InputGrid`).

    Notes
    -----
    Valid input sides: 32, 64, 96, 128, ... (the five 2x2 average poolings each meet an even
    side); 94, 95, 97, ... raise at the first forward pass unless ``fit_input`` fits them.

    Examples
    --------
    >>> import torch
    >>> model = P4MDenseNet(growth=1, layers_per_block=1).eval()
    >>> model(torch.zeros(1, 3, 96, 96)).shape
    torch.Size([1, 2])
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        growth: int = 8,
        layers_per_block: int = 2,
        compression: float = 0.5,
        group: str = "p4m",
        fit_input: str = "error",
    ) -> None:
        super().__init__()
        self.input_grid = InputGrid(type(self).__name__, 32, 32, fit_input)
        if not 0 < compression <= 1:
            raise ValueError(f"compression must lie in (0, 1], but got {compression}")
        space = group_space(group)
        self.group = group
        self.in_type = enn.FieldType(space, in_channels * [space.trivial_repr])
        fields = 2 * growth
        modules: list[Any] = [r2conv(self.in_type, regular(space, fields), 3, padding=1)]
        for _ in range(5):
            block = DenseBlock(regular(space, fields), growth, layers_per_block)
            kept = max(1, int(len(block.out_type) * compression))
            transition = _bn_relu_conv(block.out_type, regular(space, kept), 1)
            modules += [block, transition, enn.PointwiseAvgPool(regular(space, kept), 2)]
            fields = kept
        final = regular(space, fields)
        modules += [enn.InnerBatchNorm(final), enn.ReLU(final)]
        self.features = enn.SequentialModule(*modules)
        self.invariant_map = enn.GroupPooling(final)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(fields, num_classes))


@register_model
def p4m_densenet(
    *,
    num_classes: int = 2,
    in_channels: int = 3,
    weights: Weights = None,
    growth: int = 8,
    layers_per_block: int = 2,
    compression: float = 0.5,
    group: str = "p4m",
    fit_input: str = "error",
) -> P4MDenseNet:
    """The P4M-DenseNet ([`P4MDenseNet`][histomammo.models.densenet_p4m.P4MDenseNet]).

    Parameters
    ----------
    num_classes, in_channels : int
        2 and 3 for PCam.
    weights : str, path or state dict, optional
        Read by `load_weights`.
    growth, layers_per_block, compression, group, fit_input
        As [`P4MDenseNet`][histomammo.models.densenet_p4m.P4MDenseNet].

    Examples
    --------
    >>> from histomammo.models import create_model
    >>> create_model("p4m_densenet", growth=1, layers_per_block=1).group
    'p4m'
    """
    model = P4MDenseNet(in_channels, num_classes, growth, layers_per_block, compression, group,
                        fit_input)
    return load_weights(model, weights)

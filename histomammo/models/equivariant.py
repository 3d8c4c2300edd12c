"""Rotation-equivariant patch classifiers on e2cnn: the seed's G-CNN (``GCNN``) and what they share.

Importing this module applies `histomammo.models._e2cnn_compat` (e2cnn 0.2.3 under numpy 2);
``import histomammo`` and ``import histomammo.models`` never do.

Every model here takes and returns plain tensors (``(N, C, H, W)`` float in, ``(N, num_classes)``
logits out), so it trains with [`histomammo.engine.Trainer`][histomammo.engine.Trainer] like any
other, and has
``export()``, which returns a plain ``torch.nn`` model with the same outputs (e2cnn's own export
of each layer: the steerable filters expanded once into ordinary ``Conv2d`` weights).

Parameter counts cannot match the seed's (GrouPy, Bielski's port of Cohen & Welling 2016).
GrouPy's ``P4ConvP4`` stores a free 3x3 filter per input orientation: 4 x 9 = 36 weights per
pair of fields (``P4MConvP4M``: 8 x 9 = 72, lifting ``P4ConvZ2``: 9). e2cnn builds the same
equivariant maps from a steerable basis sampled on rings of the 3x3 grid and band-limited in
angular frequency (the highest frequency a ring of four pixels can hold is aliased, so e2cnn
drops it): 24 weights per regular pair for P4, 48 for P4M, 6 per lifting pair. The layers, widths
and feature-map sizes are the seed's; the count of free weights is e2cnn's.

References
----------
.. [1] T. S. Cohen and M. Welling, "Group Equivariant Convolutional Networks", ICML 2016.
.. [2] M. Weiler and G. Cesa, "General E(2)-Equivariant Steerable CNNs", NeurIPS 2019 (e2cnn).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from histomammo.models import _e2cnn_compat
from histomammo.models._classifier import ClassifierMixin, sequential
from histomammo.models._e2cnn_compat import r2conv
from histomammo.models._inference import optimize_exported
from histomammo.models._input_grid import InputGrid
from histomammo.models._registry import register_model
from histomammo.models._weights import Weights, load_weights

_e2cnn_compat.apply()

import e2cnn.gspaces as gspaces  # noqa: E402  (after the shim, on purpose)
import e2cnn.nn as enn  # noqa: E402

__all__ = [
    "GROUPS", "SEED_WIDTHS", "SEED_FINAL_WIDTHS", "EquivariantClassifier", "GCNN", "gcnn",
    "PointwiseLeakyReLU", "GroupMaxPool", "export_module", "regular", "conv_relu",
    "group_space",
]

#: group name -> its order |G|. P4: the four rotations by 90 degrees; P4M: those and their
#: mirror images.
GROUPS: dict[str, int] = {"p4": 4, "p4m": 8}
#: Section 3.3.2's widths in fields (GrouPy "channels"): 96/192/384, i.e. 384/768/1536 maps.
SEED_WIDTHS = (96, 192, 384)
#: Section 3.3.4's final run: "the number of channels of each layer was halved".
SEED_FINAL_WIDTHS = (48, 96, 192)


def group_space(group: str) -> Any:
    """The e2cnn ``GSpace`` of ``group``: ``"p4"`` (C4 on the plane) or ``"p4m"`` (D4).

    Examples
    --------
    >>> group_space("p4m").fibergroup.order()
    8
    """
    if group == "p4":
        return gspaces.Rot2dOnR2(4)
    if group == "p4m":
        return gspaces.FlipRot2dOnR2(4)
    raise ValueError(f"group must be one of {sorted(GROUPS)}, but got {group!r}")


def regular(space: Any, fields: int) -> Any:
    """``fields`` copies of the regular representation: one map per group element each."""
    return enn.FieldType(space, int(fields) * [space.regular_repr])


def conv_relu(in_type: Any, out_type: Any, kernel: int, **kwargs: Any) -> list[Any]:
    """An equivariant convolution and a pointwise ReLU (equivariant on regular fields)."""
    return [r2conv(in_type, out_type, kernel, **kwargs), enn.ReLU(out_type, inplace=True)]


class PointwiseLeakyReLU(enn.EquivariantModule):
    """LeakyReLU on every map of regular fields (equivariant: it commutes with permutations).

    e2cnn 0.2.3 has no LeakyReLU; the All-CNN's activation is this one.
    """

    def __init__(self, in_type: Any, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.in_type = self.out_type = in_type
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Any:
        return enn.GeometricTensor(
            torch.nn.functional.leaky_relu(x.tensor, self.negative_slope), self.out_type
        )

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def export(self) -> nn.Module:
        return nn.LeakyReLU(self.negative_slope)


class GroupMaxPool(nn.Module):
    """Max over each regular field's ``order`` maps: ``(N, F*order, H, W) -> (N, F, H, W)``.

    The exported form of e2cnn's ``GroupPooling`` on regular fields, in plain torch.
    """

    def __init__(self, order: int) -> None:
        super().__init__()
        self.order = int(order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, c // self.order, self.order, h, w).amax(dim=2)


def export_module(module: Any) -> nn.Module:
    """e2cnn's ``export()`` of a module, in plain torch modules only.

    e2cnn 0.2.3 cannot export ``PointwiseAvgPool``, and exports ``GroupPooling`` to a module of
    its own; both become plain torch here, so an exported model needs no e2cnn to run.
    """
    if isinstance(module, enn.GroupPooling):
        return GroupMaxPool(module.in_type.gspace.fibergroup.order())
    if isinstance(module, enn.SequentialModule):
        return nn.Sequential(*(export_module(m) for m in module._modules.values()))
    if isinstance(module, enn.PointwiseAvgPool):  # no export() in e2cnn 0.2.3
        return nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode)
    return module.export()


#: Buffers of e2cnn's ``R2Conv`` that cache the expanded filter in eval mode: derived from the
#: weights, present or absent depending on the mode, so never saved and rebuilt after loading.
_DERIVED_BUFFERS = ("filter", "expanded_bias")


def _derived_keys(model: nn.Module, prefix: str = "") -> list[str]:
    return [f"{prefix}{name}.{buffer}" for name, module in model.named_modules()
            if isinstance(module, enn.R2Conv) for buffer in _DERIVED_BUFFERS]


def _drop_derived(model: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any) -> None:
    """``state_dict`` post-hook and ``load_state_dict`` pre-hook: no filter caches in or out."""
    for key in _derived_keys(model, prefix):
        state_dict.pop(key, None)


def _rebuild_derived(model: nn.Module, incompatible: Any) -> None:
    """``load_state_dict`` post-hook: the caches are not missing; rebuild eval-mode ones."""
    derived = _derived_keys(model)
    incompatible.missing_keys[:] = [k for k in incompatible.missing_keys
                                    if not any(k == d or k.endswith("." + d) for d in derived)]
    for module in model.modules():
        if isinstance(module, enn.R2Conv) and not module.training:
            module.train(True)
            module.train(False)  # e2cnn expands the loaded weights into the cached filter


class EquivariantClassifier(ClassifierMixin, nn.Module):
    """Base of the e2cnn classifiers: plain tensors in and out, timm's classifier methods,
    [`export`][histomammo.models.equivariant.PointwiseLeakyReLU.export].

    A subclass sets ``input_grid`` (an `InputGrid`:
    the sides on which the logits are exactly invariant), ``in_type`` (the input's field type),
    ``features`` (an e2cnn module from ``in_type`` to an equivariant feature map),
    ``invariant_map`` (an e2cnn module or ``None``) and ``head`` (plain torch on the invariant
    map's tensor, its last layer the classifier).
    """

    input_grid: InputGrid
    in_type: Any
    features: Any
    invariant_map: Any  # an e2cnn module or None; set in __init__ (a class default would hide it)
    head: nn.Module

    def __init__(self) -> None:
        super().__init__()
        # a state dict is the same in train and eval mode: e2cnn's eval-mode filter caches are
        # left out and rebuilt on loading (a checkpoint saved while training loads into a fresh
        # model, and an eval-mode model loading new weights does not keep a stale filter)
        self.register_state_dict_post_hook(_drop_derived)
        self.register_load_state_dict_pre_hook(_drop_derived)
        self.register_load_state_dict_post_hook(_rebuild_derived)

    @property
    def classifier_name(self) -> str:
        return f"head.{len(sequential(self.head, 'head')) - 1}"

    def feature_map(self, x: torch.Tensor) -> Any:
        """The equivariant feature map (an e2cnn ``GeometricTensor``) of images ``x``."""
        return self.features(enn.GeometricTensor(self.input_grid(x), self.in_type))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The equivariant feature map's tensor ``(N, |G| * fields, h, w)``."""
        return self.feature_map(x).tensor

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The invariant map and ``head`` on
        [`forward_features`][histomammo.models.equivariant.EquivariantClassifier.forward_features]'
        tensor; ``pre_logits``:
        stop before the last layer."""
        if self.invariant_map is not None:
            x = self.invariant_map(enn.GeometricTensor(x, self.features.out_type)).tensor
        return sequential(self.head, "head")[:-1](x) if pre_logits else self.head(x)

    def _export_parts(self) -> list[nn.Module]:
        parts = [copy.deepcopy(self.input_grid), export_module(self.features)]
        if self.invariant_map is not None:
            parts.append(export_module(self.invariant_map))
        return [*parts, copy.deepcopy(self.head)]

    def export(self, optimize: bool = True) -> nn.Module:
        """A plain ``torch.nn`` model computing the same logits, in eval mode.

        e2cnn expands each steerable filter into ordinary ``Conv2d`` weights once; the copy
        shares no parameters with this model, whose train/eval mode is left as it was. The
        exported model checks (or fits) its input sides as this one does.

        Parameters
        ----------
        optimize : bool
            Rewrite e2cnn's export for CPU inference with exact identities
            (`optimize_exported`: batch
            norms folded into convolutions, dropout dropped, pooling moved before ReLUs and 1x1
            convolutions, ``channels_last`` activations). ``False`` returns e2cnn's export as
            it is.

        Returns
        -------
        nn.Sequential
            ``(N, C, H, W)`` images in, ``(N, num_classes)`` logits out.
        """
        was_training = self.training
        try:
            exported = nn.Sequential(*self._export_parts()).eval()
        finally:
            self.train(was_training)  # e2cnn's export switches the layers to eval mode
        return optimize_exported(exported) if optimize else exported


class GCNN(EquivariantClassifier):
    """The seed's final G-CNN (section 3.3.2) on e2cnn, with an invariant head by default.

    Three stages of two 3x3 group convolutions with ReLU (the first lifting the image to the
    group), 2x2 group-spatial max pooling and dropout 0.2 / 0.3 after the first two, then the
    head: ``"flatten"`` is the seed's (the 17x17 feature map of a 96x96 patch flattened into a
    1024-unit FC layer, ReLU, dropout 0.4, FC to the logits: 443,904 inputs at P4 and the seed's
    widths); its features are equivariant but its logits are not invariant, because flattening
    keeps where and in which orientation each feature sits. ``"invariant"`` (default) first pools
    over the group (max over each field's orientations) and over space (mean), so the same FC
    layers see the same vector for a patch and its rotations: the logits are invariant.

    Parameters
    ----------
    group : {"p4", "p4m"}
        The seed's G-CNN is P4 ("mirrors and reflections are not included"); P4M adds them.
    in_channels, num_classes : int
    widths : sequence of 3 int
        Fields per stage (each field is ``|G|`` feature maps); the seed's 96/192/384 by default
        ([`SEED_FINAL_WIDTHS`][histomammo.models.equivariant.SEED_FINAL_WIDTHS] is its halved last
        run).
    head : {"invariant", "flatten"}
    input_size : int
        Side of the square input of the flatten head (96 for PCam); the invariant head takes
        any valid side.
    hidden : int
        Units of the first FC layer (the seed's 1024).
    fit_input : {"error", "crop", "pad"}
        For a side that breaks exact invariance
        (`InputGrid`).

    Notes
    -----
    Valid input sides: 32, 36, 40, ..., 96, 100, ... (``32 + 4k``: both 2x2 poolings then meet
    an even side). The logits of a valid square input and of its 90-degree rotations agree to
    float rounding (P4M: and its mirror images); 94, 95, 97, ... raise at the first forward
    pass, naming the valid sides, unless ``fit_input`` crops or pads them.

    Examples
    --------
    >>> import torch
    >>> model = GCNN("p4", widths=(2, 2, 2), hidden=8).eval()
    >>> model(torch.zeros(1, 3, 96, 96)).shape
    torch.Size([1, 2])
    """

    def __init__(
        self,
        group: str = "p4",
        in_channels: int = 3,
        num_classes: int = 2,
        widths: Sequence[int] = SEED_WIDTHS,
        head: str = "invariant",
        input_size: int = 96,
        hidden: int = 1024,
        fit_input: str = "error",
    ) -> None:
        super().__init__()
        self.input_grid = InputGrid(type(self).__name__, 32, 4, fit_input)
        if head not in ("invariant", "flatten"):
            raise ValueError(f"head must be 'invariant' or 'flatten', but got {head!r}")
        if len(widths) != 3:
            raise ValueError(f"widths must give 3 stage widths, but got {tuple(widths)}")
        space = group_space(group)
        self.group, self.head_kind = group, head
        self.in_type = enn.FieldType(space, in_channels * [space.trivial_repr])
        types = [regular(space, w) for w in widths]
        layers: list[Any] = []
        previous = self.in_type
        for stage, (field_type, p) in enumerate(zip(types, (0.2, 0.3, None), strict=True)):
            layers += conv_relu(previous, field_type, 3) + conv_relu(field_type, field_type, 3)
            if stage < 2:
                layers += [enn.PointwiseMaxPool(field_type, 2), enn.PointwiseDropout(field_type, p)]
            previous = field_type
        self.features = enn.SequentialModule(*layers)
        if head == "invariant":
            self.invariant_map = enn.GroupPooling(types[-1])
            pooled: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            n_in = widths[-1]
        else:
            self.invariant_map = None
            pooled = [nn.Flatten()]
            n_in = self.flatten_features(group, widths, input_size)
        self.head = nn.Sequential(
            *pooled, nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Dropout(0.4),
            nn.Linear(hidden, num_classes),
        )

    @staticmethod
    def flatten_features(group: str, widths: Sequence[int], input_size: int = 96) -> int:
        """Inputs of the flatten head's first FC layer: ``|G| * widths[-1] * side**2``.

        Examples
        --------
        >>> GCNN.flatten_features("p4", SEED_WIDTHS)  # section 3.3.2: 1536 x 17 x 17
        443904
        """
        side = ((input_size - 4) // 2 - 4) // 2 - 4
        if side < 1:
            raise ValueError(f"input_size {input_size} leaves no feature map for the head")
        return GROUPS[group] * int(widths[-1]) * side * side


@register_model
def gcnn(
    *,
    num_classes: int = 2,
    in_channels: int = 3,
    weights: Weights = None,
    group: str = "p4",
    widths: Sequence[int] = SEED_WIDTHS,
    head: str = "invariant",
    input_size: int = 96,
    hidden: int = 1024,
    fit_input: str = "error",
) -> GCNN:
    """The seed's G-CNN ([`GCNN`][histomammo.models.equivariant.GCNN]).

    Parameters
    ----------
    num_classes, in_channels : int
        2 and 3 for PCam.
    weights : str, path or state dict, optional
        A state dict or Trainer checkpoint of the same model
        (`load_weights`).
    group, widths, head, input_size, hidden, fit_input
        As [`GCNN`][histomammo.models.equivariant.GCNN].

    Examples
    --------
    >>> from histomammo.models import create_model
    >>> create_model("gcnn", group="p4m", widths=(1, 1, 1), hidden=4).head_kind
    'invariant'
    """
    model = GCNN(group, in_channels, num_classes, widths, head, input_size, hidden, fit_input)
    return load_weights(model, weights)

"""Greyscale AlexNet: table 6.1's parameter counts and appendix A's intermediate shapes."""

from __future__ import annotations

import pytest
import torch

from histomammo.models import create_model
from histomammo.models.alexnet import alexnet_grey, alexnet_large

# appendix A: (layer, output shape as Keras H x W x C) for alexnet and alexnet_large
APPENDIX_A = {
    "pad1": ((228, 228, 1), (516, 420, 1)),
    "conv1": ((55, 55, 96), (127, 103, 96)),
    "pool1": ((27, 27, 96), (63, 51, 96)),
    "pad2": ((31, 31, 96), (67, 55, 96)),
    "conv2": ((27, 27, 256), (63, 51, 256)),
    "pool2": ((13, 13, 256), (31, 25, 256)),
    "pad3": ((15, 15, 256), (33, 27, 256)),
    "conv3": ((13, 13, 384), (31, 25, 384)),
    "pad4": ((15, 15, 384), (33, 27, 384)),
    "conv4": ((13, 13, 384), (31, 25, 384)),
    "pad5": ((15, 15, 384), (33, 27, 384)),
    "conv5": ((11, 11, 256), (29, 23, 256)),
    "pool5": ((5, 5, 256), (14, 11, 256)),
}


def _count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize(("builder", "expected"), [(alexnet_grey, 46_105_282),
                                                   (alexnet_large, 181_371_586)])
def test_parameter_count_matches_table_6_1(builder, expected):
    with torch.device("meta"):
        assert _count(builder()) == expected


@pytest.mark.parametrize(("builder", "column"), [(alexnet_grey, 0), (alexnet_large, 1)])
def test_intermediate_shapes_match_appendix_a(builder, column):
    with torch.device("meta"):
        model = builder()
        seen = {}
        for name, module in model.features.named_children():
            module.register_forward_hook(
                lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:])))
        out = model(torch.zeros(1, 1, *model.input_size))
    for name, shapes in APPENDIX_A.items():
        h, w, c = shapes[column]
        assert seen[name] == (c, h, w), name
    assert model.classifier.fc1.in_features == {0: 6400, 1: 39424}[column]
    assert tuple(out.shape) == (1, 2)


def test_split_convolutions_are_grouped():
    with torch.device("meta"):
        model = alexnet_grey()
    groups = {n: m.groups for n, m in model.features.named_children() if hasattr(m, "groups")}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    assert model.features.conv5.kernel_size == (5, 5)
    assert model.features.lrn1.size == 5
    # LRN follows pooling, as in appendix A
    names = [n for n, _ in model.features.named_children()]
    assert names.index("lrn1") == names.index("pool1") + 1


def test_smoke_forward_backward():
    torch.manual_seed(0)
    # a smaller input keeps fc1 small; the layers are those of alexnet_grey
    model = create_model("alexnet_grey", input_size=(128, 128))
    out = model(torch.randn(2, 1, 128, 128))
    out.sum().backward()
    assert out.shape == (2, 2) and torch.isfinite(model.features.conv1.weight.grad).all()


def test_exception_wrong_input_size():
    with torch.device("meta"):
        model = alexnet_grey()
        with pytest.raises(ValueError, match=r"built for inputs of size \(224, 224\)"):
            model(torch.zeros(1, 1, 256, 256))
    with pytest.raises(ValueError, match="too small"):
        alexnet_grey(input_size=(32, 32))


def test_he_initialisation_by_default():
    # He et al.: N(0, 2 / fan_in) weights, zero biases (the module notes say why)
    torch.manual_seed(0)
    model = create_model("alexnet_grey", input_size=(128, 104), width=0.25, fc_size=256)
    for layer in (model.features.conv1, model.features.conv3, model.classifier.fc1):
        fan_in = layer.weight[0].numel()
        assert abs(float(layer.weight.detach().std()) / (2 / fan_in) ** 0.5 - 1) < 0.1
        assert float(layer.bias.detach().abs().max()) == 0.0
    torch.manual_seed(0)
    default = create_model("alexnet_grey", input_size=(128, 104), width=0.25, fc_size=256,
                           init="torch")
    assert float(default.features.conv1.bias.detach().abs().max()) > 0  # PyTorch's uniform biases
    with pytest.raises(ValueError, match="init must be"):
        alexnet_grey(init="glorot")

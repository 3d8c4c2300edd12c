"""The cheaper filter expansion: e2cnn's filter and gradient, for every conv the library builds."""

from __future__ import annotations

import pytest
import torch

from histomammo.models._e2cnn_fast import R2Conv, first_row_plan
from histomammo.models.densenet_p4m import P4MDenseNet
from histomammo.models.equivariant import GCNN, enn, group_space, regular
from histomammo.models.equivariant_allconv import AllGConvNet

MODELS = {
    "gcnn-p4": lambda: GCNN("p4", widths=(2, 3, 3), hidden=8),
    "gcnn-p4m": lambda: GCNN("p4m", widths=(2, 3, 3), hidden=8),
    "densenet-p4m": lambda: P4MDenseNet(growth=1, layers_per_block=1),
    "densenet-p4": lambda: P4MDenseNet(growth=1, layers_per_block=1, group="p4"),
    "allgconv-p4m": lambda: AllGConvNet("p4m", widths=(1, 1, 2, 2, 2, 2)),  # 2x2 and 3x3
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_filter_and_gradient_equal_e2cnn_expansion(name):
    torch.manual_seed(0)
    convs = [m for m in MODELS[name]().modules() if isinstance(m, enn.R2Conv)]
    assert convs and all(isinstance(c, R2Conv) for c in convs)
    for conv in convs:
        assert conv._row_index is not None  # every conv of these models takes the fast path
        upstream = torch.randn_like(conv.expand_parameters()[0])
        results = []
        for expand in (R2Conv.expand_parameters, enn.R2Conv.expand_parameters):
            conv.weights.grad = None
            weight_filter, bias = expand(conv)
            (weight_filter * upstream).sum().backward()
            results.append((weight_filter.detach(), bias, conv.weights.grad.clone()))
        (fast, fast_bias, fast_grad), (slow, slow_bias, slow_grad) = results
        torch.testing.assert_close(fast, slow, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(fast_grad, slow_grad, atol=1e-5, rtol=1e-5)
        if slow_bias is not None:
            torch.testing.assert_close(fast_bias, slow_bias)


def test_state_dict_and_parameter_count_are_e2cnn_s():
    space = group_space("p4m")
    ours = R2Conv(regular(space, 2), regular(space, 3), 3)
    theirs = enn.R2Conv(regular(space, 2), regular(space, 3), 3)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    theirs.load_state_dict(ours.state_dict())
    x = enn.GeometricTensor(torch.randn(2, 16, 9, 9), ours.in_type)
    torch.testing.assert_close(ours(x).tensor, theirs(x).tensor, atol=1e-5, rtol=1e-5)
    ours.eval()  # e2cnn caches the filter it expands: ours comes from the fast expansion
    theirs.eval()
    torch.testing.assert_close(ours.filter, theirs.filter, atol=1e-6, rtol=1e-6)


def test_no_plan_without_a_copy_in_the_first_slice():
    basis = torch.tensor([[[[1.0, 2.0]], [[3.0, 1.0]]]])  # second slice is no permutation
    assert first_row_plan(basis) is None
    row, index = first_row_plan(torch.tensor([[[[1.0, 2.0]], [[2.0, 1.0 + 1e-9]]]]))
    assert index.tolist() == [0, 1, 1, 0]

"""AllGConvNet: the All-CNN with group convolutions, invariant through the group-and-space mean."""

from __future__ import annotations

import pytest
import torch

from histomammo.models.equivariant import enn
from histomammo.models.equivariant_allconv import AllGConvNet


@pytest.mark.parametrize("group", ["p4", "p4m"])
def test_logits_invariant_at_an_exact_size_before_and_after_export(group):
    torch.manual_seed(0)
    model = AllGConvNet(group, widths=(1, 1, 2, 2, 2, 2)).eval()
    x = torch.randn(2, 3, 94, 94, generator=torch.Generator().manual_seed(1))
    exported = model.export()
    with torch.no_grad():
        y = model(x)
        field = enn.GeometricTensor(x, model.in_type)
        for g in model.in_type.gspace.testing_elements:
            xg = field.transform(g).tensor
            assert (model(xg) - y).abs().max() < 1e-4
            assert (exported(xg) - y).abs().max() < 1e-4


def test_seed_layer_sizes_at_96():
    model = AllGConvNet("p4", widths=(1,) * 6).eval()
    x = enn.GeometricTensor(torch.zeros(1, 3, 96, 96), model.in_type)
    sides = []
    for module in [*model.features._modules.values(), model.classifier]:
        x = module(x)
        if isinstance(module, enn.R2Conv):
            sides.append(x.tensor.shape[-1])
    assert sides == [95, 94, 47, 46, 45, 22, 21, 20, 10, 9, 8, 4, 3, 2, 1, 1, 1]
    assert x.tensor.shape[1] == 2 * 4  # one regular field per class

"""P4M-DenseNet: 5 dense + 5 transition blocks, invariant to rotations and mirrors, exportable."""

from __future__ import annotations

import torch

from histomammo.models import create_model
from histomammo.models.densenet_p4m import DenseBlock, P4MDenseNet
from histomammo.models.equivariant import enn


def test_structure_and_invariance_before_and_after_export():
    torch.manual_seed(0)
    model = P4MDenseNet(growth=1, layers_per_block=1)
    blocks = [m for m in model.features._modules.values() if isinstance(m, DenseBlock)]
    pools = [m for m in model.features._modules.values() if isinstance(m, enn.PointwiseAvgPool)]
    assert len(blocks) == 5 and len(pools) == 5
    model.train()  # let the batch norms see data once, so eval mode is not the identity
    model(torch.rand(4, 3, 96, 96))
    model.eval()
    x = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    exported = model.export()
    with torch.no_grad():
        y = model(x)
        torch.testing.assert_close(exported(x), y, atol=1e-5, rtol=1e-5)
        field = enn.GeometricTensor(x, model.in_type)
        for g in model.in_type.gspace.testing_elements:  # 4 rotations x 2 mirrors
            assert (model(field.transform(g).tensor) - y).abs().max() < 1e-4
    assert len(list(model.in_type.gspace.testing_elements)) == 8


def test_registered():
    model = create_model("p4m_densenet", growth=1, layers_per_block=1, num_classes=3)
    assert model.head[-1].out_features == 3

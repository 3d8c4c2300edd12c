"""export()'s inference rewrites: each rewrite exact, the rewritten models equal to e2cnn's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from histomammo.models._inference import AffineReLU, ToChannelsLast, optimize_exported
from histomammo.models.densenet_p4m import P4MDenseNet
from histomammo.models.equivariant import GCNN
from histomammo.models.equivariant_allconv import AllGConvNet


def _with_statistics(bn: nn.BatchNorm2d, seed: int) -> nn.BatchNorm2d:
    """A batch norm whose running statistics and affine parameters are far from the identity."""
    g = torch.Generator().manual_seed(seed)
    c = bn.num_features
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=g))
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
        bn.weight.copy_(torch.randn(c, generator=g))
        bn.bias.copy_(torch.randn(c, generator=g))
    return bn


def _types(model: nn.Module) -> list[str]:
    return [type(m).__name__ for m in model]


def test_each_rewrite_is_applied_and_exact():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3), _with_statistics(nn.BatchNorm2d(6), 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.3), _with_statistics(nn.BatchNorm2d(6), 2), nn.ReLU(),
        nn.Sequential(nn.Conv2d(6, 4, 1), nn.Identity()), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 3), nn.ReLU(),
    ).eval()
    fast = optimize_exported(model)
    assert _types(fast) == ["ToChannelsLast", "Conv2d", "MaxPool2d", "ReLU", "AffineReLU",
                            "AvgPool2d", "Conv2d", "Flatten", "Linear", "ReLU"]
    assert fast[1].weight.is_contiguous(memory_format=torch.channels_last)
    assert fast[3].inplace and fast[9].inplace
    x = torch.randn(2, 3, 18, 18, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), atol=1e-5, rtol=1e-5)
    assert not any(m.training for m in fast.modules())


def test_no_rewrite_where_the_identity_does_not_hold():
    overlapping = nn.Sequential(nn.Conv2d(2, 2, 1), nn.AvgPool2d(3, stride=1))
    strided = nn.Sequential(nn.Conv2d(2, 2, 1, stride=2), nn.AvgPool2d(2))
    padded_3x3 = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.AvgPool2d(2))
    for model in (overlapping, strided, padded_3x3):
        fast = optimize_exported(model.eval(), channels_last=False)
        assert _types(fast) == ["Conv2d", "AvgPool2d"]
        x = torch.randn(1, 2, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(fast(x), model(x))


def test_a_leading_relu_never_modifies_the_callers_input():
    model = nn.Sequential(nn.ReLU(), nn.Conv2d(2, 2, 1)).eval()
    fast = optimize_exported(model, channels_last=False)
    assert not fast[0].inplace
    x = torch.randn(1, 2, 4, 4)
    before = x.clone()
    fast(x)
    torch.testing.assert_close(x, before)


def test_affine_relu_equals_batch_norm_then_relu():
    bn = _with_statistics(nn.BatchNorm2d(5), 4).eval()
    x = torch.randn(3, 5, 6, 6).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(AffineReLU(bn)(x), torch.relu(bn(x)), atol=1e-6, rtol=1e-6)
    assert ToChannelsLast()(x) is x


@pytest.mark.parametrize("group", ["p4", "p4m"])
def test_gcnn_export_equals_the_model_and_e2cnn_export(group):
    torch.manual_seed(0)
    model = GCNN(group, widths=(2, 3, 3), hidden=8).eval()
    fast, plain = model.export(), model.export(optimize=False)
    assert not any(isinstance(m, nn.Dropout) for m in fast.modules())
    assert any(isinstance(m, nn.Dropout) for m in plain.modules())
    x = torch.randn(3, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
        torch.testing.assert_close(plain(x), y, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(fast(x), y, atol=1e-5, rtol=1e-5)


def test_densenet_export_with_learned_statistics_and_both_dense_block_paths():
    torch.manual_seed(0)
    model = P4MDenseNet(growth=1, layers_per_block=2).train()
    with torch.no_grad():
        for _ in range(3):  # the batch norms' running statistics move away from 0 / 1
            model(torch.rand(2, 3, 64, 64) * 2)
    model.eval()
    fast = model.export()
    names = {type(m).__name__ for m in fast.modules()}
    assert "BatchNorm2d" not in names and "AffineReLU" in names  # all folded or fused
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = model(x)
        torch.testing.assert_close(fast(x), y, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.export(optimize=False)(x), y, atol=1e-5, rtol=1e-5)
    # with gradients the exported dense blocks concatenate instead of filling a buffer
    torch.testing.assert_close(fast(x).detach(), y, atol=1e-5, rtol=1e-5)


def test_all_gconv_net_export_equals_the_model():
    torch.manual_seed(0)
    model = AllGConvNet("p4", widths=(1, 1, 2, 2, 2, 2)).eval()
    x = torch.randn(2, 3, 94, 94, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(model.export()(x), model(x), atol=1e-5, rtol=1e-5)


def test_affine_relu_refuses_a_norm_without_running_statistics():
    with pytest.raises(ValueError, match="track_running_stats=False"):
        AffineReLU(nn.BatchNorm2d(3, track_running_stats=False))

"""Tests of histomammo.models.unets: section 5.2 of the GlaS seed paper, shapes and size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from histomammo.models import create_model
from histomammo.models.unets import UNet


def _expected_parameters(in_ch: int, out_ch: int, base: int, depth: int) -> int:
    """Count by hand: 3x3 convs with bias, 2x2 transposed convs with bias, a 3x3 head."""
    conv = lambda i, o, k: i * o * k * k + o  # noqa: E731
    widths = [base * 2**level for level in range(depth + 1)]
    total = conv(in_ch, widths[0], 3) + conv(widths[0], widths[0], 3)
    for i in range(depth):  # encoder levels 1..depth-1 and the bottom
        total += conv(widths[i], widths[i + 1], 3) + conv(widths[i + 1], widths[i + 1], 3)
    for i in range(depth):  # decoder
        total += conv(widths[i + 1], widths[i], 2)
        total += conv(2 * widths[i], widths[i], 3) + conv(widths[i], widths[i], 3)
    return total + conv(widths[0], out_ch, 3)


def test_parameter_count_of_the_paper_configuration() -> None:
    model = UNet(in_channels=3, num_classes=1, base_channels=64, depth=4)
    count = sum(p.numel() for p in model.parameters())
    assert count == _expected_parameters(3, 1, 64, 4) == 31_032_257


def test_shapes_at_every_level_for_512_input() -> None:
    with torch.device("meta"):  # shapes only: no arithmetic on a 512x512 input
        model = UNet()
        maps = model.features(torch.empty(1, 3, 512, 512))
        out = model(torch.empty(1, 3, 512, 512))
    shapes = [tuple(m.shape[1:]) for m in maps]
    assert shapes == [
        (64, 512, 512), (128, 256, 256), (256, 128, 128), (512, 64, 64),  # encoder
        (1024, 32, 32),  # bottom
        (512, 64, 64), (256, 128, 128), (128, 256, 256), (64, 512, 512),  # decoder
    ]
    assert tuple(out.shape) == (1, 1, 512, 512)


def test_layers_are_the_papers() -> None:
    model = UNet()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    ups = [m for m in model.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(ups) == 4 and all(u.kernel_size == (2, 2) and u.stride == (2, 2) for u in ups)
    assert model.pool.kernel_size == 2
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == len(convs) - 1  # every conv but the output one


def test_output_is_logits_not_relu() -> None:
    torch.manual_seed(0)
    model = UNet(base_channels=4, depth=2)
    with torch.no_grad():
        model.head.bias.fill_(-1.0)  # a ReLU would clip these to 0, i.e. probability 0.5
        logits = model(torch.randn(2, 3, 16, 16))
    assert logits.shape == (2, 1, 16, 16) and (logits < 0).any()
    assert (torch.sigmoid(logits) < 0.5).any()


def test_registry_and_weights_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("unet", base_channels=4, depth=2)
    torch.save(model.state_dict(), tmp_path / "unet.pt")
    loaded = create_model("unet", base_channels=4, depth=2, weights=tmp_path / "unet.pt")
    x = torch.randn(1, 3, 8, 8)
    assert torch.equal(model(x), loaded(x))


def test_exception() -> None:
    with pytest.raises(ValueError, match="divisible by 16"):
        UNet(base_channels=2)(torch.zeros(1, 3, 40, 40))
    with pytest.raises(ValueError, match="depth"):
        UNet(depth=0)

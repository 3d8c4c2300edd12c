"""AllConvNet: the seed's listing layer by layer, 64,536,002 parameters, raw logits."""

from __future__ import annotations

import torch
from torch import nn

from histomammo.models import create_model
from histomammo.models.allconv import AllConvNet

# section 3.2.7.1, lines (2)-(28): output (channels index, side) after every convolution
SEED_SHAPES = [
    (0, 95), (0, 94), (0, 47), (1, 46), (1, 45), (1, 22), (2, 21), (2, 20), (2, 10),
    (3, 9), (3, 8), (3, 4), (4, 3), (4, 2), (4, 1), (5, 1), ("classes", 1),
]
SEED_DROPOUTS = [0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5]


def test_parameter_count():
    assert sum(p.numel() for p in AllConvNet().parameters()) == 64_536_002


def test_output_shape_at_every_listed_layer():
    widths = (3, 4, 5, 6, 7, 8)
    model = AllConvNet(widths=widths).eval()
    x = torch.zeros(2, 3, 96, 96)
    shapes, dropouts = [], []
    with torch.no_grad():
        for layer in model.layers:
            x = layer(x)
            if isinstance(layer, nn.Dropout):
                dropouts.append(layer.p)
            else:
                shapes.append(tuple(x.shape))
    expected = [(2, 2 if w == "classes" else widths[w], s, s) for w, s in SEED_SHAPES]
    assert shapes == expected
    assert dropouts == SEED_DROPOUTS
    assert model(torch.zeros(2, 3, 96, 96)).shape == (2, 2)


def test_no_softmax_no_activation_after_logits_and_biases_not_zero():
    model = AllConvNet(widths=(2,) * 6)
    assert isinstance(model.layers[-1], nn.Conv2d)  # the logits: no LeakyReLU, no softmax
    assert not any(isinstance(m, nn.Softmax) for m in model.modules())
    biases = [m.bias for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(b.abs().sum() > 0 for b in biases)  # the seed's first bug: biases zeroed
    torch.manual_seed(0)
    out = model.eval()(torch.rand(4, 3, 96, 96))
    assert not torch.allclose(out.softmax(1), torch.full_like(out, 0.5))


def test_glorot_initialisation():
    torch.manual_seed(0)
    conv = AllConvNet().layers[1][0]  # 320 -> 320, 2x2
    bound = (6 / (320 * 4 + 320 * 4)) ** 0.5
    assert conv.weight.abs().max() <= bound
    assert conv.weight.std() > 0.5 * bound / 3**0.5


def test_registered_with_weights(tmp_path):
    model = create_model("all_conv_net", widths=(2,) * 6)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    again = create_model("all_conv_net", widths=(2,) * 6, weights=tmp_path / "w.pt")
    assert torch.equal(model.layers[0][0].weight, again.layers[0][0].weight)

"""Shen et al.'s whole-image classifier built from a patch classifier."""

from __future__ import annotations

import pytest
import torch

from histomammo.models import create_model
from histomammo.models.vgg import VGG16GAP
from histomammo.models.whole_image import PatchToImageClassifier

SMALL_VGG_TOP = [(8, 1), (8, 1)]
SMALL_RESNET_TOP = [((8, 8, 32), 1), ((8, 8, 32), 2)]


class TinyPatchNet(torch.nn.Module):
    """The patch-classifier protocol (conv_body(), fc) at a size that tests run in ms."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, stride=4, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=8, padding=1), torch.nn.ReLU())
        self.fc = torch.nn.Linear(16, 5)

    def conv_body(self):
        return self.body


@pytest.fixture(scope="module")
def trained_like_resnet():
    torch.manual_seed(0)
    patch = create_model("resnet50_patch")
    with torch.no_grad():  # make the weights differ from any fresh initialisation
        for p in patch.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return patch


@pytest.mark.parametrize("heatmap", [False, True])
def test_weights_carry_over_tensor_by_tensor(trained_like_resnet, heatmap):
    patch = trained_like_resnet
    model = PatchToImageClassifier(patch, top="resnet", top_blocks=SMALL_RESNET_TOP,
                                   heatmap=heatmap)
    body = patch.conv_body().state_dict()
    carried = model.body.state_dict()
    assert body.keys() == carried.keys()
    for key, tensor in body.items():
        assert torch.equal(carried[key], tensor), key
        assert carried[key].data_ptr() != tensor.data_ptr()  # a copy, not shared
    if heatmap:
        assert torch.equal(model.heatmap_conv.weight[:, :, 0, 0], patch.fc.weight)
        assert torch.equal(model.heatmap_conv.bias, patch.fc.bias)


def test_heatmap_is_the_patch_classifier_everywhere():
    torch.manual_seed(0)
    patch = VGG16GAP(num_classes=5).eval()
    model = PatchToImageClassifier(patch, top="vgg", top_blocks=SMALL_VGG_TOP,
                                   heatmap=True).eval()
    x = torch.rand(2, 1, 64, 32)
    with torch.no_grad():
        logits = model.heatmap_conv(model.body(x)).mean(dim=(2, 3))
        torch.testing.assert_close(logits, patch(x), rtol=1e-4, atol=1e-5)
        assert model.heatmap(x).min() >= 0  # ReLU heatmap


@pytest.mark.parametrize(("top", "blocks", "heatmap", "head"), [
    ("resnet", SMALL_RESNET_TOP, False, "conv"),
    ("resnet", SMALL_RESNET_TOP, True, "conv"),
    ("vgg", SMALL_VGG_TOP, False, "conv"),
    ("vgg", SMALL_VGG_TOP, True, "fc"),
])
def test_smoke_shapes(top, blocks, heatmap, head):
    torch.manual_seed(0)
    patch = TinyPatchNet()
    model = PatchToImageClassifier(patch, top=top, top_blocks=blocks, heatmap=heatmap,
                                   head=head, input_size=(160, 128))
    out = model(torch.rand(1, 1, 160, 128))
    assert out.shape == (1, 2)
    out.sum().backward()
    new = [n for n, p in model.named_parameters() if n.startswith("top.")]
    assert new and all(model.get_parameter(n).grad is not None for n in new)


def test_fc_head_options():
    patch = TinyPatchNet()
    plain = PatchToImageClassifier(patch, head="fc", input_size=(128, 96), pool_size=None,
                                   shortcut=False, fc_hidden=())
    assert "shortcut" not in plain.top
    assert plain.top["fc"][-1].in_features == 5 * 4 * 3  # heatmap 4 x 3, not pooled
    assert plain(torch.rand(2, 1, 128, 96)).shape == (2, 2)


def test_default_top_blocks_follow_the_paper_patterns(trained_like_resnet):
    model = PatchToImageClassifier(trained_like_resnet)
    units = [list(block) for block in model.top["blocks"]]
    # the authors' best: two ResNet blocks [512-512-1024] x 2
    assert [len(u) for u in units] == [2, 2]
    first = units[0][0].body
    assert [first[i].out_channels for i in (0, 3, 6)] == [512, 512, 1024]
    assert first[0].stride == (2, 2)  # the stride on the block's first convolution
    assert units[0][1].body[0].stride == (1, 1)  # only the block's first unit downsamples


def test_default_vgg_top_blocks_are_512x1(trained_like_resnet):
    model = PatchToImageClassifier(trained_like_resnet, top="vgg")
    convs = [[m for m in block if isinstance(m, torch.nn.Conv2d)]
             for block in model.top["blocks"]]
    assert [[c.out_channels for c in block] for block in convs] == [[512], [512]]


def test_exception():
    patch = TinyPatchNet()
    with pytest.raises(ValueError, match="input_size"):
        PatchToImageClassifier(patch, head="fc")
    with pytest.raises(ValueError, match="top must be"):
        PatchToImageClassifier(patch, top="dense")
    with pytest.raises(TypeError, match="conv_body"):
        PatchToImageClassifier(torch.nn.Linear(2, 2))
    model = PatchToImageClassifier(patch, top="vgg", top_blocks=SMALL_VGG_TOP)
    with pytest.raises(RuntimeError, match="heatmap=False"):
        model.heatmap(torch.zeros(1, 1, 32, 32))


def test_fc_head_follows_the_patch_networks_device():
    # the flattened size is probed with zeros made on the body's device: on meta a CPU probe
    # would raise a device mismatch
    with torch.device("meta"):
        patch = VGG16GAP(num_classes=5, width=0.125)
        model = PatchToImageClassifier(patch, head="fc", input_size=(64, 64), fc_hidden=(8,))
        assert model(torch.empty(2, 1, 64, 64)).shape == (2, 2)

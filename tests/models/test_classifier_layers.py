"""Replacing a model's classifier; the patch classifier a whole-image model is built from."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from histomammo.models._classifier import conv_out_channels, new_classifier, sequential
from histomammo.models.whole_image import PatchToImageClassifier


def test_new_classifier_names_a_layer_it_cannot_replace():
    with pytest.raises(TypeError, match="cannot replace a classifier of type ReLU"):
        new_classifier(nn.ReLU(), 2)


def test_new_classifier_follows_the_old_layer():
    old = nn.Linear(8, 1000, bias=False).double()
    new = new_classifier(old, 3)
    assert isinstance(new, nn.Linear) and new.bias is None and new.weight.dtype == torch.float64


def test_layer_checks_name_what_they_found():
    assert conv_out_channels(nn.Conv2d(1, 7, 3)) == 7
    with pytest.raises(TypeError, match="expected an nn.Conv2d, got Linear"):
        conv_out_channels(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="top.fc is a Linear; expected an nn.Sequential"):
        sequential(nn.Linear(2, 2), "top.fc")


class _BiaslessPatchNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(4, 3, bias=False)

    def conv_body(self) -> nn.Module:
        return self.body


def test_heatmap_from_a_patch_classifier_without_bias():
    patch_net = _BiaslessPatchNet()
    model = PatchToImageClassifier(patch_net, top="vgg", top_blocks=[(4, 1)], heatmap=True)
    assert model.heatmap_conv.bias is None
    x = torch.rand(2, 1, 8, 8)
    expected = torch.relu(torch.einsum("nchw,kc->nkhw", patch_net.body(x), patch_net.fc.weight))
    torch.testing.assert_close(model.heatmap(x), expected)


def test_a_module_without_conv_body_is_refused():
    with pytest.raises(TypeError, match="conv_body"):
        PatchToImageClassifier(nn.Linear(2, 2), top="vgg")

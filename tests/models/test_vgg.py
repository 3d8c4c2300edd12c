"""Shen et al.'s VGG16 patch classifier with global average pooling."""

from __future__ import annotations

import torch
import torchvision

from histomammo.models import create_model, list_models
from histomammo.models.vgg import VGG16GAP, vgg16_gap


def test_parameter_count_and_torchvision_layout():
    with torch.device("meta"):
        model = vgg16_gap()
        reference = torchvision.models.vgg16()
    # VGG16's convolutions (14,714,688 with RGB input) less 2 x 64 x 9 stem weights, + 512x5+5
    assert sum(p.numel() for p in model.parameters()) == 14_714_688 - 1152 + 2565
    ours = {k: v.shape for k, v in model.features.state_dict().items()}
    theirs = {k: v.shape for k, v in reference.features.state_dict().items()}
    assert ours.keys() == theirs.keys()
    assert all(ours[k][0] == theirs[k][0] for k in ours)


def test_imagenet_weights_from_a_file(tmp_path):
    torch.manual_seed(0)
    rgb = VGG16GAP(num_classes=1000, in_channels=3)
    state = {f"features.{k}": v for k, v in rgb.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # torchvision's FC layers: ignored
    path = tmp_path / "vgg16.pt"
    torch.save(state, path)
    grey = vgg16_gap(weights=path)
    assert torch.equal(grey.features[0].weight, rgb.features[0].weight.sum(1, keepdim=True))
    assert torch.equal(grey.features[28].weight, rgb.features[28].weight)


def test_registry_sweep():
    names = list_models()
    for name in ("alexnet_grey", "alexnet_large", "resnet50_grey", "resnet50_patch",
                 "vgg16_gap", "patch_to_image"):
        assert name in names
    model = create_model("vgg16_gap", num_classes=3)
    assert model(torch.zeros(2, 1, 64, 64)).shape == (2, 3)

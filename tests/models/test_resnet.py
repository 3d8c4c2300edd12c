"""ResNet-50 with a greyscale stem: exact count, Keras stride placement, RGB weights."""

from __future__ import annotations

import pytest
import torch
import torchvision

from histomammo.errors import CheckpointError, MissingFileError
from histomammo.models import create_model
from histomammo.models.resnet import KERAS_CONV_BIASES, resnet50_grey, resnet50_patch


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_count_and_keras_difference():
    with torch.device("meta"):
        model = resnet50_grey()
        torchvision_layout = resnet50_grey(stride_in_1x1=False)
    assert _count(model) == 23_505_858 == _count(torchvision_layout)
    conv_channels = sum(m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv_channels == KERAS_CONV_BIASES  # one Keras bias per output channel
    assert _count(model) + KERAS_CONV_BIASES == 23_532_418  # table 6.1
    with torch.device("meta"):
        assert _count(resnet50_patch()) == 23_505_858 - 2 * 2049 + 5 * 2049


def test_stride_placement():
    with torch.device("meta"):
        keras, tv = resnet50_grey(), resnet50_grey(stride_in_1x1=False)
    for layer in ("layer2", "layer3", "layer4"):
        assert getattr(keras, layer)[0].conv1.stride == (2, 2)  # res3a_branch2a: stride 2
        assert getattr(keras, layer)[0].conv2.stride == (1, 1)
        assert getattr(tv, layer)[0].conv1.stride == (1, 1)
        assert getattr(tv, layer)[0].conv2.stride == (2, 2)
    with torch.device("meta"):
        reference = torchvision.models.resnet50(num_classes=2)
    reference_strides = {n: m.stride for n, m in reference.named_modules()
                         if isinstance(m, torch.nn.Conv2d)}
    assert reference_strides == {n: m.stride for n, m in tv.named_modules()
                                 if isinstance(m, torch.nn.Conv2d)}


@pytest.mark.parametrize(("size", "stages"), [
    ((224, 224), [(56, 56, 256), (28, 28, 512), (14, 14, 1024), (7, 7, 2048)]),
    ((512, 416), [(128, 104, 256), (64, 52, 512), (32, 26, 1024), (16, 13, 2048)]),
])
def test_intermediate_shapes_match_appendix_a(size, stages):
    with torch.device("meta"):
        model = resnet50_grey()
        seen = {}
        for name in ("layer1", "layer2", "layer3", "layer4"):
            getattr(model, name).register_forward_hook(
                lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:])))
        # res3a_branch2a's output (after the strided 1x1) is 28x28x128 at 224x224
        model.layer2[0].conv1.register_forward_hook(
            lambda _m, _i, out: seen.__setitem__("res3a_branch2a", tuple(out.shape[1:])))
        out = model(torch.zeros(1, 1, *size))
    for name, (h, w, c) in zip(("layer1", "layer2", "layer3", "layer4"), stages, strict=True):
        assert seen[name] == (c, h, w)
    assert seen["res3a_branch2a"] == (128, stages[1][0], stages[1][1])
    assert tuple(out.shape) == (1, 2)


def test_rgb_imagenet_weights_adapt_the_stem(tmp_path):
    torch.manual_seed(0)
    rgb = torchvision.models.resnet50()  # stands in for a user's saved ImageNet weights
    path = tmp_path / "resnet50_imagenet.pt"
    torch.save(rgb.state_dict(), path)
    grey = create_model("resnet50_grey", weights=path, stride_in_1x1=False)
    assert torch.equal(grey.conv1.weight, rgb.conv1.weight.sum(1, keepdim=True))
    assert torch.equal(grey.layer3[2].conv2.weight, rgb.layer3[2].conv2.weight)
    assert grey.fc.out_features == 2
    # a grey image through the grey stem == the same image as (g, g, g) through the RGB net
    grey.eval(), rgb.eval()
    image = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        expected = torch.nn.Sequential(*list(rgb.children())[:-2])(image.expand(1, 3, 64, 64))
        torch.testing.assert_close(grey.forward_features(image), expected, rtol=1e-4, atol=1e-4)


def test_own_weights_round_trip(tmp_path):
    model = resnet50_patch()
    path = tmp_path / "patch.pt"
    torch.save({"model": model.state_dict()}, path)  # a Trainer checkpoint's layout
    again = resnet50_patch(weights=path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  again.state_dict().values(), strict=True))


def test_exception_bad_weights_files(tmp_path):
    with pytest.raises(MissingFileError, match="nowhere.pt"):
        resnet50_grey(weights=tmp_path / "nowhere.pt")
    garbled = tmp_path / "garbled.pt"
    garbled.write_bytes(b"not a torch file at all")
    with pytest.raises(CheckpointError, match="garbled.pt"):
        resnet50_grey(weights=garbled)
    other = tmp_path / "other.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), other)
    with pytest.raises(CheckpointError, match="missing"):
        resnet50_grey(weights=other)

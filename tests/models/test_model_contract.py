"""The model contract, swept over every registered builder (timm's test_models.py in spirit).

Every builder: keyword-only ``num_classes``, ``weights`` and (where the input varies)
``in_channels``; builds small and runs a forward pass at a valid size; round-trips its weights
through the one loader; the large paper configurations build on the ``meta`` device with the
papers' parameter counts and output shapes. Every classifier offers timm's
``forward_features`` / ``forward_head`` / ``get_classifier`` / ``reset_classifier``.
"""

from __future__ import annotations

import inspect

import pytest
import torch

from histomammo.models import create_model, list_models
from histomammo.models._registry import _builder

# name -> (small builder kwargs, input of a valid small size)
SMALL: dict[str, tuple[dict, tuple[int, ...] | list[tuple[int, ...]]]] = {
    "alexnet_grey": (dict(input_size=(96, 96), width=0.05, fc_size=16), (2, 1, 96, 96)),
    "alexnet_large": (dict(input_size=(128, 104), width=0.05, fc_size=16), (2, 1, 128, 104)),
    "resnet50_grey": ({}, (2, 1, 32, 32)),
    "resnet50_patch": ({}, (2, 1, 32, 32)),
    "vgg16_gap": (dict(width=0.0625), (2, 1, 32, 32)),
    "patch_to_image": (dict(patch_net="vgg16_gap", top_blocks=[(8, 1), (8, 1)]),
                       (2, 1, 128, 128)),
    "all_conv_net": (dict(widths=(2,) * 6), (2, 3, 96, 96)),
    "gcnn": (dict(widths=(1, 1, 1), hidden=4), (2, 3, 32, 32)),
    "all_gconv_net": (dict(widths=(1,) * 6), (2, 3, 94, 94)),
    "plain_cnn": (dict(channels=(2, 2, 2), hidden=4), (2, 3, 32, 32)),
    "p4m_densenet": (dict(growth=1, layers_per_block=1), (2, 3, 32, 32)),
    "inception_v3_transfer": ({}, (2, 3, 75, 75)),
    "fasterrcnn_brecahad": (dict(min_size=64, max_size=64), [(3, 64, 64)]),
    "maskrcnn_glas": (dict(backbone="resnet18", min_size=64, max_size=64), [(3, 64, 64)]),
    "unet": (dict(base_channels=4, depth=2), (2, 3, 16, 16)),
}
# builders whose input is fixed (RGB detectors, Inception's ImageNet stem)
FIXED_INPUT = {"inception_v3_transfer", "fasterrcnn_brecahad", "maskrcnn_glas"}
# builders that pass other arguments on to torchvision's detector classes
PASS_THROUGH = {"fasterrcnn_brecahad", "maskrcnn_glas"}
NOT_CLASSIFIERS = {"fasterrcnn_brecahad", "maskrcnn_glas", "unet"}
# paper configurations that build on the meta device: (parameter count, input, output shape)
PAPER = {
    "alexnet_grey": (46_105_282, (1, 1, 224, 224), (1, 2)),
    "alexnet_large": (181_371_586, (1, 1, 512, 416), (1, 2)),
    "resnet50_grey": (23_505_858, (1, 1, 224, 224), (1, 2)),
    "vgg16_gap": (14_716_101, (1, 1, 224, 224), (1, 5)),
    "unet": (31_032_257, (1, 3, 512, 512), (1, 1, 512, 512)),
    "fasterrcnn_brecahad": (144_057_039, None, None),
    "all_conv_net": (64_536_002, (1, 3, 96, 96), (1, 2)),
}


def test_every_registered_model_is_in_the_sweep():
    assert set(list_models()) == set(SMALL)


def _inputs(spec, seed=0):
    generator = torch.Generator().manual_seed(seed)
    if isinstance(spec, list):
        return [torch.rand(*shape, generator=generator) for shape in spec]
    return torch.rand(*spec, generator=generator)


def _flat(output):
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        return [t for key in sorted(output) for t in _flat(output[key])]
    return [t for item in output for t in _flat(item)]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_signature_is_keyword_only(name):
    parameters = inspect.signature(_builder(name)).parameters
    required = {"num_classes", "weights"} | (set() if name in FIXED_INPUT else {"in_channels"})
    for argument in required:
        assert parameters[argument].kind is inspect.Parameter.KEYWORD_ONLY, argument
    if name in FIXED_INPUT:
        assert "in_channels" not in parameters
    var_keyword = [p for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert not var_keyword or name in PASS_THROUGH


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_and_weights_round_trip(name, tmp_path, one_thread):
    kwargs, spec = SMALL[name]
    torch.manual_seed(0)
    model = create_model(name, num_classes=2, **kwargs).eval()
    x = _inputs(spec)
    with torch.no_grad():
        expected = _flat(model(x))
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    torch.manual_seed(1)  # another initialisation, entirely overwritten by the file
    again = create_model(name, num_classes=2, weights=tmp_path / "weights.pt", **kwargs).eval()
    with torch.no_grad():
        got = _flat(again(x))
    assert len(got) == len(expected) > 0
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    if name not in NOT_CLASSIFIERS:
        assert expected[0].shape == (x.shape[0], 2)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_configuration_on_the_meta_device(name):
    count, shape, out = PAPER[name]
    with torch.device("meta"):
        model = create_model(name)
        assert sum(p.numel() for p in model.parameters()) == count
        if shape is not None:
            assert tuple(model.eval()(torch.empty(shape)).shape) == out


@pytest.mark.parametrize("name", sorted(set(SMALL) - NOT_CLASSIFIERS))
def test_timm_classifier_interface(name, one_thread):
    kwargs, spec = SMALL[name]
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, **kwargs).eval()
    x = _inputs(spec)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
        torch.testing.assert_close(model.forward_head(features), logits)
        pre_logits = model.forward_head(features, pre_logits=True)
    assert features.ndim == 4 and pre_logits.ndim == 2 and pre_logits.shape[0] == x.shape[0]
    assert logits.shape == (x.shape[0], 3)
    classifier = model.get_classifier()
    assert isinstance(classifier, torch.nn.Module)
    model.reset_classifier(5)
    assert model.get_classifier() is not classifier
    with torch.no_grad():
        assert model(x).shape == (x.shape[0], 5)
        torch.testing.assert_close(model.forward_features(x), features)  # features kept

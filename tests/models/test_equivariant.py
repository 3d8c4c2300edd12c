"""GCNN: the seed's layer sizes, invariant logits (P4: rotations; P4M: also mirrors) before and
after export(), the flatten head's equivariant features and non-invariant logits."""

from __future__ import annotations

import pytest
import torch

from histomammo.errors import CheckpointError, MissingFileError
from histomammo.models import create_model
from histomammo.models.equivariant import GCNN, SEED_FINAL_WIDTHS, SEED_WIDTHS, enn
from histomammo.models.equivariant_baseline import PlainCNN

SMALL = {"widths": (2, 3, 3), "hidden": 8}


def _transformed_inputs(model, x):
    """Each testing element of the model's group applied to ``x`` (e2cnn's own action)."""
    field = enn.GeometricTensor(x, model.in_type)
    return [(g, field.transform(g).tensor) for g in model.in_type.gspace.testing_elements]


def _max_logit_change(model, x):
    with torch.no_grad():
        y = model(x)
        return max((model(xg) - y).abs().max().item() for _, xg in _transformed_inputs(model, x))


@pytest.fixture(scope="module")
def patches():
    # oriented content (stripes along one axis, one bright corner): white noise alone is
    # isotropic in distribution, so pooled features of any CNN barely change when it turns
    noise = torch.randn(3, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    rows = torch.arange(96.0).reshape(1, 1, 96, 1)
    stripes = torch.sin(rows * torch.tensor([0.3, 0.5, 0.9]).reshape(3, 1, 1, 1))
    corner = torch.zeros(1, 1, 96, 96)
    corner[..., :24, :24] = 3.0
    return 0.3 * noise + stripes + corner


@pytest.mark.parametrize("group", ["p4", "p4m"])
def test_invariant_head_logits_are_invariant_before_and_after_export(group, patches):
    torch.manual_seed(0)
    model = GCNN(group, **SMALL).eval()
    exported = model.export()
    assert not any(type(m).__module__.startswith("e2cnn") for m in exported.modules())
    assert model.in_type.gspace.fibergroup.order() == {"p4": 4, "p4m": 8}[group]
    assert _max_logit_change(model, patches) < 1e-4
    with torch.no_grad():
        y = model(patches)
        torch.testing.assert_close(exported(patches), y, atol=1e-5, rtol=1e-5)
        for _, xg in _transformed_inputs(model, patches):
            assert (exported(xg) - y).abs().max().item() < 1e-4


def test_p4_rotations_are_90_degree_turns(patches):
    # the group elements tested above are the seed's 90/180/270-degree rotations (and identity)
    model = GCNN("p4", **SMALL).eval()
    turned = [xg for _, xg in _transformed_inputs(model, patches)]
    assert len(turned) == 4
    expected = [torch.rot90(patches, k, dims=(2, 3)) for k in range(4)]
    assert all(any(torch.equal(t, e) for e in expected) for t in turned)
    with torch.no_grad():
        y = model(patches)
        for k in (1, 2, 3):
            assert (model(torch.rot90(patches, k, dims=(2, 3))) - y).abs().max() < 1e-4


def test_p4_is_not_mirror_invariant_but_p4m_is(patches):
    torch.manual_seed(0)
    p4, p4m = GCNN("p4", **SMALL).eval(), GCNN("p4m", **SMALL).eval()
    mirrored = patches.flip(3)
    with torch.no_grad():
        assert (p4(mirrored) - p4(patches)).abs().max() > 1e-4
        assert (p4m(mirrored) - p4m(patches)).abs().max() < 1e-4


def test_plain_cnn_is_not_invariant(patches):
    # the same check the G-CNNs pass fails for the plain CNN of equal width; high-contrast
    # patches, because a freshly initialised network's logits barely depend on its input
    torch.manual_seed(0)
    contrast = 10 * patches
    cnn = PlainCNN(channels=(8, 12, 12), hidden=8).eval()  # GCNN("p4", **SMALL)'s maps
    gcnn = GCNN("p4", **SMALL).eval()
    with torch.no_grad():
        for model, varies in ((cnn, True), (gcnn, False)):
            y = model(contrast)
            change = max((model(torch.rot90(contrast, k, dims=(2, 3))) - y).abs().max().item()
                         for k in (1, 2, 3))
            assert (change > 1e-4) is varies, (type(model).__name__, change)


@pytest.mark.parametrize("group", ["p4", "p4m"])
def test_flatten_head_features_equivariant_logits_not(group, patches):
    torch.manual_seed(0)
    model = GCNN(group, head="flatten", **SMALL).eval()
    with torch.no_grad():
        features = model.feature_map(patches)
        assert features.tensor.shape[-2:] == (17, 17)
        for g, xg in _transformed_inputs(model, patches):
            # f(g x) = g f(x): maps rotate (and mirror) and each field's orientations permute
            torch.testing.assert_close(model.feature_map(xg).tensor,
                                       features.transform(g).tensor, atol=1e-5, rtol=1e-4)
        assert _max_logit_change(model, patches) > 1e-4
        torch.testing.assert_close(model.export()(patches), model(patches))


def test_seed_sizes():
    # section 3.3.2: 384 maps at 94 px ... 1536 at 17 px, flattened into 443,904 inputs
    assert GCNN.flatten_features("p4", SEED_WIDTHS) == 443_904
    assert GCNN.flatten_features("p4", SEED_FINAL_WIDTHS) == 443_904 // 2
    small = GCNN("p4", head="flatten", **SMALL).eval()
    assert small.head[1].in_features == GCNN.flatten_features("p4", SMALL["widths"])
    x = torch.zeros(1, 3, 96, 96)
    sizes = []
    for module in small.features._modules.values():
        x = module(x if isinstance(x, enn.GeometricTensor) else enn.GeometricTensor(x, small.in_type))
        if isinstance(module, (enn.R2Conv, enn.PointwiseMaxPool)):
            sizes.append(x.tensor.shape[-1])
    assert sizes == [94, 92, 46, 44, 42, 21, 19, 17]


def test_export_leaves_training_mode_and_shares_nothing():
    model = GCNN("p4m", **SMALL).train()
    exported = model.export()
    assert model.training and not exported.training
    ours = {p.data_ptr() for p in model.parameters()}
    assert not ours & {p.data_ptr() for p in exported.parameters()}


def test_builder_bad_arguments_and_weights(tmp_path):
    with pytest.raises(ValueError, match="group must be one of"):
        GCNN("p8")
    with pytest.raises(ValueError, match="head must be"):
        GCNN("p4", head="avg")
    with pytest.raises(ValueError, match="3 stage widths"):
        GCNN("p4", widths=(1, 2))
    model = create_model("gcnn", group="p4", **SMALL)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    again = create_model("gcnn", group="p4", weights=tmp_path / "w.pt", **SMALL)
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(MissingFileError, match="nope.pt"):
        create_model("gcnn", group="p4", weights=tmp_path / "nope.pt", **SMALL)
    (tmp_path / "garbled.pt").write_bytes(b"not a state dict")
    with pytest.raises(CheckpointError, match="garbled.pt"):
        create_model("gcnn", group="p4", weights=tmp_path / "garbled.pt", **SMALL)
    torch.save(create_model("gcnn", group="p4m", **SMALL).state_dict(), tmp_path / "p4m.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        create_model("gcnn", group="p4", weights=tmp_path / "p4m.pt", **SMALL)


@pytest.mark.slow
def test_seed_widths_build():
    # minutes on a CPU: e2cnn expands and initialises 384x384-field bases
    model = GCNN("p4", head="flatten", widths=SEED_WIDTHS, hidden=1)
    assert model.head[1].in_features == 443_904
    assert model.features._modules["0"].out_type.size == 384
    # e2cnn's counts (module docstring): 6 per lifting pair, 24 per regular pair (+ biases)
    weights = [m.weights.numel() for m in model.features.modules() if isinstance(m, enn.R2Conv)]
    assert weights[:2] == [6 * 3 * 96, 24 * 96 * 96]

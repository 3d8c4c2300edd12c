"""Exact invariance of every equivariant classifier at 96x96 and at the sides its docs list.

Invariance is measured as in issue 20: the largest change of a logit under a group element
(90-degree rotations; P4M also mirrors), divided by the largest change a new random input
makes; it must stay below 1e-3 before and after ``export()``. Sides that would break it raise
at the first forward pass, naming the valid sides, unless ``fit_input`` crops or pads them.
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from histomammo.errors import DataFormatError
from histomammo.models import AllGConvNet, calibrate_batchnorm, create_model
from histomammo.models import equivariant_allconv as allconv_module
from histomammo.models.invariance import invariance_ratio as measure

# model -> (builder kwargs at small widths, the sides its docs list)
MODELS = {
    "gcnn": (dict(widths=(2, 2, 2), hidden=8), (32, 64, 96, 100, 128)),
    "p4m_densenet": (dict(growth=2, layers_per_block=1), (32, 64, 96, 128)),
    "all_gconv_net": (dict(widths=(1, 1, 2, 2, 2, 2)), (94, 96, 126)),
}
GROUPS = ("p4", "p4m")


def invariance_ratio(model: nn.Module, group: str, side: int, seed: int = 0) -> float:
    """The library's measure on two random batches of ``side`` x ``side`` images."""
    generator = torch.Generator().manual_seed(seed)
    x, y = (torch.randn(2, 3, side, side, generator=generator) for _ in range(2))
    return measure(model, x, y, group)


def _model(name: str, group: str, **extra) -> nn.Module:
    kwargs, _ = MODELS[name]
    torch.manual_seed(0)
    model = create_model(name, group=group, **kwargs, **extra)
    if name == "p4m_densenet":  # running statistics, or the tiny model's activations vanish
        calibrate_batchnorm(model, torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(0)))
    return model.eval()


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_invariant_at_every_listed_side_before_and_after_export(name, group, one_thread):
    model = _model(name, group)
    exported = model.export()
    for side in MODELS[name][1]:
        assert invariance_ratio(model, group, side) < 1e-3, (name, group, side)
        assert invariance_ratio(exported, group, side) < 1e-3, (name, group, side, "exported")


@pytest.mark.parametrize("name,side", [("gcnn", 94), ("all_gconv_net", 96)])
def test_the_grid_matters(name, side, one_thread):
    # control: without the input check the same model is not invariant at a breaking side
    model = _model(name, "p4")
    model.input_grid = nn.Identity()
    assert invariance_ratio(model, "p4", side) > 1e-3


@pytest.mark.parametrize("name,sides,listed", [
    ("gcnn", (94, 95, 97), "32 + 4k"),
    ("p4m_densenet", (94, 95, 97), "32 + 32k"),
    ("all_gconv_net", (95, 96, 100), "94 + 32k"),
])
def test_breaking_sides_raise_at_the_first_forward(name, sides, listed):
    model = _model(name, "p4", fit_input="error")
    exported = model.export()
    for side in sides:
        for net in (model, exported):
            message = rf"input side {side} .*\({re.escape(listed)}\)"
            with pytest.raises(DataFormatError, match=message):
                net(torch.zeros(1, 3, side, side))


def test_fit_input_crops_or_pads_symmetrically(one_thread):
    crop = _model("gcnn", "p4", fit_input="crop")
    pad = _model("gcnn", "p4", fit_input="pad")
    x = torch.randn(1, 3, 98, 98)
    with torch.no_grad():
        torch.testing.assert_close(crop(x), crop(x[..., 1:-1, 1:-1]))  # 98 -> 96
        torch.testing.assert_close(pad(x), pad(nn.functional.pad(x, (1, 1, 1, 1))))  # -> 100
    assert invariance_ratio(crop, "p4", 98) < 1e-3 and invariance_ratio(pad, "p4", 98) < 1e-3
    with pytest.raises(DataFormatError, match="even difference"):
        crop(torch.zeros(1, 3, 97, 97))
    padded = _model("all_gconv_net", "p4m", fit_input="pad")  # 96 -> 126
    assert invariance_ratio(padded, "p4m", 96) < 1e-3
    assert padded.export()(torch.zeros(1, 3, 96, 96)).shape == (1, 2)


def test_parameter_count_formula_matches_built_models():
    for group in GROUPS:
        for widths in [(1, 1, 1, 1, 1, 1), (2, 3, 4, 5, 6, 7)]:
            built = AllGConvNet(group, widths=widths)
            assert allconv_module.all_gconv_parameters(group, widths) == sum(
                p.numel() for p in built.parameters())
    assert allconv_module.all_gconv_parameters("p4") == 196_642_562


def test_seed_widths_fail_fast_with_a_memory_estimate(monkeypatch):
    monkeypatch.setattr(allconv_module, "available_memory", lambda: 16 * 10**9)
    with pytest.raises(MemoryError, match=r"196,642,562 weights and needs about 67\.8 GB .* "
                                          r"but 16\.0 GB are available"):
        AllGConvNet("p4")
    monkeypatch.setattr(allconv_module, "available_memory", lambda: None)  # unknown: build
    assert AllGConvNet("p4", widths=(1,) * 6).group == "p4"


def test_the_measure_sees_a_plain_cnn_and_refuses_constant_models(one_thread):
    torch.manual_seed(0)
    plain = create_model("plain_cnn", channels=(4, 4, 4), hidden=8).eval()
    assert invariance_ratio(plain, "p4", 32) > 1e-2  # not invariant to rotations
    with pytest.raises(ValueError, match="do not depend on the input"):
        measure(lambda x: torch.zeros(len(x), 2), torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_models_follow_their_device(name):
    # on the meta device any tensor made on the CPU inside (the input grid's padding, the
    # dense block's output buffer) would raise a device mismatch
    model = _model(name, "p4", fit_input="pad")
    exported = model.export().to("meta")
    side = MODELS[name][1][0] + 2  # padded to the next valid side
    assert exported(torch.empty(2, 3, side, side, device="meta")).shape == (2, 2)

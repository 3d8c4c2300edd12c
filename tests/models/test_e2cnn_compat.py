"""The numpy-2 shim for e2cnn: applied only by models.equivariant, narrow, and every group and
representation the library builds works and is exactly equivariant under it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from histomammo.models import _e2cnn_compat
from histomammo.models.densenet_p4m import P4MDenseNet
from histomammo.models.equivariant import enn, group_space, regular
from histomammo.models.equivariant_allconv import _basis


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_applied_by_models_equivariant_only():
    out = _run(
        "import sys, histomammo, histomammo.models\n"
        "assert 'e2cnn' not in sys.modules\n"
        "from histomammo.models import _e2cnn_compat as c\n"
        "assert not c.is_applied() and 'e2cnn' not in sys.modules\n"
        "import histomammo.models.equivariant\n"
        "assert c.is_applied() or not c._numpy_needs_shim()\n"
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.skipif(hasattr(np.ndarray, "tostring"), reason="this numpy still has tostring")
def test_unpatched_e2cnn_fails_on_p4m():
    # the reason for the shim: without it a P4M convolution cannot even be built
    out = _run(
        "import e2cnn.gspaces as g, e2cnn.nn as enn\n"
        "s = g.FlipRot2dOnR2(4)\n"
        "enn.R2Conv(enn.FieldType(s, 3 * [s.trivial_repr]), enn.FieldType(s, [s.regular_repr]), 3)"
    )
    assert out.returncode != 0 and "tostring" in out.stderr


def test_apply_is_idempotent_and_patches_narrowly():
    from e2cnn.kernels import irreps_basis, utils

    if not _e2cnn_compat._numpy_needs_shim():  # numpy 1 (the floor): e2cnn runs as released
        assert _e2cnn_compat.apply() is False and not _e2cnn_compat.is_applied()
        assert not hasattr(utils.psi, "__histomammo_shim__")
        return
    assert _e2cnn_compat.apply() is True
    assert _e2cnn_compat.apply() is True
    for name in ("psi", "chi", "psichi"):
        assert getattr(utils, name).__histomammo_shim__
        assert getattr(irreps_basis, name) is getattr(utils, name)
    assert irreps_basis.R2DiscreteRotationsSolution.__hash__ is not _e2cnn_compat._hash_mu


def test_wrapped_functions_match_their_formulas():
    from e2cnn.kernels import chi, psi, psichi

    theta = np.array([0.0, 0.3, 1.2])
    expected = np.stack([[np.cos(2 * theta + 0.5), -np.sin(2 * theta + 0.5)],
                         [np.sin(2 * theta + 0.5), np.cos(2 * theta + 0.5)]])[:, :, None, :]
    np.testing.assert_allclose(psi(theta, 2, 0.5), expected)  # Python scalars k and gamma
    np.testing.assert_allclose(psi(theta, k=2, gamma=0.5), expected)
    np.testing.assert_array_equal(chi(1)[:, :, 0, 0], [[1, 0], [0, -1]])
    np.testing.assert_allclose(psichi(theta, 1, k=2, gamma=0.5)[:, 1], -expected[:, 1])


def test_patched_hash_agrees_with_equality():
    from e2cnn.kernels.irreps_basis import R2FlipsDiscreteRotationsSolution as Solution

    space = group_space("p4m")
    conv = _e2cnn_compat.r2conv(regular(space, 1), regular(space, 1), 3)  # hashes the dihedral bases
    assert conv.weights.numel() == 48
    group = space.fibergroup
    irrep = next(iter(group.irreps.values()))
    a, b = (Solution(group, irrep, irrep, axis=np.pi / 2, max_frequency=2) for _ in range(2))
    assert a == b and hash(a) == hash(b)
    # e2cnn's formula with tobytes() for tostring(). Python keeps a __hash__ result that fits
    # in 64 bits as it is (-1 becomes -2) and hashes a larger one again.
    value = hash(a.in_irrep) + hash(a.out_irrep) + hash(a.mu.tobytes()) + hash(a.gamma)
    expected = value if -(2**63) <= value < 2**63 else hash(value)
    assert hash(a) == (-2 if expected == -1 else expected)


def _equivariance_error(module, in_type, size: int) -> float:
    module.eval()
    x = enn.GeometricTensor(torch.randn(2, in_type.size, size, size), in_type)
    errors = []
    with torch.no_grad():
        y = module(x)
        for element in in_type.gspace.testing_elements:
            errors.append((module(x.transform(element)).tensor - y.transform(element).tensor)
                          .abs().max().item())
    return max(errors)


@pytest.mark.parametrize("group", ["p4", "p4m"])
def test_every_layer_the_library_builds_is_equivariant(group):
    torch.manual_seed(0)
    space = group_space(group)
    trivial = enn.FieldType(space, 3 * [space.trivial_repr])
    hidden = regular(space, 2)
    layers = {
        "lifting 3x3": (_e2cnn_compat.r2conv(trivial, hidden, 3), trivial, 9),
        "regular 3x3": (_e2cnn_compat.r2conv(hidden, hidden, 3), hidden, 9),
        "regular 3x3 padded": (_e2cnn_compat.r2conv(hidden, hidden, 3, padding=1), hidden, 8),
        "regular 1x1": (_e2cnn_compat.r2conv(hidden, hidden, 1), hidden, 8),
        "lifting 2x2": (_e2cnn_compat.r2conv(trivial, hidden, 2, **_basis(2)), trivial, 9),
        "regular 2x2 stride 2": (_e2cnn_compat.r2conv(hidden, hidden, 2, stride=2, **_basis(2)), hidden, 8),
        "max pool": (enn.PointwiseMaxPool(hidden, 2), hidden, 8),
        "avg pool": (enn.PointwiseAvgPool(hidden, 2), hidden, 8),
        "batch norm": (enn.InnerBatchNorm(hidden), hidden, 8),
        "group pooling": (enn.GroupPooling(hidden), hidden, 8),
    }
    for name, (module, in_type, size) in layers.items():
        assert _equivariance_error(module, in_type, size) < 1e-5, name


def test_densenet_block_types_build_under_the_shim():
    model = P4MDenseNet(growth=1, layers_per_block=1)
    assert sum(p.numel() for p in model.parameters()) > 0

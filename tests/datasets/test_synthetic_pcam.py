"""histomammo.datasets.synthetic.pcam: exact PCam layout, the labelling rule, learnability."""

from __future__ import annotations

import csv
import re

import h5py
import numpy as np
import pytest
import torch

from histomammo.datasets.synthetic import make_pcam

SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def pcam_root(tmp_path_factory):
    return make_pcam(tmp_path_factory.mktemp("pcam"), {"train": 96, "valid": 32, "test": 32},
                     seed=3, progress=False)


def _read(root, split):
    with h5py.File(root / f"camelyonpatch_level_2_split_{split}_x.h5") as f:
        x = f["x"][:]
    with h5py.File(root / f"camelyonpatch_level_2_split_{split}_y.h5") as f:
        y = f["y"][:]
    with open(root / f"camelyonpatch_level_2_split_{split}_meta.csv", newline="") as f:
        meta = list(csv.reader(f))
    return x, y, meta


def test_exact_layout(pcam_root):
    names = sorted(p.name for p in pcam_root.iterdir())
    assert names == sorted(
        f"camelyonpatch_level_2_split_{s}_{k}" for s in SPLITS for k in ("x.h5", "y.h5", "meta.csv")
    )
    for split, n in zip(SPLITS, (96, 32, 32), strict=True):
        x, y, meta = _read(pcam_root, split)
        assert x.shape == (n, 96, 96, 3) and x.dtype == np.uint8
        assert y.shape == (n, 1, 1, 1) and y.dtype == np.uint8
        assert set(np.unique(y)) == {0, 1} and y.sum() == n // 2
        assert meta[0] == ["", "coord_y", "coord_x", "tumor_patch", "center_tumor_patch", "wsi"]
        assert [int(row[0]) for row in meta[1:]] == list(range(n))
        for (_, cy, cx, tumor, centre, wsi), label in zip(meta[1:], y.ravel(), strict=True):
            assert int(cy) % 64 == 0 and int(cx) % 64 == 0
            assert centre == str(bool(label))  # the label is the centre flag
            assert tumor in ("True", "False") and (tumor == "True" or centre == "False")
            pattern = r"camelyon16_test_\d{3}" if split == "test" else \
                r"camelyon16_train_(normal|tumor)_\d{3}"
            assert re.fullmatch(pattern, wsi)
            if label:
                assert "normal" not in wsi  # tumour patches come from tumour slides


def test_train_and_valid_use_disjoint_slides(pcam_root):
    slides = {s: {row[5] for row in _read(pcam_root, s)[2][1:]} for s in SPLITS}
    assert not slides["train"] & slides["valid"]
    assert "camelyon16_test_049" not in slides["test"]  # the duplicate PCam leaves out


def test_seed_reproducible(tmp_path):
    a = make_pcam(tmp_path / "a", 6, seed=7, splits=["test"], progress=False)
    b = make_pcam(tmp_path / "b", 6, seed=7, splits=["test"], progress=False)
    c = make_pcam(tmp_path / "c", 6, seed=8, splits=["test"], progress=False)
    xa, xb, xc = (_read(r, "test")[0] for r in (a, b, c))
    np.testing.assert_array_equal(xa, xb)
    assert not np.array_equal(xa, xc)
    assert [p.name for p in sorted(a.iterdir())] == [p.name for p in sorted(b.iterdir())]


def _haematoxylin_dark(x):
    """Pixels dark enough in red and green to be tumour-class nuclei (bool, N x 96 x 96)."""
    return x[..., :2].astype(int).sum(-1) < 80


def test_labelling_rule_centre_holds_the_tumour(pcam_root):
    x, y, meta = _read(pcam_root, "train")
    dark = _haematoxylin_dark(x)
    centre = dark[:, 32:64, 32:64].mean(axis=(1, 2))
    y = y.ravel().astype(bool)
    assert centre[y].min() > 0.1 > 0.05 > centre[~y].max()


def test_negatives_may_hold_tumour_outside_the_centre(tmp_path):
    root = make_pcam(tmp_path, 32, seed=0, splits=["test"], edge_tumor_fraction=1.0,
                     progress=False)
    x, y, meta = _read(root, "test")
    edge = np.array([row[3] == "True" and row[4] == "False" for row in meta[1:]])
    assert edge.sum() >= 4 and not y.ravel()[edge].any()
    dark = _haematoxylin_dark(x[edge])
    assert dark[:, 32:64, 32:64].mean(axis=(1, 2)).max() < 0.05  # centre clear ...
    assert dark.mean(axis=(1, 2)).min() > 0.01  # ... tumour in the border


def test_he_colours(pcam_root):
    x = _read(pcam_root, "valid")[0].reshape(-1, 3).astype(float)
    r, g, b = x.mean(0)
    assert g < r and g < b  # pink/purple: eosin and haematoxylin both absorb green
    assert x.max() > 200 and x.min() < 80


def _vertical_bias(dark):
    """Per patch: dark pixel pairs 6 rows apart over pairs 6 columns apart (>1: vertical)."""
    dark = dark[:, 24:72, 24:72]
    vertical = (dark[:, :-6] & dark[:, 6:]).sum((1, 2))
    horizontal = (dark[:, :, :-6] & dark[:, :, 6:]).sum((1, 2))
    return vertical / np.maximum(horizontal, 1)


def test_upright_orientation_is_the_cue(tmp_path):
    root = make_pcam(tmp_path, 64, seed=0, upright=True, splits=["train"],
                     edge_tumor_fraction=0.0, progress=False)
    x, y, _ = _read(root, "train")
    y = y.ravel().astype(bool)
    dark = _haematoxylin_dark(x)
    centre = dark[:, 32:64, 32:64].mean(axis=(1, 2))
    decoys = ~y & (centre > 0.1)
    assert decoys.sum() >= 8  # benign centre clusters as dark and large as tumour ...
    assert centre[decoys].mean() > centre[y].mean()
    bias = _vertical_bias(dark)
    assert np.median(bias[y]) > 1.5 > 1.2 > np.median(bias[decoys])  # ... but round
    rotated = _vertical_bias(np.rot90(dark, 1, axes=(1, 2)))
    assert np.median(rotated[y]) < 0.7  # rotated, tumour nuclei lie horizontally
    default = make_pcam(tmp_path / "any", 32, seed=0, splits=["train"], progress=False)
    x, y, _ = _read(default, "train")
    bias = _vertical_bias(_haematoxylin_dark(x))[y.ravel().astype(bool)]
    assert 0.7 < np.median(bias) < 1.4  # without upright no direction dominates


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown split"):
        make_pcam(tmp_path, 4, splits=["val"], progress=False)
    with pytest.raises(ValueError, match="at least 1"):
        make_pcam(tmp_path, 0, progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        make_pcam(tmp_path, 4, positive_fraction=1.5, progress=False)


def test_learns(pcam_root):
    """A tiny CNN separates tumour from normal patches after two epochs on 96 patches.

    It max-pools over the whole patch, so it cannot tell border tumour (label 0) from centre
    tumour; the bar leaves room for those few negatives."""
    torch.manual_seed(0)
    x, y, _ = _read(pcam_root, "train")
    xs, ys, _ = _read(pcam_root, "test")
    to_tensor = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    x, xs = to_tensor(x), to_tensor(xs)
    y, ys = torch.from_numpy(y.ravel()).long(), torch.from_numpy(ys.ravel()).long()
    x, xs = (x - 0.5) / 0.25, (xs - 0.5) / 0.25
    net = torch.nn.Sequential(
        torch.nn.AvgPool2d(4), torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveMaxPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, 2),
    )
    optimiser = torch.optim.Adam(net.parameters(), 1e-2)
    with torch.no_grad():
        before = (net(xs).argmax(1) == ys).float().mean().item()
    for _ in range(2):
        for batch in torch.randperm(len(x)).split(8):
            loss = torch.nn.functional.cross_entropy(net(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        accuracy = (net(xs).argmax(1) == ys).float().mean().item()
    assert accuracy >= 0.9 > before

"""The histology writers' ``stain=`` option: None writes the same bytes, a stain redraws the
images with its vectors (what a stain normaliser then measures), every reader still reads them."""

from __future__ import annotations

import numpy as np
import pytest

from histomammo.datasets import BreCaHAD, GlaS, PCam
from histomammo.datasets.synthetic import SYNTHETIC_STAINS, make_brecahad, make_glas, make_pcam
from histomammo.transforms.stain import macenko_stain_matrix


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(abs(a @ b), -1.0, 1.0))))


def test_pcam_stain_redraws_with_the_given_vectors(tmp_path):
    plain = make_pcam(tmp_path / "plain", 48, splits=["test"], progress=False)
    again = make_pcam(tmp_path / "again", 48, splits=["test"], progress=False, stain=None)
    purple = make_pcam(tmp_path / "purple", 48, splits=["test"], progress=False, stain="purple")
    name = "camelyonpatch_level_2_split_test_x.h5"
    assert (plain / name).read_bytes() == (again / name).read_bytes()
    original = np.stack([PCam(plain, "test")[i][0].permute(1, 2, 0).numpy() for i in range(48)])
    restained = np.stack([PCam(purple, "test")[i][0].permute(1, 2, 0).numpy() for i in range(48)])
    assert not np.array_equal(original, restained)
    # Macenko on the restained patches finds the purple haematoxylin, not Ruifrok's.
    found = macenko_stain_matrix(restained.reshape(-1, 96, 3))
    target, source = SYNTHETIC_STAINS["purple"], SYNTHETIC_STAINS["ruifrok"]
    assert _angle(found[:, 0], target[:, 0]) < _angle(found[:, 0], source[:, 0])


@pytest.mark.parametrize("writer", ["glas", "brecahad"])
def test_rgb_writers_take_a_stain(tmp_path, writer):
    if writer == "glas":
        kwargs = dict(counts={"train": 1, "testA": 1, "testB": 1}, size=(48, 64))
        plain, restained = (make_glas(tmp_path / n, **kwargs, stain=s)
                            for n, s in (("a", None), ("b", SYNTHETIC_STAINS["macenko"])))
        read = lambda root: GlaS(root, "train")[0][0]  # noqa: E731
    else:
        kwargs = dict(n_cases=1, images_per_case=1, size=(64, 80))
        plain, restained = (make_brecahad(tmp_path / n, **kwargs, stain=s)
                            for n, s in (("a", None), ("b", "purple")))
        read = lambda root: BreCaHAD(root, "train", names=["Case_1-01"], patches="downscale", image_size=None)[0][0]  # noqa: E731
    a, b = read(plain), read(restained)
    assert a.shape == b.shape and a.dtype == b.dtype and not np.array_equal(a.numpy(), b.numpy())


def test_unknown_stain_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown stain 'blue'"):
        make_pcam(tmp_path, 4, splits=["test"], progress=False, stain="blue")

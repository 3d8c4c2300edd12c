"""Tests of histomammo.datasets.synthetic.glas: the exact release layout and gland-like images."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage.measure import regionprops

from histomammo.datasets.synthetic.glas import GLAS_SIZES, draw_glands, make_glas


def test_layout_is_the_release_layout(tmp_path: Path) -> None:
    make_glas(tmp_path, counts={"train": 3, "testA": 2, "testB": 1}, seed=0)
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = ["Grade.csv"] + sorted(
        f"{split}_{i}{suffix}.bmp" for split, n in (("train", 3), ("testA", 2), ("testB", 1))
        for i in range(1, n + 1) for suffix in ("", "_anno"))
    assert names == expected
    lines = (tmp_path / "Grade.csv").read_text().splitlines()
    assert lines[0] == "name,patient ID, grade (GlaS), grade (Sirinukunwattana et al. 2015)"
    assert all(re.fullmatch(r"(train|testA|testB)_\d+, ?\d+, (benign|malignant), [a-z -]+", line)
               for line in lines[1:])
    assert all(int(line.split(",")[1]) in range(1, 17) for line in lines[1:])  # patients 1-16
    for split in ("train", "testA", "testB"):
        image = Image.open(tmp_path / f"{split}_1.bmp")
        anno = Image.open(tmp_path / f"{split}_1_anno.bmp")
        assert image.mode == "RGB" and anno.mode == "L"
        assert (image.height, image.width) in GLAS_SIZES  # real-like sizes
        assert anno.size == image.size


def test_deterministic(tmp_path: Path) -> None:
    a = make_glas(tmp_path / "a", counts={"testB": 2}, size=(64, 64), seed=3)
    b = make_glas(tmp_path / "b", counts={"testB": 2}, size=(64, 64), seed=3)
    for name in ("testB_2.bmp", "testB_2_anno.bmp", "Grade.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_glands_look_like_glands() -> None:
    rng = np.random.default_rng(0)
    image, labels = draw_glands((522, 775), rng, "benign")
    grey = image.astype(float).mean(-1)
    glands = labels > 0
    assert 5 <= labels.max() <= 20
    # a pale lumen inside every gland, dark nuclei on its ring, stroma between glands
    for region in regionprops(labels):
        inside = grey[labels == region.label]
        assert inside.max() > 220 and np.percentile(inside, 2) < 110
        assert 30 < region.equivalent_diameter_area < 220  # tens to a couple hundred pixels
    stroma = grey[~ndimage.binary_dilation(glands, iterations=3)]
    assert 150 < stroma.mean() < 220


def test_some_glands_touch_and_keep_their_labels() -> None:
    rng = np.random.default_rng(1)
    touching = 0
    for _ in range(6):
        _, labels = draw_glands((256, 256), rng, "benign")
        for label in range(1, labels.max() + 1):
            ring = ndimage.binary_dilation(labels == label) & ~(labels == label)
            touching += bool(np.any((labels[ring] > 0) & (labels[ring] != label)))
    assert touching >= 4


def test_malignant_glands_are_irregular() -> None:
    def solidity(grade: str) -> float:
        rng = np.random.default_rng(2)
        values = [r.solidity for _ in range(4)
                  for r in regionprops(draw_glands((400, 400), rng, grade)[1]) if r.area > 300]
        return float(np.mean(values))

    assert solidity("benign") > 0.97 > solidity("malignant") + 0.02


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="grade"):
        draw_glands((32, 32), np.random.default_rng(0), "cancer")
    with pytest.raises(ValueError, match="unknown splits"):
        make_glas(tmp_path, counts={"val": 1})

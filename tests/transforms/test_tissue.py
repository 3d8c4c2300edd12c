"""histomammo.transforms.tissue: PCam's saturation rule, Otsu, masks mapped to level 0."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import rgb2hsv

from histomammo.datasets.synthetic import make_slide
from histomammo.io import TiffImage
from histomammo.transforms.tissue import (
    TissueMask,
    otsu_tissue_mask,
    saturation_mask,
    tissue_mask,
)


@pytest.fixture(scope="module")
def slide(tmp_path_factory):
    return make_slide(tmp_path_factory.mktemp("slide") / "s.tif", (1024, 1536), levels=3,
                      mask_downsample=16)


def test_saturation_rule_matches_definition(rng):
    rgb = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    mask = saturation_mask(rgb, threshold=0.3, blur_sigma=0)
    np.testing.assert_array_equal(mask, rgb2hsv(rgb)[..., 1] >= 0.3)
    grey = np.full((8, 8, 3), 200, np.uint8)
    assert not saturation_mask(grey).any() and not otsu_tissue_mask(grey).any()


@pytest.mark.parametrize("method", ["saturation", "otsu"])
def test_slide_mask_matches_drawn_tissue(slide, method):
    with TiffImage(slide.path) as image:
        mask = tissue_mask(image, method)  # on the smallest level: downsample 4
    assert mask.downsample == 4.0 and mask.mask.shape == (256, 384)
    truth = np.kron(slide.tissue, np.ones((4, 4), bool))  # drawn at 16 -> level 2 pixels
    agreement = (mask.mask == truth).mean()
    assert agreement > 0.97, agreement


def test_fraction_in_level0_pixels():
    mask = TissueMask(np.array([[1, 0], [1, 1]], bool), downsample=10.0)
    assert mask.fraction(0, 0, 20, 20) == 0.75
    np.testing.assert_array_equal(mask.fraction(np.array([0, 0, 10]), np.array([0, 10, 10]),
                                                10, 10), [1.0, 0.0, 1.0])
    assert mask.fraction(5, 5, 10, 10) == 0.75  # straddles four mask pixels
    assert mask.fraction(100, 100, 10, 10) == 0.0  # outside: background


def test_bad_input(slide):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        saturation_mask(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="unknown tissue mask method"):
        tissue_mask(TiffImage(slide.path), "hsv")


def test_otsu_matches_reference():
    """The one Otsu (transforms.mammo.otsu_threshold) equals scikit-image's on saturation."""
    from skimage.filters import threshold_otsu

    rng = np.random.default_rng(3)
    for _ in range(20):
        rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        rgb[: rng.integers(1, 32)] = (235, 230, 240)
        saturation = rgb2hsv(rgb)[..., 1]
        expected = saturation > threshold_otsu(saturation)
        np.testing.assert_array_equal(otsu_tissue_mask(rgb, blur_sigma=0), expected)

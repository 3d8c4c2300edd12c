"""Colour spaces of the stain package against scikit-image, and the synthetic re-staining."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.color import hed_from_rgb, rgb2hsv, rgb2lab
from stain_cases import draw, synthetic_he

from histomammo.datasets.synthetic._stain import SYNTHETIC_STAINS, restain
from histomammo.errors import DataFormatError
from histomammo.transforms.stain._colour import (
    hed_to_rgb,
    hsv_to_rgb,
    lab_to_rgb,
    rgb_to_hed,
    rgb_to_hsv,
    rgb_to_lab,
)


def batch(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].double()


def channels_last(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("forward,backward,reference", [
    (rgb_to_lab, lab_to_rgb, rgb2lab), (rgb_to_hsv, hsv_to_rgb, rgb2hsv)])
def test_matches_skimage_and_inverts(ihc, forward, backward, reference):
    x = batch(ihc) / 255
    converted = forward(x)
    np.testing.assert_allclose(channels_last(converted), reference(ihc), atol=1e-10)
    torch.testing.assert_close(backward(converted), x, atol=1e-10, rtol=0)


def test_hed_is_skimage_rgb2hed_unclipped(ihc):
    expected = (np.log(np.maximum(ihc / 255, 1e-6)) / np.log(1e-6)) @ hed_from_rgb
    converted = rgb_to_hed(batch(ihc))
    np.testing.assert_allclose(channels_last(converted), expected, atol=1e-12)
    torch.testing.assert_close(hed_to_rgb(converted), batch(ihc).clamp_min(255e-6), atol=1e-9, rtol=0)


def test_restain_with_its_own_vectors_is_identity():
    image = synthetic_he()
    assert np.array_equal(restain(image, "ruifrok"), image)
    assert np.array_equal(restain(image, SYNTHETIC_STAINS["ruifrok"] * 3), image)  # columns normalised


@pytest.mark.parametrize("name", ["macenko", "purple"])
def test_restain_draws_the_new_vectors(mixed_concentrations, name):
    """Concentrations drawn with Ruifrok's vectors come back drawn with the new ones."""
    drawn = draw(mixed_concentrations, SYNTHETIC_STAINS["ruifrok"])
    expected = draw(mixed_concentrations, SYNTHETIC_STAINS[name]).astype(int)
    restained = restain(drawn, name, background=240).astype(int)
    assert np.abs(restained - expected).max() <= 2  # rounding of the drawn image, amplified
    assert np.abs(restained - expected).mean() < 0.3


def test_restain_strength_darkens():
    image = synthetic_he()
    assert restain(image, "ruifrok", strength=(1.5, 1.5)).mean() < image.mean() - 5


def test_restain_exceptions():
    with pytest.raises(ValueError, match="unknown stain"):
        restain(synthetic_he(), "blue")
    with pytest.raises(DataFormatError, match=r"\(3, 2\)"):
        restain(synthetic_he(), np.ones((2, 3)))
    with pytest.raises(DataFormatError, match="uint8"):
        restain(np.zeros((4, 4, 3)), "ruifrok")

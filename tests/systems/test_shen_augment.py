"""Shen et al.'s augmentation: flips, rotation, zoom, intensity shift, mean subtraction."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.datasets import compute_mean_std
from histomammo.systems.shen import IntensityShift, SubtractMean
from histomammo.systems.shen import shen_augmentation as shen


def test_composition_has_the_papers_ranges():
    steps = shen(mean=0.2).transforms
    kinds = [type(s) for s in steps]
    assert kinds == [v2.RandomHorizontalFlip, v2.RandomVerticalFlip, v2.RandomAffine,
                     IntensityShift, SubtractMean]
    affine = steps[2]
    assert list(affine.degrees) == [-25.0, 25.0] and tuple(affine.scale) == (0.8, 1.2)
    assert steps[3].max_shift == pytest.approx(20 / 255)
    assert steps[4].mean == 0.2
    assert IntensityShift in [type(s) for s in shen(value_scale=1).transforms]
    assert shen(value_scale=1).transforms[3].max_shift == 20


def test_intensity_shift_range_and_masks_untouched():
    torch.manual_seed(0)
    shift = IntensityShift(20 / 255)
    image = tv_tensors.Image(torch.full((1, 8, 8), 0.5))
    mask = tv_tensors.Mask(torch.ones(1, 8, 8, dtype=torch.uint8))
    draws = []
    for _ in range(200):
        out_image, out_mask = shift(image, mask)
        assert torch.equal(out_mask, mask)
        draws.append(float(out_image[0, 0, 0]) - 0.5)
    assert max(np.abs(draws)) <= 20 / 255 + 1e-6
    assert min(draws) < -0.06 and max(draws) > 0.06  # the whole range is used


def test_augmentation_moves_mask_with_image():
    torch.manual_seed(1)
    image = torch.zeros(1, 32, 32)
    image[0, 4:10, 4:10] = 1.0
    mask = tv_tensors.Mask((image > 0).to(torch.uint8))
    out_image, out_mask = shen()(tv_tensors.Image(image), mask)
    inside = out_image[out_mask.bool()]
    outside = out_image[~out_mask.bool()]
    assert inside.mean() > outside.mean() + 0.5


def test_mean_grey_is_compute_mean_std():
    # Shen et al.'s mean grey over whole images of different sizes: one image per batch,
    # every pixel weighs the same (the former mean_grey: 6 pixels of 3 and 4 of 0 -> 1.8)
    images = [torch.zeros(1, 2, 2), torch.full((1, 2, 3), 3.0)]
    mean, _ = compute_mean_std(images, batch_size=1, scale=False, progress=False)
    assert mean.tolist() == pytest.approx([1.8], abs=1e-12)
    with pytest.raises(ValueError, match="needs more than"):
        compute_mean_std([], batch_size=1, progress=False)

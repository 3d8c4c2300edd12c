"""Tests of histomammo.systems.glas: the paper's paired augmentation and inputs."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.systems.glas import (
    GLAS_MEAN,
    glas_augmentation,
    maskrcnn_input_transforms,
    unet_input_transforms,
)


def test_the_papers_three_steps_each_with_probability_half() -> None:
    steps = glas_augmentation().transforms
    assert isinstance(steps[0], v2.RandomVerticalFlip) and steps[0].p == 0.5
    assert isinstance(steps[1], v2.RandomHorizontalFlip) and steps[1].p == 0.5
    assert isinstance(steps[2], v2.RandomApply) and steps[2].p == 0.5
    crop = steps[2].transforms[0]
    assert isinstance(crop, v2.RandomCrop) and crop.size == (512, 512)


def test_each_step_fires_about_half_the_time() -> None:
    torch.manual_seed(0)
    image = tv_tensors.Image(torch.zeros(3, 40, 50, dtype=torch.uint8))
    augment = glas_augmentation(crop_size=32)
    cropped = sum(augment(image).shape[-2:] == (32, 32) for _ in range(200))
    assert 70 < cropped < 130


def test_masks_follow_the_image() -> None:
    torch.manual_seed(1)
    image = tv_tensors.Image(torch.randint(0, 255, (3, 64, 80), dtype=torch.uint8))
    masks = tv_tensors.Mask((image[:1] > 128).to(torch.uint8))
    for _ in range(10):
        out, out_masks = glas_augmentation(crop_size=48)(image, masks)
        assert torch.equal(out_masks, (out[:1] > 128).to(torch.uint8))


def test_input_pipelines() -> None:
    image = tv_tensors.Image(torch.full((3, 50, 70), 255, dtype=torch.uint8))
    mask = tv_tensors.Mask(torch.ones(50, 70, dtype=torch.uint8))
    out, out_mask = unet_input_transforms(False, size=64)(image, mask)
    assert out.shape == (3, 64, 64) and out.dtype == torch.float32
    assert out[0, 32, 32].item() == pytest.approx((1 - GLAS_MEAN[0]) / 0.229, rel=1e-4)
    assert out_mask.dtype == torch.uint8 and out_mask.shape == (64, 64)
    out = maskrcnn_input_transforms(False)(image)
    assert out.dtype == torch.float32 and out.max() == 1.0


def test_exception() -> None:
    with pytest.raises(ValueError, match="probability"):
        glas_augmentation(p=1.5)
    with pytest.raises(ValueError, match="crop_size"):
        glas_augmentation(crop_size=0)

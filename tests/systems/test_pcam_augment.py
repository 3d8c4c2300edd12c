"""PCam pipelines: output dtype, shape and normalisation; the seed's probabilities and ranges."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.systems import pcam


@pytest.fixture
def image():
    g = torch.Generator().manual_seed(0)
    return tv_tensors.Image(torch.randint(0, 256, (3, 96, 96), dtype=torch.uint8, generator=g))


def test_inception_transform_resizes_and_normalises(image):
    out = pcam.inception_transform()(image)
    assert out.shape == (3, 299, 299) and out.dtype == torch.float32
    flat = torch.full((3, 96, 96), 255, dtype=torch.uint8)
    expected = (1 - torch.tensor(pcam.IMAGENET_MEAN)) / torch.tensor(pcam.IMAGENET_STD)
    torch.testing.assert_close(pcam.inception_transform()(flat)[:, 0, 0], expected)


def test_augment_sets_run_and_keep_shapes(image):
    torch.manual_seed(0)
    for pipeline in (pcam.inception_run2_augment(size=96), pcam.all_cnn_augment()):
        out = pipeline(image)
        assert out.shape == (3, 96, 96) and out.dtype == torch.float32 and out.isfinite().all()


def test_seed_probabilities():
    steps = pcam.inception_run2_augment().transforms
    assert steps[1].degrees == [-45.0, 45.0]
    assert steps[2].p == steps[3].p == 0.3 and steps[4].p == steps[5].p == 0.3
    assert steps[4].transforms[0].shear == [-45.0, 45.0]
    steps = pcam.all_cnn_augment().transforms
    assert steps[1].p == 0.3 and steps[1].transforms[0].degrees == [-90.0, 90.0]
    assert steps[2].p == steps[3].p == 0.25 and steps[4].p == 0.5
    assert isinstance(steps[6], pcam.RandomPixelDropout) and steps[6].max_p == 0.2
    assert isinstance(steps[7], v2.ElasticTransform)


def test_pixel_dropout_zeroes_whole_pixels():
    torch.manual_seed(0)
    dropout = pcam.RandomPixelDropout(0.2)
    out = dropout(torch.ones(3, 64, 64))
    zero = out == 0
    assert torch.equal(zero[0], zero[1]) and torch.equal(zero[0], zero[2])
    assert 0 <= zero[0].float().mean() <= 0.3
    with pytest.raises(ValueError, match="max_p"):
        pcam.RandomPixelDropout(1.5)

"""HEDJitter (Tellez et al. 2018) and RandStainNA (Shen et al. 2022)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from skimage.color import hed_from_rgb, rgb2hsv, rgb2lab
from stain_cases import synthetic_he
from torchvision import tv_tensors

from histomammo.transforms.stain import (
    CRC_LAB_STATISTICS,
    HEDJitter,
    RandStainNA,
    StainNormalizer,
    StainStatistics,
    channel_statistics,
    hed_jitter,
)


def rgb2hed(image: np.ndarray) -> np.ndarray:
    """skimage's ``rgb2hed`` without its clipping at zero."""
    return (np.log(np.maximum(image / (255 if image.dtype == np.uint8 else 1), 1e-6)) / np.log(1e-6)) @ hed_from_rgb


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def as_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).movedim(-1, -3)


def test_hed_jitter_with_zero_range_is_identity(ihc):
    assert np.array_equal(HEDJitter(0, 0)(ihc), ihc)
    batch = as_tensor(np.stack([ihc[:128, :128], ihc[128:256, :128]]))
    assert torch.equal(HEDJitter(0, 0, jitter_dab=True)(batch), batch)
    floats = batch.double() / 255
    torch.testing.assert_close(HEDJitter(0, 0)(floats), floats, atol=2e-6, rtol=0)  # black comes back as 1e-6


def test_hed_jitter_reproducible_from_a_seed_and_per_image(ihc):
    tile = as_tensor(ihc[:96, :96])
    batch = torch.stack([tile, tile, tile])
    first, again = HEDJitter(0.2, 0.05, generator=seeded(5))(batch), HEDJitter(0.2, 0.05, generator=seeded(5))(batch)
    assert torch.equal(first, again)
    assert not torch.equal(first[0], first[1])  # one draw per image
    assert not torch.equal(first, HEDJitter(0.2, 0.05, generator=seeded(6))(batch))


def test_hed_jitter_follows_tellez(ihc):
    """Each stain's concentrations become ``s * c + t`` with ``|s - 1| <= alpha``, ``|t| <= beta``;
    DAB stays as it was unless asked."""
    image = ihc[:128, :128].astype(np.float64) / 255
    before = rgb2hed(image)
    for jitter_dab in (False, True):
        transform = HEDJitter(0.3, 0.02, jitter_dab=jitter_dab, generator=seeded(1))
        out = transform(image)
        after = rgb2hed(out)
        inside = ((out > 1e-3) & (out < 1) & (image > 1e-3)).all(-1)  # neither clipped nor floored
        for channel in range(3):
            slope, intercept = np.polyfit(before[inside, channel], after[inside, channel], 1)
            if channel == 2 and not jitter_dab:
                assert abs(slope - 1) < 1e-6 and abs(intercept) < 1e-8
            else:
                assert abs(slope - 1) <= 0.3 + 1e-6 and abs(intercept) <= 0.02 + 1e-8
                assert abs(slope - 1) > 1e-4


def test_hed_jitter_batched_equals_functional(ihc):
    batch = as_tensor(np.stack([ihc[:64, :64], ihc[64:128, :64]]))
    transform = HEDJitter(0.1, 0.01, generator=seeded(2))
    params = transform.make_params([batch])
    transform = HEDJitter(0.1, 0.01, generator=seeded(2))
    out = transform(batch)
    for i in range(2):
        single = hed_jitter(batch[i].permute(1, 2, 0).numpy(), params["scale"][i], params["shift"][i])
        assert np.array_equal(out[i].permute(1, 2, 0).numpy(), single)


def test_hed_jitter_keeps_boxes_and_masks(ihc):
    image = tv_tensors.Image(as_tensor(ihc[:64, :64]))
    boxes = tv_tensors.BoundingBoxes([[0, 0, 8, 8]], format="XYXY", canvas_size=(64, 64))
    mask = tv_tensors.Mask(torch.ones(64, 64, dtype=torch.uint8))
    out, out_boxes, out_mask = HEDJitter(generator=seeded())(image, boxes, mask)
    assert isinstance(out, tv_tensors.Image) and out_boxes is boxes and out_mask is mask


@pytest.mark.parametrize("transform", [HEDJitter(), RandStainNA()])
def test_follows_the_input_device(transform):
    images = torch.empty(4, 3, 16, 16, dtype=torch.uint8, device="meta")
    out = transform(images)
    assert out.device.type == "meta" and out.shape == images.shape and out.dtype == torch.uint8


def test_statistics_fit_matches_skimage(ihc):
    images = [ihc[:256], ihc[256:], synthetic_he()]
    for space, convert in (("lab", rgb2lab), ("hsv", rgb2hsv), ("hed", rgb2hed)):
        stats = StainStatistics.fit(images, space)
        means = np.array([convert(im).mean((0, 1)) for im in images])
        stds = np.array([convert(im).std((0, 1)) for im in images])
        atol = 1e-9
        np.testing.assert_allclose(stats.avg_mean, means.mean(0), atol=atol)
        np.testing.assert_allclose(stats.avg_std, means.std(0), atol=atol)
        np.testing.assert_allclose(stats.std_mean, stds.mean(0), atol=atol)
        np.testing.assert_allclose(stats.std_std, stds.std(0), atol=atol)


def test_randstainna_without_spread_is_reinhard_to_the_template(ihc):
    """A template distribution of width zero (``std_hyper=-1``) is Reinhard to that template."""
    target = ihc[256:].astype(np.float64) / 255
    source = target * 0.7 + 0.15
    stats = StainStatistics.fit(target, "lab")
    out = RandStainNA(stats, std_hyper=-1, generator=seeded())(source)
    expected = StainNormalizer("reinhard").fit(target).transform(source)
    np.testing.assert_allclose(out, expected, atol=1e-9)


@pytest.mark.parametrize("space", ["lab", "hsv", "hed"])
def test_randstainna_reaches_its_drawn_template(ihc, space):
    source = ihc[256:].astype(np.float64) / 255 * 0.8 + 0.1
    stats = StainStatistics.fit([ihc[:256], ihc[256:]], space)
    transform = RandStainNA(stats, std_hyper=-0.5, generator=seeded(4))
    params = transform.make_params([source])
    transform.generator = seeded(4)
    means, stds = channel_statistics(transform(source), space)
    channels = [1, 2] if space == "hsv" else [0, 1, 2]  # hue wraps around: its mean moves
    clipped = 0.05 if space == "hed" else 0.02
    np.testing.assert_allclose(means[0, channels], params["means"][0, channels], rtol=clipped, atol=1e-3)
    np.testing.assert_allclose(stds[0, channels], params["stds"][0, channels], rtol=3 * clipped, atol=1e-3)


@pytest.mark.parametrize("distribution,spread", [("normal", 1.0), ("laplace", 2**0.5), ("uniform", 3**0.5)])
def test_randstainna_template_distribution(distribution, spread):
    transform = RandStainNA(distribution=distribution, std_hyper=0.2, generator=seeded())
    images = torch.zeros(40_000, 3, 1, 1)
    means = transform.make_params([images])["means"].numpy()
    loc, scale = np.array(CRC_LAB_STATISTICS.avg_mean), np.array(CRC_LAB_STATISTICS.avg_std) * 1.2
    np.testing.assert_allclose(means.mean(0), loc, atol=0.05 * scale.max())
    np.testing.assert_allclose(means.std(0) / scale, spread, rtol=0.03)
    if distribution == "uniform":
        assert (np.abs(means - loc) <= 3 * scale + 1e-9).all()


def test_randstainna_reproducible_and_probability(ihc):
    batch = as_tensor(np.stack([ihc[:64, :64]] * 4))
    first = RandStainNA(generator=seeded(9))(batch)
    assert torch.equal(first, RandStainNA(generator=seeded(9))(batch))
    assert not torch.equal(first[0], first[1])
    assert torch.equal(RandStainNA(p=0.0, generator=seeded(9))(batch), batch)


@pytest.mark.parametrize("transform", [RandStainNA(generator=seeded()), HEDJitter(0, 0)])
def test_tiles_without_tissue_pass_through(ihc, transform, caplog):
    tiles = np.stack([np.full((32, 32, 3), 255, np.uint8), np.zeros((32, 32, 3), np.uint8),
                      np.full((32, 32, 3), (150, 60, 140), np.uint8)])
    with caplog.at_level(logging.WARNING, logger="histomammo.transforms.stain"):
        out = transform(tiles)
    assert np.array_equal(out, tiles) and np.isfinite(out).all()


def test_exception_on_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        HEDJitter(alpha=1.5)
    with pytest.raises(ValueError, match="beta"):
        HEDJitter(beta=-0.1)
    with pytest.raises(ValueError, match="distribution"):
        RandStainNA(distribution="cauchy")
    with pytest.raises(ValueError, match="color_space"):
        StainStatistics.fit(np.zeros((4, 4, 3), np.uint8), "xyz")
    with pytest.raises(ValueError, match="p must"):
        RandStainNA(p=2)

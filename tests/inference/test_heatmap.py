"""classify_slide: exact against patches cut directly, tissue, levels, mpp, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from histomammo.errors import DataFormatError
from histomammo.inference import Heatmap, classify_slide
from histomammo.io import TiffImage


def _direct(model, image, level, corners, size, chunk):
    """Softmax of the model over patches read straight from the file, ``chunk`` at a time."""
    patches = [torch.from_numpy(image.read_region(int(t), int(x), size, size, level)
                                .transpose(2, 0, 1).copy()).float() / 255 for t, x in corners]
    out = []
    with torch.no_grad():
        for i in range(0, len(patches), chunk):
            out.append(torch.softmax(model(torch.stack(patches[i : i + chunk])), 1))
    return torch.cat(out).numpy()


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_matches_reference(image, classifier, batch_size):
    heatmap = classify_slide(classifier, image, patch_size=64, stride=48, level=1,
                             tissue=None, batch_size=batch_size, progress=False)
    rows, cols = heatmap.shape
    assert (rows, cols) == ((256 - 64) // 48 + 1, (384 - 64) // 48 + 1)
    cells = [(i, j) for i in range(rows) for j in range(cols)]  # one stripe: row-major
    corners = [(i * 48, j * 48) for i, j in cells]
    expected = _direct(classifier, image, 1, corners, 64, batch_size)
    got = heatmap.probabilities.reshape(-1, 2)
    assert np.array_equal(got, expected)  # bitwise: same pixels, same batches
    assert np.array_equal(heatmap.positions[2, 3], [2 * 48 * 2, 3 * 48 * 2])  # level-0 pixels


def test_independent_of_batching_and_workers(image, classifier):
    runs = [classify_slide(classifier, image, patch_size=64, level=1, tissue=None,
                           batch_size=b, num_workers=w, progress=False).probabilities
            for b, w in ((5, 0), (5, 2), (64, 0))]
    assert np.array_equal(runs[0], runs[1])  # workers change nothing, bit for bit
    # torch's CPU kernels are not batch-invariant (a Linear layer differs by ~1e-8 between
    # batch sizes); the pixels and their batches are, so the results agree to rounding.
    np.testing.assert_allclose(runs[0], runs[2], rtol=0, atol=1e-6)


def test_tissue_skips_background(slide, image, classifier):
    heatmap = classify_slide(classifier, image, patch_size=32, level=1, tissue="otsu",
                             min_tissue=0.5, progress=False)
    probs = heatmap.probabilities
    kept = ~np.isnan(probs[..., 0])
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(probs[kept].sum(-1), 1.0, rtol=1e-6)
    # the drawn tissue mask (level-0 downsample 32 = one patch of level 1 at 32 px is 64 px
    # of level 0, two mask pixels): kept patches lie on drawn tissue
    centres = heatmap.positions[kept] + 32
    on_tissue = slide.tissue[centres[:, 0] // 32, centres[:, 1] // 32]
    assert on_tissue.mean() > 0.9
    image_l1 = heatmap.to_image(level=1)
    assert image_l1.shape == (256, 384, 2)
    i, j = np.argwhere(kept)[0]
    assert np.array_equal(image_l1[i * 32 + 5, j * 32 + 30], probs[i, j])
    assert np.array_equal(image_l1[::32, ::32], probs, equal_nan=True)


def test_mask_at_any_scale(slide, image, classifier):
    by_mask = classify_slide(classifier, image, patch_size=32, level=1, tissue=slide.tissue,
                             progress=False)
    kept = ~np.isnan(by_mask.probabilities[..., 0])
    # each 32-px patch of level 1 covers 2x2 mask pixels; kept iff at least half is tissue
    share = slide.tissue.reshape(8, 2, 12, 2).mean(axis=(1, 3))
    assert np.array_equal(kept, share >= 0.5)


def test_array_and_mpp(mpp_slide, classifier):
    with TiffImage(mpp_slide) as image:
        at_level = classify_slide(classifier, image, patch_size=32, level=1, tissue=None,
                                  progress=False)
        by_mpp = classify_slide(classifier, image, patch_size=32, mpp=0.52, tissue=None,
                                progress=False)  # within 10% of level 1's 0.5 um/px
        assert by_mpp.level == 1 and np.array_equal(at_level.probabilities,
                                                    by_mpp.probabilities)
        resampled = classify_slide(classifier, image, patch_size=32, mpp=0.75, tissue=None,
                                   progress=False)  # between levels: level 1 averaged down
        assert resampled.level == 1 and resampled.downsample == pytest.approx(3.0)
        assert resampled.shape == (512 // 3 // 32, 512 // 3 // 32)
        array = image.read_region(0, 0, 256, 256, level=1)
    from_array = classify_slide(classifier, array, patch_size=32, tissue=None, progress=False)
    assert np.array_equal(from_array.probabilities, at_level.probabilities)


def test_save_load(tmp_path, image, classifier):
    heatmap = classify_slide(classifier, image, patch_size=64, level=1, progress=False)
    back = Heatmap.load(heatmap.save(tmp_path / "h.npz"))
    assert np.array_equal(back.probabilities, heatmap.probabilities, equal_nan=True)
    assert back.level_shapes == heatmap.level_shapes and back.origin == heatmap.origin


def test_exception(image, mpp_slide, classifier):
    with pytest.raises(DataFormatError, match="smaller than the"):
        classify_slide(classifier, image, patch_size=300, level=1, progress=False)
    with pytest.raises(IndexError, match="level 5 does not exist"):
        classify_slide(classifier, image, patch_size=32, level=5, progress=False)
    with pytest.raises(DataFormatError, match="states no resolution"):
        classify_slide(classifier, image, patch_size=32, mpp=0.5, progress=False)
    with TiffImage(mpp_slide) as tagged, pytest.raises(DataFormatError, match="finer than"):
        classify_slide(classifier, tagged, patch_size=32, mpp=0.1, progress=False)
    wrong = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1))  # (N, 2, h, w), not (N, classes)
    with pytest.raises(DataFormatError, match=r"slide.tif: the model returned \(4, 2, 32, 32\)"):
        classify_slide(wrong, image, patch_size=32, level=1, tissue=None, batch_size=4,
                       progress=False)
    blank = np.full((64, 64, 3), 240, np.uint8)
    with pytest.warns(UserWarning, match="no patch holds enough tissue"):
        empty = classify_slide(classifier, blank, patch_size=32, progress=False)
    assert empty.probabilities.shape == (2, 2, 2) and np.isnan(empty.probabilities).all()


def test_transform_device_amp(image, classifier):
    plain = classify_slide(classifier, image, patch_size=64, level=1, tissue=None,
                           progress=False).probabilities
    seen = []

    def transform(tile):
        seen.append((type(tile).__name__, tile.dtype, tuple(tile.shape)))
        return tile.float() / 255

    transformed = classify_slide(classifier, image, patch_size=64, level=1, tissue=None,
                                 transform=transform, device="cpu", progress=False)
    assert seen[0] == ("Image", torch.uint8, (3, 64, 64))
    np.testing.assert_allclose(transformed.probabilities, plain, rtol=0, atol=1e-6)
    autocast = classify_slide(classifier, image, patch_size=64, level=1, tissue=None, amp=True,
                              progress=False).probabilities  # bfloat16 on the CPU
    assert autocast.dtype == np.float32
    np.testing.assert_allclose(autocast, plain, rtol=0, atol=0.05)


def test_channels_last_model(image, classifier):
    from histomammo.inference._tiles import channels_last

    plain = classify_slide(classifier, image, patch_size=64, level=1, tissue=None,
                           progress=False).probabilities
    assert not channels_last(classifier)
    nhwc = classifier.to(memory_format=torch.channels_last)
    assert channels_last(nhwc)
    fast = classify_slide(nhwc, image, patch_size=64, level=1, tissue=None, progress=False)
    np.testing.assert_allclose(fast.probabilities, plain, rtol=0, atol=1e-6)


def test_resampling_is_area_average(mpp_slide):
    from histomammo.inference._source import open_source

    with TiffImage(mpp_slide) as image:
        source = open_source(image, mpp=0.75)  # level 1 (0.5 um/px) averaged 1.5x down
        assert (source.level, source.scale, source.shape) == (1, 1.5, (170, 170))
        got = source.read(10, 20, 8, 8)
        region = image.read_region(15, 30, 12, 12, level=1).astype(np.float32)
        corner = source.read(0, 0, 2, 2)[0, 0]  # working pixel (0, 0): level pixels 0..1
        first = image.read_region(0, 0, 2, 2, level=1).mean((0, 1))
    expected = torch.nn.functional.adaptive_avg_pool2d(
        torch.from_numpy(region).permute(2, 0, 1), (8, 8)).permute(1, 2, 0).numpy()
    assert got.dtype == np.uint8 and np.array_equal(got, np.rint(expected).astype(np.uint8))
    assert np.array_equal(corner, np.rint(first))


def test_grayscale_otsu():
    """A mammogram-like image: the bright breast on a dark background is the tissue."""
    yy, xx = np.mgrid[:256, :256]
    image = np.where(((yy - 128) / 100) ** 2 + (xx / 150) ** 2 < 1, 3000, 200).astype(np.uint16)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 2))
    heatmap = classify_slide(model, image, patch_size=32, tissue="otsu", progress=False)
    kept = np.isfinite(heatmap.probabilities[..., 0])
    centres = heatmap.positions[..., 0] + 16, heatmap.positions[..., 1] + 16
    inside = ((centres[0] - 128) / 100) ** 2 + (centres[1] / 150) ** 2 < 1
    assert kept[inside].mean() > 0.9 and kept[~inside].mean() < 0.2

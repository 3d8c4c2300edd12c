"""histomammo.transforms.patches.slide: grid and random patches from tiled pyramids."""

from __future__ import annotations

import pickle
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from histomammo.datasets.synthetic import make_slide
from histomammo.errors import MissingDependencyError
from histomammo.io import TiffImage
from histomammo.transforms.patches.slide import SlidePatches


@pytest.fixture(scope="module")
def slide(tmp_path_factory):
    return make_slide(tmp_path_factory.mktemp("slide") / "s.tif", (1024, 1536), levels=3)


class CountingImage:
    """A TiffImage that records every region it is asked for."""

    def __init__(self, image):
        self.image, self.levels, self.calls = image, image.levels, []

    def read_region(self, *args, **kwargs):
        self.calls.append(args[:5])
        return self.image.read_region(*args, **kwargs)


def test_grid_patches_match_level(slide):
    image = TiffImage(slide.path)
    patches = SlidePatches(image, 96, level=1, stride=80)
    whole = image.read_region(0, 0, *image.levels[1].shape[:2], level=1)
    assert len(patches) == ((512 - 96) // 80 + 1) * ((768 - 96) // 80 + 1)
    for i in (0, 7, len(patches) - 1):
        pixels, where = patches[i]
        y, x = where["coord_y"] // 2, where["coord_x"] // 2
        assert where["index"] == i and tuple(pixels.shape) == (3, 96, 96)
        np.testing.assert_array_equal(pixels.permute(1, 2, 0).numpy(), whole[y : y + 96, x : x + 96])


def test_grid_decodes_each_block_once(slide):
    counting = CountingImage(TiffImage(slide.path))
    patches = SlidePatches(counting, 96, level=0, block=(256, 512))
    for i in range(len(patches)):
        patches[i]
    assert len(patches) == 10 * 16
    assert max(Counter(counting.calls).values()) == 1  # no block read twice ...
    assert len(counting.calls) == 4 * 3  # ... and only the 1024/256 x 1536/512 blocks


def test_tissue_filter(slide):
    image = TiffImage(slide.path)
    kept = SlidePatches(image, 64, tissue_mask="saturation", min_tissue=0.9)
    every = SlidePatches(image, 64)
    assert 0 < len(kept) < len(every)
    truth = slide.tissue  # 32 level-0 pixels per mask pixel: a 64 patch covers 2 x 2
    for y, x in kept.positions:
        assert truth[y // 32 : (y + 64) // 32, x // 32 : (x + 64) // 32].mean() >= 0.75


def test_random_patches_reproducible_and_worker_safe(slide):
    image = TiffImage(slide.path)
    a = SlidePatches(image, 96, level=1, n=24, tissue_mask="otsu", seed=5)
    b = SlidePatches(image, 96, level=1, n=24, tissue_mask="otsu", seed=5)
    c = SlidePatches(image, 96, level=1, n=24, tissue_mask="otsu", seed=6)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert not np.array_equal(a.positions, c.positions)
    serial = torch.stack([a[i][0] for i in range(len(a))])
    loader = DataLoader(a, batch_size=6, num_workers=2, multiprocessing_context="fork")
    torch.testing.assert_close(torch.cat([batch[0] for batch in loader]), serial)
    clone = pickle.loads(pickle.dumps(a))
    assert torch.equal(clone[3][0], serial[3])


@pytest.mark.parametrize(("compression", "layout"), [("jpeg", "subifd"), ("jpeg", "pages"),
                                                     ("jpeg2000", "subifd")])
def test_jpeg_pyramids(tmp_path, compression, layout):
    pytest.importorskip("imagecodecs")  # the slides extra, installed by `make venv`
    slide = make_slide(tmp_path / "s.tif", (768, 1024), levels=3, compression=compression,
                       layout=layout)
    image = TiffImage(slide.path)
    assert [lv.downsample for lv in image.levels] == [1.0, 2.0, 4.0]
    reference = make_slide(tmp_path / "z.tif", (768, 1024), levels=3, compression="zlib")
    lossless = TiffImage(reference.path)
    patches = SlidePatches(image, 96, level=1, tissue_mask="saturation")
    exact = SlidePatches(lossless, 96, level=1, tissue_mask="saturation")
    assert len(patches) > 0
    np.testing.assert_array_equal(patches.positions[:5], exact.positions[:5])
    error = (patches[0][0].float() - exact[0][0].float()).abs().mean()
    assert error < 8  # lossy, but the same picture


def test_missing_imagecodecs_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # import imagecodecs now fails
    with pytest.raises(MissingDependencyError, match=r"histomammo\[slides\]"):
        make_slide(tmp_path / "s.tif", (256, 256), levels=1, compression="jpeg")


def test_bad_arguments(slide):
    image = TiffImage(slide.path)
    with pytest.raises(ValueError, match="not both"):
        SlidePatches(image, 96, stride=96, n=4)
    with pytest.raises(ValueError, match="does not fit"):
        SlidePatches(image, 600, level=2)
    with pytest.raises(ValueError, match="min_tissue"):
        SlidePatches(image, 96, min_tissue=2)
    with pytest.raises(ValueError, match="found only"):
        SlidePatches(image, 96, n=10, tissue_mask=_all_background(image), min_tissue=0.5)
    with pytest.raises(IndexError):
        SlidePatches(image, 96)[10_000]


def _all_background(image):
    from histomammo.transforms.tissue import TissueMask

    return TissueMask(np.zeros((4, 4), bool), image.levels[0].shape[0] / 4)

"""histomammo.datasets.pcam_from_slides: PCam rules, splits by slide, resume, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import histomammo.datasets.pcam_from_slides as module
from histomammo.datasets import PCam, make_pcam_from_slides
from histomammo.datasets.synthetic import make_slide
from histomammo.errors import DataFormatError, MissingFileError
from histomammo.io import TiffImage
from histomammo.transforms.tissue import saturation_mask


@pytest.fixture(scope="module")
def slides(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slides")
    return [make_slide(folder / f"slide_{i}.tif", (1024, 1280), levels=3, seed=i)
            for i in range(3)]


@pytest.fixture(scope="module")
def made(slides, tmp_path_factory):
    out = tmp_path_factory.mktemp("pcam")
    masks = [slides[0].tumour, slides[1].tumour, None]  # slide_2: a normal slide
    return make_pcam_from_slides([s.path for s in slides], masks, out, level=1, n_patches=24,
                                 seed=0, progress=False)


def _centre_tumour(slide, y, x, downsample=2):
    """Whether the centre 32x32 of the level-1 patch at level-0 (y, x) touches tumour."""
    m = slide.downsample
    y0, x0 = y + 32 * downsample, x + 32 * downsample
    y1, x1 = y0 + 32 * downsample, x0 + 32 * downsample
    return bool(slide.tumour[y0 // m : -(-y1 // m), x0 // m : -(-x1 // m)].any())


def test_pcam_rules(made, slides):
    by_name = {s.path.stem: s for s in slides}
    seen = {}
    for split in ("train", "valid", "test"):
        data = PCam(made, split)
        assert len(data) == 24 and data.problems == []
        rows = [data.sample_info(i) for i in range(len(data))]
        seen[split] = {row["slide"] for row in rows}
        positives = data.targets.mean()
        if any(by_name[w].tumour.any() for w in seen[split]) and seen[split] != {"slide_2"}:
            assert 0.3 <= positives <= 0.7  # steered towards 50/50
        for i, row in enumerate(rows):
            slide = by_name[row["slide"]]
            truth = row["slide"] != "slide_2" and _centre_tumour(slide, row["coord_y"],
                                                                 row["coord_x"])
            assert row["center_tumor_patch"] == truth == bool(data.targets[i])
            assert row["tumor_patch"] or not row["center_tumor_patch"]
            pixels = data[i][0].permute(1, 2, 0).numpy()
            with TiffImage(slide.path) as image:
                expected = image.read_region(row["coord_y"] // 2, row["coord_x"] // 2, 96, 96, 1)
            np.testing.assert_array_equal(pixels, expected)
            assert saturation_mask(pixels).any()  # PCam's background rule
    assert sum(len(s) for s in seen.values()) == 3  # split by slide: each slide in one split
    assert not list(made.glob(".pcam_partial"))


def test_resumes_after_interruption(slides, tmp_path, monkeypatch):
    monkeypatch.setattr(module, "_CHUNK", 4)
    paths, masks = [s.path for s in slides[:2]], [s.tumour for s in slides[:2]]
    options = dict(level=1, n_patches=14, splits=["train", "train"], progress=False, seed=3)
    calls = {"n": 0}

    def flaky(patch):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return 0.5

    with pytest.raises(KeyboardInterrupt):
        make_pcam_from_slides(paths, masks, tmp_path / "a", hard_negative=flaky, **options)
    assert list((tmp_path / "a" / ".pcam_partial" / "train").glob("chunk_*.npz"))
    assert not list((tmp_path / "a").glob("*.h5"))  # nothing final until the split is whole
    make_pcam_from_slides(paths, masks, tmp_path / "a", hard_negative=lambda p: 0.5, **options)
    make_pcam_from_slides(paths, masks, tmp_path / "b", hard_negative=lambda p: 0.5, **options)
    a, b = PCam(tmp_path / "a", "train"), PCam(tmp_path / "b", "train")
    np.testing.assert_array_equal(a.images[:], b.images[:])
    keys = ("slide", "coord_y", "coord_x", "tumor_patch", "center_tumor_patch")
    assert [[a.sample_info(i)[k] for k in keys] for i in range(len(a))] == \
        [[b.sample_info(i)[k] for k in keys] for i in range(len(b))]
    assert not (tmp_path / "a" / ".pcam_partial").exists()


def test_hard_negative_hook(slides, tmp_path):
    seen = []

    def score(patch):
        seen.append(patch.shape)
        return 1.0 if patch.mean() < 200 else 0.0

    out = make_pcam_from_slides([slides[0].path], [slides[0].tumour], tmp_path, level=1,
                                n_patches=12, splits=["train"], hard_negative=score,
                                hard_negative_floor=0.0, progress=False)
    data = PCam(out, "train")
    negatives = data.images[:][data.targets == 0]
    assert len(negatives) and negatives.reshape(len(negatives), -1).mean(1).max() < 200
    assert set(seen) == {(96, 96, 3)}
    with pytest.raises(ValueError, match="no tissue patch accepted"):
        make_pcam_from_slides([slides[0].path], [None], tmp_path / "none", level=1,
                              n_patches=4, splits=["train"], hard_negative=lambda p: 0.0,
                              hard_negative_floor=0.0, progress=False)


def test_bad_input(slides, tmp_path):
    path = slides[0].path
    wrong = np.zeros((10, 40), bool)  # the slide is 1024 x 1280
    with pytest.raises(DataFormatError, match="aspect ratio"):
        make_pcam_from_slides([path], [wrong], tmp_path, splits=["train"], level=1,
                              progress=False)
    with pytest.raises(MissingFileError, match="no such annotation mask"):
        make_pcam_from_slides([path], [tmp_path / "nope.png"], tmp_path, splits=["train"],
                              progress=False)
    (tmp_path / "garbled.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataFormatError, match="garbled.png"):
        make_pcam_from_slides([path], [tmp_path / "garbled.png"], tmp_path, splits=["train"],
                              progress=False)
    with pytest.raises(ValueError, match="pass splits="):
        make_pcam_from_slides([path, path], [None, None], tmp_path, progress=False)
    with pytest.raises(ValueError, match="annotation masks"):
        make_pcam_from_slides([path], [], tmp_path, progress=False)
    (tmp_path / "garbled.tif").write_bytes(b"II*\x00" + bytes(300))
    with pytest.raises(DataFormatError, match="garbled.tif"):
        make_pcam_from_slides([tmp_path / "garbled.tif"], [None], tmp_path, splits=["train"],
                              progress=False)
    np.save(tmp_path / "mask.npy", slides[0].tumour)  # a mask file works like an array
    make_pcam_from_slides([path], [tmp_path / "mask.npy"], tmp_path / "ok", splits=["test"],
                          level=1, n_patches=4, progress=False)
    assert len(PCam(tmp_path / "ok", "test")) == 4

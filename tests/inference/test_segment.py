"""segment_slide: exact mean blending, seam-free Gaussian blending, disk outputs, resume."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from torch import nn

from histomammo.errors import DataFormatError
from histomammo.inference import OutputExistsError, _sinks, segment, segment_slide

zarr = pytest.importorskip("zarr")  # the disk outputs' dependency (the "slides" extra)


@pytest.fixture
def small_chunks(monkeypatch):
    """64-pixel chunks and 128-pixel stripes, so small images cross several of each."""
    monkeypatch.setattr(_sinks, "CHUNK", 64)
    monkeypatch.setattr(segment, "CHUNK", 64)
    monkeypatch.setattr(segment, "_STRIPE", 128)


def fcn() -> nn.Module:
    """Three 3x3 convolutions: a receptive field of 7 x 7 (radius 3)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                         nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1)).eval()


@pytest.fixture
def picture():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (300, 420, 3), dtype=np.uint8)


def whole(model, picture):
    x = torch.from_numpy(picture).permute(2, 0, 1).float()[None] / 255
    with torch.no_grad():
        return torch.softmax(model(x), 1)[0].numpy()


def test_mean_blend_matches_whole_image(picture):
    model = fcn()
    probs = segment_slide(model, picture, patch_size=64, overlap=8, blend="mean", tissue=None,
                          batch_size=5, progress=False)
    assert probs.shape == (3, 300, 420) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, whole(model, picture), rtol=0, atol=1e-5)
    # an overlap under the receptive field leaves the tiles' zero padding in the result
    short = segment_slide(model, picture, patch_size=64, overlap=2, blend="mean", tissue=None,
                          progress=False)
    assert np.abs(short - whole(model, picture)).max() > 1e-3


class PerTileOffset(nn.Module):
    """A segmenter whose logits shift with each tile's mean: seams wherever tiles meet."""

    def forward(self, x):
        smooth = nn.functional.avg_pool2d(x[:, :1], 5, 1, 2, count_include_pad=False)
        return torch.cat([smooth + 4 * x.mean(dim=(1, 2, 3), keepdim=True), -smooth], 1)


def _jumps(probs, starts, patch):
    """Largest change between neighbouring rows across tile borders and inside tiles."""
    step = np.abs(np.diff(probs[0], axis=0)).max(axis=1)  # between row r and r + 1
    border = np.zeros(len(step), bool)
    for s in starts:
        for edge in (s - 1, s + patch - 1):
            if 0 <= edge < len(step):
                border[edge] = True
    return step[border].max(), step[~border].max()


def test_gaussian_blend_has_no_seams():
    rng = np.random.default_rng(1)
    picture = (rng.random((256, 256)) * 0.2 + np.linspace(0, 0.8, 256)[:, None]).astype(np.float32)
    starts = segment.grid_starts(256, 64, 48, flush=True)
    gaussian = segment_slide(PerTileOffset(), picture, patch_size=64, overlap=16,
                             blend="gaussian", tissue=None, progress=False)
    across, inside = _jumps(gaussian, starts, 64)
    assert across <= inside
    # the mean of the tiles' centres cuts from one tile to the next halfway through the
    # overlap: there this model's seams show, three times the Gaussian's largest step
    mean = segment_slide(PerTileOffset(), picture, patch_size=64, overlap=16, blend="mean",
                         tissue=None, progress=False)
    cuts = _jumps(mean, starts + 8, 48)[0]
    assert cuts > 3 * max(across, inside)


@pytest.mark.parametrize("suffix", [".zarr", ".tif"])
def test_disk_output_matches_memory(tmp_path, picture, small_chunks, suffix):
    model = fcn()
    kwargs = dict(patch_size=48, overlap=8, tissue=None, batch_size=3, progress=False)
    memory = segment_slide(model, picture, **kwargs)
    out = segment_slide(model, picture, out=tmp_path / f"p{suffix}", **kwargs)
    assert out == tmp_path / f"p{suffix}" and not (tmp_path / f"p{suffix}.partial").exists()
    if suffix == ".zarr":
        group = zarr.open_group(out, mode="r")
        level0, level1 = group["0"][:], group["1"][:]
        assert group.attrs["blend"] == "gaussian" and group.attrs["levels"] == 4
    else:
        with tifffile.TiffFile(out) as tif:
            level0 = np.moveaxis(tif.series[0].levels[0].asarray(), -1, 0)
            level1 = np.moveaxis(tif.series[0].levels[1].asarray(), -1, 0)
    assert np.array_equal(level0, memory)
    np.testing.assert_allclose(level1, memory.reshape(3, 150, 2, 210, 2).mean(axis=(2, 4)),
                               rtol=1e-6)
    with pytest.raises(OutputExistsError, match="exists; pass resume=True"):
        segment_slide(model, picture, out=out, **kwargs)
    assert segment_slide(model, picture, out=out, resume=True, **kwargs) == out


def test_sparse_tissue_on_disk_stores_only_chunks_with_tissue(tmp_path, picture, small_chunks):
    """Chunks no tile touched are not written (zarr's NaN fill value reads back the same)."""
    model, tissue = fcn(), np.zeros((30, 42), bool)
    tissue[2:5, 20:23] = tissue[22:25, 33:36] = True  # two islands; none in the first stripe
    kwargs = dict(patch_size=48, overlap=8, tissue=tissue, batch_size=3, progress=False)
    memory = segment_slide(model, picture, **kwargs)
    out = segment_slide(model, picture, out=tmp_path / "p.zarr", **kwargs)
    group = zarr.open_group(out, mode="r")
    level0 = group["0"][:]
    assert np.array_equal(np.isnan(level0), np.isnan(memory)) and np.isnan(memory).mean() > 0.8
    # the stripes batch the tiles differently, and CPU kernels are not batch-invariant
    np.testing.assert_allclose(level0, memory, atol=1e-6)
    chunks = [p for p in (out / "0").rglob("*") if p.is_file() and p.name != "zarr.json"]
    assert 0 < len(chunks) < 5 * 7 // 2  # of 5 x 7 chunks, only those near the islands
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning, match="empty slice"):
        expected = np.nanmean(memory.reshape(3, 150, 2, 210, 2), axis=(2, 4))
    np.testing.assert_allclose(group["1"][:], expected, rtol=1e-6)  # NaN-aware, NaN where none


class Crash(RuntimeError):
    pass


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("crash_after", [2, 9, pytest.param(23, marks=pytest.mark.slow)])
def test_resume_is_byte_identical(tmp_path, picture, small_chunks, crash_after):
    model = fcn()
    kwargs = dict(patch_size=48, overlap=16, tissue=None, batch_size=4, progress=False)
    segment_slide(model, picture, out=tmp_path / "ref.zarr", **kwargs)
    calls = {"n": 0}
    forward = model.forward

    def failing(x):
        calls["n"] += 1
        if calls["n"] == crash_after:
            raise Crash
        return forward(x)

    model.forward = failing
    with pytest.raises(Crash):
        segment_slide(model, picture, out=tmp_path / "run.zarr", **kwargs)
    assert (tmp_path / "run.zarr.partial").exists() and not (tmp_path / "run.zarr").exists()
    model.forward = forward
    segment_slide(model, picture, out=tmp_path / "run.zarr", resume=True, **kwargs)
    assert _files(tmp_path / "run.zarr") == _files(tmp_path / "ref.zarr")


def test_exception(picture):
    with pytest.raises(DataFormatError, match=r"returned \(2, 3, 32, 32\).*\(2, classes, 64, 64\)"):
        segment_slide(nn.Conv2d(3, 3, 3, stride=2, padding=1), picture, patch_size=64,
                      overlap=8, tissue=None, batch_size=2, progress=False)
    with pytest.raises(DataFormatError, match="smaller than the"):
        segment_slide(fcn(), picture, patch_size=512, progress=False)
    with pytest.raises(ValueError, match="overlap must lie"):
        segment_slide(fcn(), picture, patch_size=64, overlap=64, progress=False)
    with pytest.warns(UserWarning, match="no patch holds enough tissue"):
        empty = segment_slide(fcn(), np.full((100, 100, 3), 240, np.uint8), patch_size=64, overlap=8,
                              progress=False)
    assert empty.shape == (3, 100, 100) and np.isnan(empty).all()

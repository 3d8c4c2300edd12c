"""StainNormalizer: identity on its target, known vectors restored, exact Reinhard statistics,
batched torch = per-image numpy, empty tiles untouched, state, slides, v2 pipelines."""

from __future__ import annotations

import logging
import pickle
from collections import UserList

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab
from stain_cases import angles, draw, psnr, reference_normalise, synthetic_he
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.datasets.synthetic._stain import SYNTHETIC_STAINS, restain
from histomammo.errors import CheckpointError, DataFormatError
from histomammo.transforms.stain import NormalizeStain, StainNormalizer, macenko_stain_matrix

METHODS = ["macenko", "vahadane", "reinhard"]


def normalizer(method: str) -> StainNormalizer:
    return StainNormalizer(method, generator=torch.Generator().manual_seed(0))


def patches(ihc: np.ndarray) -> np.ndarray:
    """17 patches of 64x64: real IHC tissue and synthetic H&E."""
    tiles = [ihc[y:y + 64, x:x + 64] for y in (0, 128, 256, 384) for x in (0, 192, 384)]
    he = synthetic_he()
    tiles += [he[y:y + 64, x:x + 64] for y in (0, 96) for x in (0, 64)] + [he[64:128, 128:192]]
    return np.stack(tiles)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("source", ["ihc", "synthetic_he"])
def test_target_normalised_to_itself(ihc, method, source):
    image = ihc if source == "ihc" else synthetic_he()
    assert psnr(normalizer(method).fit(image).transform(image), image) > 35


@pytest.mark.parametrize("method,stains", [("macenko", "mixed"), ("vahadane", "pure")])
@pytest.mark.parametrize("other", ["macenko", "purple"])
def test_restained_image_is_normalised_back(request, method, stains, other):
    c = request.getfixturevalue(f"{stains}_concentrations")
    truth = SYNTHETIC_STAINS["ruifrok"]
    target, source = draw(c, truth), draw(c, SYNTHETIC_STAINS[other])
    fitted = normalizer(method).fit(target)
    assert angles(fitted.target["stains"].numpy(), truth).max() < 2.0
    out = fitted.transform(source)
    assert angles(macenko_stain_matrix(out), truth).max() < 2.0
    assert psnr(out, target) > 30 > psnr(source, target)


def test_synthetic_writer_stains_normalised_back():
    """The library's synthetic H&E under two other stains comes back to the Ruifrok look."""
    image = synthetic_he()
    fitted = normalizer("macenko").fit(image)
    for name in ("macenko", "purple"):
        stained = restain(image, name)
        assert psnr(fitted.transform(stained), image) > psnr(stained, image) + 3


def test_reinhard_matches_target_lab_statistics(ihc):
    """A faded scan (lower contrast, brighter) of the target's tissue, mapped back: the output's
    CIELAB means and standard deviations are the target's. (Pairs whose mapping leaves the sRGB
    gamut are clipped on the way back to RGB, which moves the statistics: not tested here.)"""
    target = ihc[256:].astype(np.float64) / 255
    out = normalizer("reinhard").fit(target).transform(target * 0.7 + 0.15)
    assert ((out <= 0) | (out >= 1)).mean() < 1e-3
    lab_out, lab_target = rgb2lab(out), rgb2lab(target)
    np.testing.assert_allclose(lab_out.mean((0, 1)), lab_target.mean((0, 1)), atol=1e-3)
    np.testing.assert_allclose(lab_out.std((0, 1)), lab_target.std((0, 1)), atol=1e-3)
    assert np.abs(rgb2lab(target * 0.7 + 0.15).mean((0, 1)) - lab_target.mean((0, 1))).max() > 5


def test_macenko_matches_numpy_reference(ihc):
    target, image = ihc[:256], ihc[256:]
    out = normalizer("macenko").fit(target).transform(image.astype(np.float64) / 255) * 255
    np.testing.assert_allclose(out, reference_normalise(image, target), atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_batched_torch_equals_per_image_numpy(ihc, method):
    tiles = patches(ihc)
    fitted = normalizer(method).fit(synthetic_he())
    batch = torch.from_numpy(tiles).permute(0, 3, 1, 2).to(torch.float64) / 255
    batched = fitted.transform(batch).permute(0, 2, 3, 1).numpy()
    singles = np.stack([fitted.transform(tile.astype(np.float64) / 255) for tile in tiles])
    np.testing.assert_allclose(batched, singles, atol=1e-4)
    uint8 = fitted.transform(torch.from_numpy(tiles).permute(0, 3, 1, 2))
    assert uint8.dtype == torch.uint8 and uint8.shape == (len(tiles), 3, 64, 64)


@pytest.mark.parametrize("method", METHODS)
def test_tiles_without_tissue_pass_through(ihc, method, caplog):
    tiles = np.stack([np.full((64, 64, 3), 255, np.uint8), np.zeros((64, 64, 3), np.uint8),
                      np.full((64, 64, 3), (150, 60, 140), np.uint8), ihc[:64, :64]])
    tiles[0, :2, :2] = (100, 50, 100)  # four stained pixels: under 1% tissue
    fitted = normalizer(method).fit(ihc)
    for images in (tiles, torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 255):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="histomammo.transforms.stain"):
            out = fitted.transform(images)
        out = out if isinstance(out, np.ndarray) else out.permute(0, 2, 3, 1).mul(255).round().byte().numpy()
        assert np.array_equal(out[:3], tiles[:3])
        assert not np.array_equal(out[3], tiles[3])
        assert [r.getMessage() for r in caplog.records] == [
            "3 of 4 image(s) returned unchanged: less than 1% tissue or one colour"]


@pytest.mark.parametrize("method", METHODS)
def test_chunks_of_a_batch_equal_one_pass(ihc, method, monkeypatch, caplog):
    """Large batches go through in chunks of whole images: same output, one warning per call."""
    from histomammo.transforms.stain import _normalizer

    tiles = patches(ihc)
    tiles[3] = 255  # no tissue, in the first chunk
    tiles[10] = 255  # and in another
    fitted = normalizer(method).fit(synthetic_he())
    whole = fitted.transform(tiles)
    monkeypatch.setattr(_normalizer, "CHUNK_PIXELS", 3 * 64 * 64)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="histomammo.transforms.stain"):
        chunked = fitted.transform(tiles)
    np.testing.assert_array_equal(chunked, whole)
    assert [r.getMessage() for r in caplog.records] == [
        "2 of 17 image(s) returned unchanged: less than 1% tissue or one colour"]


@pytest.mark.parametrize("method", METHODS)
def test_fit_raises_on_empty_target(method):
    with pytest.raises(DataFormatError, match="tissue"):
        normalizer(method).fit(np.full((32, 32, 3), 255, np.uint8))
    with pytest.raises(RuntimeError, match="fit"):
        normalizer(method).transform(np.zeros((4, 4, 3), np.uint8))


def test_fit_on_several_images_pools_their_pixels(ihc):
    a, b = ihc[:, :200], ihc[:, 200:]
    several = normalizer("macenko").fit([a, b]).target
    pooled = normalizer("macenko").fit(np.concatenate([a, b], axis=1)).target
    for key in pooled:
        torch.testing.assert_close(several[key], pooled[key])
    from_user_list = normalizer("macenko").fit(UserList([a, b])).target
    for key in pooled:  # any sequence of images, not only lists and tuples
        torch.testing.assert_close(from_user_list[key], pooled[key])


def test_fit_names_what_is_not_an_image():
    with pytest.raises(TypeError, match="expected a numpy array or a torch tensor, got str"):
        normalizer("macenko").fit("target.png")
    with pytest.raises(TypeError, match="got generator"):
        normalizer("macenko").fit(image for image in [np.zeros((4, 4, 3), np.uint8)])


@pytest.mark.parametrize("method", METHODS)
def test_state_dict_round_trip(ihc, method, tmp_path):
    fitted = normalizer(method).fit(ihc[:256]).fit_source(ihc[256:])
    torch.save(fitted.state_dict(), tmp_path / "stain.pt")
    restored = StainNormalizer(method)
    restored.load_state_dict(torch.load(tmp_path / "stain.pt", weights_only=True))
    assert np.array_equal(restored.transform(ihc), fitted.transform(ihc))
    other = "reinhard" if method != "reinhard" else "macenko"
    with pytest.raises(CheckpointError, match="method"):
        StainNormalizer(other).load_state_dict(fitted.state_dict())


def test_fit_source_uses_one_matrix_for_a_slide(ihc):
    slide = restain(synthetic_he(), "purple")
    tiles = [slide[y:y + 64, x:x + 64] for y in (0, 64, 128) for x in (0, 64, 128, 192)]
    fitted = normalizer("macenko").fit(ihc).fit_source(tiles)
    expected = macenko_stain_matrix(np.concatenate(tiles, axis=1))
    np.testing.assert_allclose(fitted.source["stains"].numpy(), expected, atol=1e-10)
    with_source = fitted.transform(np.stack(tiles))
    per_patch = fitted.fit_source(None).transform(np.stack(tiles))
    assert fitted.source is None and not np.array_equal(with_source, per_patch)


def test_v2_wrapper_keeps_boxes_masks_and_labels(ihc):
    fitted = normalizer("macenko").fit(ihc)
    image = tv_tensors.Image(torch.from_numpy(synthetic_he()).permute(2, 0, 1))
    target = {"boxes": tv_tensors.BoundingBoxes([[1, 2, 30, 40]], format="XYXY", canvas_size=(192, 288)),
              "masks": tv_tensors.Mask(torch.ones(1, 192, 288, dtype=torch.uint8)),
              "labels": torch.tensor([1])}
    pipeline = v2.Compose([NormalizeStain(fitted), v2.ToDtype(torch.float32, scale=True)])
    out, out_target = pipeline(image, target)
    assert isinstance(out, tv_tensors.Image) and out.dtype == torch.float32
    assert out_target["boxes"] is target["boxes"] and out_target["masks"] is target["masks"]
    assert torch.equal(out_target["labels"], target["labels"])
    expected = fitted.transform(image.as_subclass(torch.Tensor))
    torch.testing.assert_close(out, expected.float() / 255)
    assert isinstance(pickle.loads(pickle.dumps(NormalizeStain(fitted))), NormalizeStain)


def test_follows_the_input_device(ihc):
    """On ``meta`` tensors the Macenko and Reinhard paths run without reading a value."""
    images = torch.empty(2, 3, 32, 32, dtype=torch.uint8, device="meta")
    for method in ("macenko", "reinhard"):
        out = normalizer(method).fit(ihc).transform(images)
        assert out.device.type == "meta" and out.dtype == torch.uint8 and out.shape == images.shape


def test_exception_on_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        StainNormalizer("ruifrok")
    with pytest.raises(DataFormatError, match=r"\(N, 3, H, W\)"):
        normalizer("macenko").fit(torch.zeros(1, 4, 8, 8))
    with pytest.raises(ValueError, match="fitted"):
        NormalizeStain(StainNormalizer())

"""Tests of histomammo.transforms.mammo: Otsu, area resampling, cropping, markers, presets."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.filters import threshold_otsu
from torchvision import tv_tensors
from torchvision.transforms import v2

from histomammo.datasets.synthetic import screening_mammogram
from histomammo.transforms import mammo
from histomammo.transforms._mammo_v2 import tensor_like as _tensor_like
from histomammo.transforms.mammo import (
    area_resize,
    downscale_area,
    normalize_intensity,
    orient_left,
    otsu_crop,
    otsu_threshold,
    preprocess_crop,
    preprocess_naive,
    remove_markers,
)


def _box_iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return ix * iy / (area(a) + area(b) - ix * iy)


@pytest.fixture(scope="module")
def case():
    return screening_mammogram((512, 416), np.random.default_rng(3), laterality="R", view="MLO",
                               malignant=True, grey_marker=True)


@pytest.mark.parametrize("dtype,high", [(np.uint16, 4095), (np.uint16, 16383), (np.uint8, 255),
                                        (np.int16, 3000), (np.int32, 70000)])
def test_otsu_matches_reference_integer(rng, dtype, high):
    low = -high // 3 if np.dtype(dtype).kind == "i" else 0
    image = np.concatenate([rng.normal(0.2, 0.05, 5000), rng.normal(0.7, 0.1, 3000)])
    image = np.clip(low + image * (high - low), low, high).astype(dtype).reshape(80, 100)
    assert otsu_threshold(image) == float(threshold_otsu(image))


def test_otsu_matches_reference_float(rng):
    image = np.concatenate([rng.normal(0.2, 0.05, 5000), rng.normal(0.7, 0.1, 3000)])
    assert otsu_threshold(image) == pytest.approx(float(threshold_otsu(image)), rel=1e-12)
    assert otsu_threshold(image, bins=64) == pytest.approx(float(threshold_otsu(image, nbins=64)))


def test_otsu_uses_every_grey_level(rng):
    """On 12-bit data the exact threshold sits on a grey level an 8-bit copy cannot express."""
    image = screening_mammogram((256, 208), rng).pixels
    exact, eight = otsu_threshold(image), otsu_threshold(image, method="opencv8")
    assert exact == float(threshold_otsu(image)) and exact.is_integer()
    assert exact != eight and abs(exact - eight) < 4096 / 256 * 2


def test_otsu_opencv8_matches_opencv(rng):
    cv2 = pytest.importorskip("cv2")
    image = screening_mammogram((256, 208), rng).pixels
    eight = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX, cv2.CV_8U)
    level, _ = cv2.threshold(eight, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ours = image > otsu_threshold(image, method="opencv8")
    np.testing.assert_array_equal(ours, eight > level)


def test_otsu_exception_and_constant():
    assert otsu_threshold(np.full((4, 4), 7, np.uint16)) == 7.0
    for image, kwargs, message in [
        (np.zeros(0), {}, "non-empty"),
        (np.array([1.0, np.nan]), {}, "NaN"),
        (np.arange(4), {"bins": 1}, "bins"),
        (np.arange(4), {"method": "cv"}, "method"),
        (np.array(["a"]), {}, "numeric"),
    ]:
        with pytest.raises(ValueError, match=message):
            otsu_threshold(image, **kwargs)


def test_downscale_area_means_and_edges(rng):
    image = rng.integers(0, 4096, (37, 29)).astype(np.uint16)
    out = downscale_area(image, 8)
    assert out.shape == (5, 4) and out.dtype == np.uint16
    assert out[0, 0] == np.rint(image[:8, :8].mean())
    assert out[-1, -1] == np.rint(image[32:, 24:].mean())  # the smaller edge block
    floats = rng.random((16, 24, 3)).astype(np.float32)
    np.testing.assert_allclose(downscale_area(floats, 4)[1, 2],
                               floats[4:8, 8:12].mean(axis=(0, 1)), rtol=1e-6)
    with pytest.raises(ValueError, match="factor"):
        downscale_area(image, 0)
    with pytest.raises(ValueError, match="shape"):
        downscale_area(np.zeros(5), 2)


def test_area_resize_matches_opencv_inter_area(rng):
    cv2 = pytest.importorskip("cv2")
    image = rng.random((301, 257)).astype(np.float32)
    ours = area_resize(image, (224, 100))
    theirs = cv2.resize(image, (100, 224), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(downscale_area(image[:296, :256], 8),
                               cv2.resize(image[:296, :256], (32, 37), interpolation=cv2.INTER_AREA),
                               atol=1e-5)


def _full_resolution_box(image: np.ndarray) -> tuple[int, int, int, int]:
    blurred = ndimage.gaussian_filter(image.astype(np.float32), 2.0)
    labels, _ = ndimage.label(blurred > threshold_otsu(blurred), structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel()); sizes[0] = 0  # noqa: E702
    rows, cols = ndimage.find_objects((labels == sizes.argmax()).astype(int))[0]
    return cols.start, rows.start, cols.stop, rows.stop


def test_otsu_crop_box_matches_full_resolution():
    case = screening_mammogram((1600, 1300), np.random.default_rng(1), laterality="L")
    result = otsu_crop(case.pixels)
    assert result.image.shape == (224, 224) and result.image.dtype == np.uint16
    assert _box_iou(result.box, _full_resolution_box(case.pixels)) >= 0.98
    rows, cols = np.nonzero(case.breast_mask)
    assert _box_iou(result.box, (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)) >= 0.97


def test_otsu_crop_constant_and_empty(caplog):
    with caplog.at_level(logging.WARNING, logger="histomammo.transforms.mammo"):
        result = otsu_crop(np.full((50, 40), 3, np.uint16), out_size=(10, 10))
    assert result.box == (0, 0, 40, 50) and (result.image == 3).all()
    assert "constant" in caplog.text
    assert otsu_crop(np.zeros((0, 5), np.uint8), out_size=(4, 4)).image.shape == (4, 4)
    with pytest.raises(ValueError, match="2-D"):
        otsu_crop(np.zeros((3, 4, 5)))


def test_remove_markers_saturated_misses_grey(case):
    top = int(case.pixels.max())
    outside = ~ndimage.binary_dilation(case.breast_mask, iterations=3)
    grey = outside & (case.pixels > 0.4 * top) & (case.pixels < 0.7 * top)
    assert (case.pixels[outside] == top).any() and grey.any()
    naive = remove_markers(case.pixels)
    assert not (naive == top).any()
    assert (naive[grey] == case.pixels[grey]).all()  # the grey marker survives
    np.testing.assert_array_equal(naive[case.breast_mask], case.pixels[case.breast_mask])


def test_remove_markers_outside_breast_keeps_breast(case):
    cleaned = remove_markers(case.pixels, method="outside_breast")
    outside = ~ndimage.binary_dilation(case.breast_mask, iterations=3)
    assert cleaned[outside].max() < 0.1 * case.pixels.max()  # every marker gone
    # skin line, calcifications and the mass inside the breast are untouched
    np.testing.assert_array_equal(cleaned[case.breast_mask], case.pixels[case.breast_mask])
    x, y = case.calcifications[0].astype(int)
    assert cleaned[y, x] == case.pixels[y, x] > 0.9 * case.pixels.max()
    with pytest.raises(ValueError, match="method"):
        remove_markers(case.pixels, method="blackout")


def test_orient_left(case):
    flipped, was = orient_left(case.pixels)  # a right breast, inferred from the tissue
    assert was and flipped[:, :50].mean() > flipped[:, -50:].mean()
    np.testing.assert_array_equal(orient_left(case.pixels, "R")[0], flipped)
    assert orient_left(case.pixels, "L")[1] is False
    with pytest.raises(ValueError, match="laterality"):
        orient_left(case.pixels, "left")


def test_normalize_intensity(case):
    out = normalize_intensity(case.pixels)
    assert out.dtype == np.float32 and out.min() == 0 and out.max() == 1
    dull = (case.pixels * 0.3 + 500).astype(np.uint16)  # another scanner's low contrast
    matched = normalize_intensity(dull, "histogram", reference=case.pixels)
    reference = normalize_intensity(case.pixels, "histogram", reference=case.pixels)
    inside = case.breast_mask
    assert abs(np.median(matched[inside]) - np.median(reference[inside])) < 0.02
    with pytest.raises(ValueError, match="reference"):
        normalize_intensity(case.pixels, "histogram")
    with pytest.raises(ValueError, match="mask shape"):
        normalize_intensity(case.pixels, mask=np.ones((3, 3), bool))


@pytest.mark.parametrize("shape,fit", [((4096, 3328), "pad"), ((3328, 2560), "pad"),
                                       ((3328, 2560), "resize")])
def test_preprocess_naive_sizes(shape, fit):
    image = np.zeros(shape, np.uint16)
    image[shape[0] // 8 : -shape[0] // 8, shape[1] // 3 :] = 2000  # a right breast
    image[10:60, 20:300] = 4095  # marker
    out = preprocess_naive(image, fit=fit)
    assert out.shape == (512, 416) and out.dtype == np.uint16 and out.max() == 2000
    assert out[256, 5] == 2000  # moved to the left
    if shape == (3328, 2560) and fit == "pad":
        assert (out[416:] == 0).all() and (out[:, 320:] == 0).all()
    with pytest.raises(ValueError, match="fit"):
        preprocess_naive(image, fit="crop")


def test_preprocess_crop(case):
    out = preprocess_crop(case.pixels)
    assert out.shape == (224, 224) and out.max() < case.pixels.max()


def test_v2_classes_on_images_tensors_and_arrays(case):
    image = tv_tensors.Image(torch.from_numpy(case.pixels.astype(np.float32) / 4095)[None])
    pipeline = v2.Compose([mammo.RemoveMarkers(method="outside_breast"), mammo.OtsuCrop(),
                           mammo.NormalizeIntensity()])
    out = pipeline(image)
    assert isinstance(out, tv_tensors.Image) and tuple(out.shape) == (1, 224, 224)
    assert tuple(mammo.PreprocessNaive()(image).shape) == (1, 512, 416)
    assert mammo.PreprocessCrop()(case.pixels).shape == (224, 224)
    assert mammo.DownscaleArea(4)(torch.ones(16, 8)).shape == (4, 2)
    assert mammo.OrientLeft()(case.pixels)[:, :50].mean() > case.pixels[:, :50].mean()
    restored = pickle.loads(pickle.dumps(pipeline))
    torch.testing.assert_close(restored(image), out)
    with pytest.raises(ValueError, match=r"\(1, H, W\)"):
        mammo.OtsuCrop()(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="method"):
        mammo.RemoveMarkers(method="x")


V2_CLASSES = [mammo.RemoveMarkers(), mammo.OtsuCrop(out_size=(16, 16)), mammo.DownscaleArea(2),
              mammo.OrientLeft(), mammo.NormalizeIntensity(),
              mammo.PreprocessNaive(factor=2, out_shape=(64, 48)),
              mammo.PreprocessCrop(out_size=(16, 16))]


@pytest.mark.parametrize("transform", V2_CLASSES, ids=lambda t: type(t).__name__)
def test_v2_output_follows_input_device(transform, case, monkeypatch):
    """Every v2 class hands its result back through tensor_like(result, input)."""
    from histomammo.transforms import _mammo_v2

    seen, original = [], _mammo_v2.tensor_like

    def spy(array, like):
        seen.append(like)
        return original(array, like)

    monkeypatch.setattr(_mammo_v2, "tensor_like", spy)
    image = tv_tensors.Image(torch.from_numpy(case.pixels[:128, :96].copy())[None])  # raw uint16
    out = transform(image)
    assert len(seen) == 1 and seen[0] is image and isinstance(out, tv_tensors.Image)
    assert out.device == image.device


def test_tensor_like_keeps_device_and_kind():
    meta = tv_tensors.Image(torch.empty(1, 2, 2, device="meta"))
    out = _tensor_like(np.zeros((1, 4, 4), np.uint16), meta)
    assert out.device.type == "meta" and isinstance(out, tv_tensors.Image)
    assert out.dtype == torch.uint16 and tuple(out.shape) == (1, 4, 4)
    plain = _tensor_like(np.zeros((4, 4), np.float32), torch.empty(2, 2, device="meta"))
    assert plain.device.type == "meta" and type(plain) is torch.Tensor


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a CUDA device is needed")
def test_v2_cuda_input_comes_back_on_cuda(case):
    image = tv_tensors.Image(torch.from_numpy(case.pixels.copy())[None]).cuda()
    for transform in V2_CLASSES:
        assert transform(image).device == image.device


def test_thesis_pipeline_on_stored_values(case):
    """Marker removal on stored values blanks the markers only, not the brightest tissue a
    display window saturates (what the datasets handed over before pixels="raw")."""
    from histomammo.transforms.mammo import breast_mask, remove_markers

    stored = case.pixels
    breast = case.breast_mask
    cleaned = remove_markers(stored)
    assert not (cleaned != stored)[breast].any() and (cleaned != stored)[~breast].any()
    low, high = np.percentile(stored[breast], (2, 98))  # a tissue window, as scanners set
    windowed = np.clip((stored - low) / (high - low), 0, 1).astype(np.float32)
    blanked = (remove_markers(windowed) != windowed)[breast].mean()
    assert blanked > 0.01  # about 2% of the breast at this window
    assert breast_mask(stored) is not None

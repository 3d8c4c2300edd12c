"""Shen et al.'s S10 / S1 patch sets from lesion masks."""

from __future__ import annotations

import numpy as np
import pytest

from histomammo.transforms.patches import PATCH_CLASSES, lesion_patches, patch_class


def _image_with_rois(rng):
    image = np.zeros((300, 200), np.uint16)
    image[20:280, 0:150] = 1000  # breast
    mass = np.zeros(image.shape, bool)
    mass[60:90, 40:80] = True
    calc = np.zeros(image.shape, bool)
    calc[200:206, 100:104] = True
    image[mass] = 3000
    image[calc] = 4000
    return image, [mass, calc], [patch_class("mass", "MALIGNANT"), patch_class("calc", "BENIGN")]


def test_s10_patches_centre_on_lesions_and_background_avoids_them(rng):
    image, masks, classes = _image_with_rois(rng)
    out = lesion_patches(image, masks, classes, n_per_roi=10, n_background=10, size=32, rng=rng)
    assert out.patches.shape == (30, 32, 32) and out.patches.dtype == np.uint16
    assert out.labels.tolist() == [4] * 10 + [1] * 10 + [0] * 10
    lesions = masks[0] | masks[1]
    for (r, c), label, patch in zip(out.centers, out.labels, out.patches, strict=True):
        window = np.pad(lesions, 16)[r:r + 32, c:c + 32]
        if label == 0:
            assert not window.any() and image[r, c] > 0  # inside the breast, away from ROIs
            assert patch.max() == 1000 or patch.max() == 0
        else:
            assert masks[0 if label == 4 else 1][r, c]  # centred on a lesion pixel
            assert patch[16, 16] == (3000 if label == 4 else 4000)
    assert [PATCH_CLASSES[k] for k in (0, 4)] == ["background", "mass_malignant"]


def test_s1_is_one_centred_patch_per_roi(rng, caplog):
    image, masks, classes = _image_with_rois(rng)
    out = lesion_patches(image, masks, classes, n_per_roi=1, n_background=1, size=224, rng=rng)
    assert out.centers.tolist() == [[74, 59], [202, 101]]
    # no 224 x 224 window of this small image misses both ROIs: fewer patches, and a warning
    assert out.patches.shape == (2, 224, 224)
    assert "only 0 of 1 background patches" in caplog.text
    # the window reaches past the border: padded with the image minimum
    assert out.patches[0][0, 0] == 0


def test_is_deterministic_given_the_generator():
    image, masks, classes = _image_with_rois(None)
    a = lesion_patches(image, masks, classes, size=32, rng=np.random.default_rng(5))
    b = lesion_patches(image, masks, classes, size=32, rng=np.random.default_rng(5))
    assert np.array_equal(a.centers, b.centers)


def test_exception():
    image, masks, classes = _image_with_rois(None)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="ROI mask 0 has shape"):
        lesion_patches(image, [masks[0][:10]], [4], rng=rng)
    with pytest.raises(ValueError, match="ROI mask 0 is empty"):
        lesion_patches(image, [np.zeros_like(masks[0])], [4], rng=rng)
    with pytest.raises(ValueError, match="ROI class 0 is 0"):
        lesion_patches(image, [masks[0]], [0], rng=rng)
    with pytest.raises(ValueError, match="2 ROI masks but 1"):
        lesion_patches(image, masks, [4], rng=rng)
    with pytest.raises(ValueError, match="pathology"):
        patch_class("mass", "UNKNOWN")

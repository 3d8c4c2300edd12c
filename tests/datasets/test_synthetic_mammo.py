"""Tests of histomammo.datasets.synthetic.mammo: the screening mammogram and its findings."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from histomammo.datasets.synthetic import screening_mammogram


@pytest.mark.parametrize("bits", [12, 14])
def test_findings(bits):
    case = screening_mammogram((256, 208), np.random.default_rng(0), laterality="L", view="MLO",
                               bits_stored=bits, malignant=True, grey_marker=True)
    top = 2**bits - 1
    pixels, breast = case.pixels, case.breast_mask
    assert pixels.dtype == np.uint16 and pixels.max() == top
    assert (pixels[breast] < top).all()  # only markers saturate
    saturated = pixels == top
    assert saturated[:40, 150:].sum() == saturated.sum()  # in the upper corner, away from the chest
    grey = (~breast) & (pixels > 0.5 * top) & (pixels < 0.6 * top)
    assert grey[-60:, 150:].any()
    assert case.mass_mask.any() and (case.mass_mask <= breast).all()
    mass_mean = pixels[case.mass_mask].mean()
    around = ndimage.binary_dilation(case.mass_mask, iterations=6) & ~case.mass_mask & breast
    assert mass_mean > pixels[around].mean() + 0.12 * top  # visibly brighter than its surround
    edge = breast & ~ndimage.binary_erosion(breast)
    inner_ring = ndimage.binary_erosion(breast, iterations=3) & ~ndimage.binary_erosion(breast, iterations=6)
    assert pixels[edge & (np.arange(208) > 90)].mean() > pixels[inner_ring & (np.arange(208) > 90)].mean()  # skin line
    assert len(case.calcifications) >= 3


def test_normal_and_deterministic():
    first = screening_mammogram((128, 96), np.random.default_rng(5))
    again = screening_mammogram((128, 96), np.random.default_rng(5))
    np.testing.assert_array_equal(first.pixels, again.pixels)
    assert not first.mass_mask.any()
    with pytest.raises(ValueError, match="shape"):
        screening_mammogram((32, 32), np.random.default_rng(0))


def test_writers_without_quirks(tmp_path):
    """quirks=False writes a clean tree: no FB row, LF line ends, masks of the image's size."""
    from histomammo.datasets import CBISDDSM, INbreast
    from histomammo.datasets.synthetic import make_cbis_ddsm, make_inbreast

    inbreast = make_inbreast(tmp_path / "inbreast", n_patients=3, shape=(64, 64), quirks=False)
    assert ";FB;" not in (inbreast / "INbreast.csv").read_text()
    assert {r.view for r in INbreast(inbreast).records} == {"CC", "MLO"}
    cbis = make_cbis_ddsm(tmp_path / "cbis", n_patients=6, shape=(96, 64), quirks=False)
    assert b"\r\n" not in (cbis / "mass_case_description_train_set.csv").read_bytes()
    data = CBISDDSM(cbis, abnormality="both")
    assert data.problems == []
    assert all(a["roi_mask_shape"] == (96, 64) for r in data.records for a in r.extra["abnormalities"])

"""Stain vectors: Macenko against a plain numpy reference, both methods against known vectors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from stain_cases import angles, draw, reference_macenko

from histomammo.datasets.synthetic._stain import SYNTHETIC_STAINS
from histomammo.datasets.synthetic.glas import draw_glands
from histomammo.errors import DataFormatError
from histomammo.transforms.stain import (
    macenko_stain_matrix,
    od_to_rgb,
    rgb_to_od,
    vahadane_stain_matrix,
)


def test_od_round_trip(ihc):
    assert np.array_equal(od_to_rgb(rgb_to_od(ihc[ihc.min(-1) > 0])), ihc[ihc.min(-1) > 0])
    assert rgb_to_od(np.full((1, 1, 3), 240, np.uint8)).max() == 0


@pytest.mark.parametrize("source", ["ihc", "glands"])
def test_macenko_matches_reference(ihc, source):
    image = ihc if source == "ihc" else draw_glands((256, 320), np.random.default_rng(0))[0]
    np.testing.assert_allclose(macenko_stain_matrix(image), reference_macenko(image), atol=1e-8)


@pytest.mark.parametrize("name", sorted(SYNTHETIC_STAINS))
def test_macenko_recovers_known_vectors(mixed_concentrations, name):
    truth = SYNTHETIC_STAINS[name]
    assert angles(macenko_stain_matrix(draw(mixed_concentrations, truth)), truth).max() < 2.0


@pytest.mark.parametrize("name", sorted(SYNTHETIC_STAINS))
def test_vahadane_recovers_known_vectors(pure_concentrations, name):
    truth = SYNTHETIC_STAINS[name]
    estimate = vahadane_stain_matrix(draw(pure_concentrations, truth),
                                     generator=torch.Generator().manual_seed(0))
    assert angles(estimate, truth).max() < 2.0
    assert (estimate >= 0).all()


@pytest.mark.parametrize("estimate", [macenko_stain_matrix, vahadane_stain_matrix])
def test_unit_columns_haematoxylin_first_and_deterministic(ihc, estimate):
    ihc = ihc[:128, :128]  # fewer pixels than Vahadane samples: all of them are used
    first = estimate(ihc)
    np.testing.assert_allclose(np.linalg.norm(first, axis=0), 1.0, atol=1e-12)
    assert first[0, 0] > first[0, 1]  # haematoxylin: the larger red optical density
    again = estimate(np.ascontiguousarray(np.rot90(ihc)))  # same pixels, another order
    np.testing.assert_allclose(again, first, atol=1e-8 if estimate is macenko_stain_matrix else 2e-3)


def test_mask_restricts_pixels(ihc):
    mask = np.zeros(ihc.shape[:2], bool)
    mask[:, :256] = True
    np.testing.assert_allclose(macenko_stain_matrix(ihc, mask=mask),
                               reference_macenko(ihc[:, :256]), atol=1e-8)


@pytest.mark.parametrize("estimate", [macenko_stain_matrix, vahadane_stain_matrix])
@pytest.mark.parametrize("value", [0, 255, 128])
def test_exception_on_tiles_without_stains(estimate, value):
    with pytest.raises(DataFormatError, match="tissue"):
        estimate(np.full((32, 32, 3), value, np.uint8))


def test_exception_on_bad_input():
    with pytest.raises(DataFormatError, match="expected"):
        macenko_stain_matrix(np.zeros((4, 4), np.uint8))
    with pytest.raises(DataFormatError, match="mask"):
        macenko_stain_matrix(np.zeros((4, 4, 3), np.uint8), mask=np.ones((3, 3), bool))


def test_vahadane_reproducible_from_a_seed(ihc):
    runs = [vahadane_stain_matrix(ihc, max_pixels=5000, generator=torch.Generator().manual_seed(3))
            for _ in range(2)]
    np.testing.assert_array_equal(*runs)


def test_vahadane_bit_for_bit_repeatable_in_float32(ihc):
    """The same tissue gives the same vectors to the last bit, call after call: the chunked
    normaliser relies on it. The start used to come from ``torch.linalg.lstsq``, whose float32
    solutions vary in the last bits from call to call on CPU with torch 2.10 and 2.13."""
    from histomammo.transforms.stain._od import as_batch, od_of, tissue_pixels
    from histomammo.transforms.stain._vahadane import vahadane_tissue

    tiles = np.stack([ihc[y:y + 64, x:x + 64] for y in (0, 128, 256, 384) for x in (0, 192, 384)])
    od = od_of(as_batch(tiles).pixels, 240.0)
    tissue = tissue_pixels(od, 0.15)
    assert od.dtype == torch.float32
    for one, keep in zip(od, tissue, strict=True):
        first = vahadane_tissue(one[:, keep], 0.1, None)
        for _ in range(4):
            assert torch.equal(vahadane_tissue(one[:, keep].clone(), 0.1, None), first)


def test_vahadane_needs_neither_spams_nor_scikit_learn():
    code = ("import sys, numpy as np, histomammo.transforms.stain as s;"
            "from skimage.data import immunohistochemistry as i;"
            "s.vahadane_stain_matrix(i()[:128, :128]);"
            "print(sorted(m for m in ('sklearn', 'spams') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

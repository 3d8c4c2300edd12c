"""The PCam whole-slide workflow learns: a classifier trained on patches cut from synthetic
slides finds the held-out slides' tumours (FROC) and ranks tumour regions first (slide AUC)."""

from __future__ import annotations

import json
import math

import pytest

from histomammo.demo import STAGES
from histomammo.systems.pcam import slide_heatmap_run


def test_heatmap_finds_the_held_out_tumours(tmp_path):
    results = slide_heatmap_run(tmp_path, seed=0, side=768, n_train=2, n_held_out=2,
                                n_patches=192, epochs=3)
    assert results["lesions"] == 2 and results["regions"] == 32
    assert 0 < results["tumour_regions"] < results["regions"]
    assert results["slide_auc"] >= 0.9
    assert results["froc"] >= 0.5
    assert results["tiles_on_tissue"] > 0
    assert (tmp_path / "heatmap.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "results.json").read_text())
    assert math.isclose(saved["slide_auc"], results["slide_auc"])


def test_untrained_classifier_does_not_pass_the_bar(tmp_path):
    """The bar above is not met by chance: no training, the same slides."""
    results = slide_heatmap_run(tmp_path, seed=0, side=768, n_train=2, n_held_out=2,
                                n_patches=64, epochs=0)
    assert results["slide_auc"] < 0.9 or results["froc"] < 0.5


def test_the_demo_runs_it_as_a_stage():
    assert STAGES["slide_inference"] == "slide_inference"


def test_too_small_a_slide_is_refused(tmp_path):
    with pytest.raises(ValueError, match="side >= 768"):
        slide_heatmap_run(tmp_path, side=512)

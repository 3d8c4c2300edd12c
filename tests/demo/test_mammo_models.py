"""The mammo_models demo stage runs both pipelines end to end and writes its figures."""

from __future__ import annotations

import json

import pytest

from histomammo.demo import main


@pytest.mark.slow  # ~50 s on a shared 2-core machine; the learning itself is tested fast in
# tests/models/test_mammo_learns.py
def test_demo_stage_runs(tmp_path):
    assert main(["--out", str(tmp_path), "--only", "mammo_models"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())["mammo_models"]
    row = summary["whole_image"]["table_6_3"]
    assert row["test_sensitivity"] >= 0 and 0 <= row["test_auc"] <= 1
    assert set(summary["whole_image"]["table_6_4"]) == {"min", "max", "mean"}
    ci = summary["whole_image"]["ci"]["test_auc"]
    assert ci["low"] <= ci["estimate"] <= ci["high"]
    shen = summary["patch_to_whole"]
    first, last = shen["patch_loss_first_last"]
    assert last < first  # the patch classifier learns; whole-image learning is proven in
    # tests/models/test_mammo_learns.py (this short run's AUCs are only checked for range)
    assert all(0 <= shen[k]["test_auc"] <= 1 for k in ("without heatmap", "with heatmap"))
    for name in ("whole_image/roc.png", "whole_image/training.png",
                 "patch_to_whole/roc_patch_to_whole.png"):
        assert (tmp_path / "mammo_models" / name).stat().st_size > 0

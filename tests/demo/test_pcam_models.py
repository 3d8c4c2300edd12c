"""The demo's pcam_models stage: the G-CNN learns, its export matches, its logits are invariant."""

from __future__ import annotations

import json

from histomammo.demo import STAGES, run_demo


def test_stage_learns_exports_and_is_invariant(tmp_path):
    assert STAGES["pcam_models"] == "pcam_models"
    summary = run_demo(tmp_path, seed=0, only=["pcam_models"])["pcam_models"]
    assert summary["auc"] >= 0.9
    assert summary["export_max_difference"] < 1e-5
    assert summary["invariance_max_change"] < 1e-4
    saved = json.loads((tmp_path / "pcam_models" / "results.json").read_text())
    assert saved["published"][0]["accuracy"] == 81.49

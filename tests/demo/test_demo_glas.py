"""The demo's glas stage runs end to end and its U-Net learns."""

from __future__ import annotations

import json

from histomammo.demo import main


def test_demo_runs_and_learns(tmp_path):
    assert main(["--out", str(tmp_path), "--seed", "0", "--only", "glas"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())["glas"]
    assert summary["history"][-1] < 0.5 * summary["history"][0]
    for split in ("testA", "testB"):
        assert summary[split]["f1"] >= 0.6
        assert 0.0 <= summary[split]["count"] <= 1.0
    assert (tmp_path / "glas" / "glas" / "Grade.csv").exists()
    assert (tmp_path / "glas" / "predictions.png").stat().st_size > 0

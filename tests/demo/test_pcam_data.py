"""The demo's pcam_data stage runs end to end and its numbers are the data's."""

from __future__ import annotations

import json

from histomammo.demo import main


def test_demo_stage(tmp_path):
    assert main(["--out", str(tmp_path), "--seed", "0", "--only", "pcam_data"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())["pcam_data"]
    pcam = summary["pcam"]
    assert pcam["sizes"] == {"train": 128, "valid": 32, "test": 32}
    assert pcam["batch_shape"] == [64, 3, 96, 96] and pcam["exported_png"] == 16
    assert pcam["tumour_share"] == 0.5
    assert all(0 < s < m < 1 for m, s in zip(pcam["mean"], pcam["std"], strict=True))
    slide = summary["slide"]
    assert slide["levels"][0] == [2048, 2048, 3] and 0.2 < slide["tissue_share"] < 0.8
    assert slide["grid_patches"] > 0 and slide["patch_shape"] == [3, 96, 96]
    assert slide["from_slides"]["patches"] == 32
    assert 0.3 <= slide["from_slides"]["tumour_share"] <= 0.7
    assert (tmp_path / "pcam_data" / "tissue_mask.png").stat().st_size > 0
    assert (tmp_path / "pcam_data" / "patches.png").stat().st_size > 0

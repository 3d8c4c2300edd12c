"""The demo's mammo_data stage runs end to end and its numbers say what each step did."""

from __future__ import annotations

import json

from histomammo.demo import main


def test_demo_stage(tmp_path):
    assert main(["--out", str(tmp_path), "--seed", "0", "--only", "mammo_data"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())["mammo_data"]
    pictures = summary["pictures"]
    assert pictures["outside_breast"]["marker_pixels_left"] == 0
    assert pictures["saturated"]["marker_pixels_left"] > 0  # the grey marker survives
    inbreast = summary["inbreast"]
    assert inbreast["index_added"] == inbreast["images"] and inbreast["index_second_build_read"] == 0
    assert inbreast["tensor_shapes"] == {"naive": [1, 512, 416], "crop": [1, 224, 224]}
    assert 0 < inbreast["malignant_samples"] < inbreast["samples"]
    screening = summary["screening"]
    assert screening["next_year"] > 0 and screening["unmatched"] > 0
    assert screening["interval_excluded"] == 2 and screening["samples"] > 0
    for name in ("naive_steps.png", "crop_steps_saturated.png", "crop_steps_outside_breast.png"):
        assert (tmp_path / "mammo_data" / name).stat().st_size > 5000

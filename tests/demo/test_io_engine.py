"""The demo's io stage runs end to end and its model learns; the demo front runs stages by name."""

from __future__ import annotations

import json

import pytest

from histomammo.demo import main, run_demo


def test_demo_runs_and_learns(tmp_path):
    assert main(["--out", str(tmp_path), "--seed", "0", "--only", "io"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())["io"]

    dicom = summary["dicom"]
    assert dicom["left_cc_mono1_12bit.dcm"]["laterality"] == "L"
    assert dicom["right_mlo_mono2_14bit.dcm.gz"]["view"] == "MLO"
    for image in dicom.values():
        # dense tissue is bright whatever the stored photometric interpretation
        assert 0.2 < image["breast_fraction"] < 0.8
        assert image["dtype"] == "float32"

    tiff = summary["tiff"]
    assert tiff["brecahad_like.tif"]["shape"] == [1024, 1360, 3]
    assert [level[2] for level in tiff["pyramid.tif"]["levels"]] == [1, 2, 4]
    assert tiff["pyramid.tif"]["region_shape"] == [512, 680, 3]

    engine = summary["hdf5_engine"]
    assert len(engine["history"]) == 4
    assert engine["history"][-1]["val_accuracy"] > 0.9 > engine["val_accuracy_before"]
    assert (tmp_path / "summary.md").exists()
    assert (tmp_path / "io" / "training.png").stat().st_size > 0


def test_unknown_stage_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown demo stage"):
        run_demo(tmp_path, only=["nope"])

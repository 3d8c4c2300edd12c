"""examples/brecahad_detection.py runs end to end with the dataset's own normalisation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "brecahad_detection.py"


def _example():
    spec = importlib.util.spec_from_file_location("brecahad_detection", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dataset_normalization_run(tmp_path):
    # three one-image cases: one image per split, one training step, 5 + 10 evaluation patches
    summary = _example().main(["--tiny", "--epochs", "1", "--normalization", "dataset",
                               "--cases", "3", "--images-per-case", "1", "--min-distance", "16",
                               "--out", str(tmp_path)])
    normalization = summary["normalization"]
    assert normalization["normalization"] == "dataset"
    mean, std = np.array(normalization["image_mean"]), np.array(normalization["image_std"])
    # H&E-like synthetic pixels: bright pink stroma, a real spread (not the paper's variances)
    assert mean.shape == std.shape == (3,) and (mean > 0.5).all() and (mean < 1).all()
    assert (std > 0.02).all() and (std < 0.3).all()
    assert summary["min_distance"] == 16
    assert len(summary["history"]) == 1 and np.isfinite(summary["history"][0]["val_loss"])
    assert 0.0 <= summary["tpr_lowest_threshold"] <= 1.0
    for name in ("losses.png", "rates.png", "detections.png", "summary.json", "best.pt"):
        assert (tmp_path / name).stat().st_size > 0

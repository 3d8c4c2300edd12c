"""The PCam examples: the equivariance claim holds, the classification script runs and resumes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_equivariance_claim(tmp_path):
    # minutes on a CPU: the example's defaults
    results = _load("pcam_equivariance").main(["--out", str(tmp_path)])
    gcnn, cnn = results["G-CNN (P4M)"], results["plain CNN"]
    assert gcnn["auc_0"] - min(gcnn.values()) <= 0.02
    assert cnn["auc_0"] - min(cnn["auc_90"], cnn["auc_270"]) > 0.02


@pytest.mark.slow
def test_classification_runs_and_resumes(tmp_path):
    module = _load("pcam_classification")
    argv = ["--out", str(tmp_path), "--n", "16", "--epochs", "2", "--size", "32",
            "--only", "gcnn_seed_recipe", "gcnn_learning_recipe", "all_cnn_learning",
            "--figures", str(tmp_path / "figures")]
    rows = module.main(argv)
    assert [row["run"] for row in rows] == ["all_cnn_learning", "gcnn_seed_recipe",
                                            "gcnn_learning_recipe"]  # the script's order
    assert (tmp_path / "gcnn_learning_recipe" / "history.csv").exists()
    assert (tmp_path / "figures" / "roc.png").stat().st_size > 0
    assert (tmp_path / "figures" / "training_all_cnn_learning.png").exists()
    again = module.main(argv)  # everything checkpointed: resumes at the end, same results
    assert [r["auc"] for r in again] == [r["auc"] for r in rows]


def test_classification_gcnn_size_options():
    # --gcnn-widths / --gcnn-hidden size both G-CNN runs (and nothing else)
    import argparse

    import torch

    module = _load("pcam_classification")
    args = argparse.Namespace(full=False, size=32, inception_size=128, inception_weights=None,
                              gcnn_widths="2,3,4", gcnn_hidden=8)
    for name in ("gcnn_seed_recipe", "gcnn_learning_recipe"):
        model = module.runs(args)[name][0]()
        linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
        assert (linears[0].in_features, linears[0].out_features) == (4, 8), name
        assert len(model.features.out_type) == 4  # the last stage's fields
    args.gcnn_widths = args.gcnn_hidden = None
    default = module.runs(args)["gcnn_seed_recipe"][0]()
    assert len(default.features.out_type) == 8  # the CPU default, 4/8/8

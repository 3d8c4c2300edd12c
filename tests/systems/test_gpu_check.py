"""benchmarks/gpu_check.py: without CUDA it says so and exits 2; its stages are the demo's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from histomammo.demo import STAGES as DEMO_STAGES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_says_so(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _load().main([]) == 2
    assert "no CUDA device is available" in capsys.readouterr().err


def test_its_stages_are_the_demo_stages_that_train():
    stages = _load().STAGES
    assert set(stages) == {"mammo_models", "pcam_models", "glas", "brecahad"}
    assert all(DEMO_STAGES[name] == module for name, (module, _) in stages.items())

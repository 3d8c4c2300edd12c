"""ci/floor_constraints.py: the constraints make test-min installs are pyproject's floors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("floor_constraints", ROOT / "ci" / "floor_constraints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("requirement", "pin"), [
    ("numpy>=1.24", "numpy==1.24"),
    ("torch >= 2.10, <3", "torch==2.10"),
    ("pydicom[extra]>=3.0.1", "pydicom==3.0.1"),
    ("tomli>=2; python_version < '3.11'", "tomli==2; python_version < '3.11'"),
])
def test_floor_pin(requirement, pin):
    assert _script().floor_pin(requirement) == pin


@pytest.mark.parametrize("requirement", ["numpy", "numpy<3", "numpy>=1.24,>=1.26", "numpy==1.24"])
def test_a_dependency_without_one_floor_is_refused(requirement):
    with pytest.raises(SystemExit, match="exactly one floor"):
        _script().floor_pin(requirement)


def test_every_core_dependency_gets_its_floor(capsys):
    assert _script().main(["floor_constraints.py", str(ROOT / "pyproject.toml")]) == 0
    pins = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    dependencies = _script().load_project(ROOT / "pyproject.toml")["dependencies"]
    assert len(pins) == len(dependencies)
    assert "numpy==1.24" in pins and "h5py==3.10" in pins

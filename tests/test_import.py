"""`import histomammo` must stay light: subpackages and heavy libraries load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "torch",
    "torchvision",
    "torchvision.models.detection",
    "e2cnn",
    "matplotlib",
    "h5py",
    "pydicom",
    "tifffile",
    "scipy",
    "skimage",
]


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_import_histomammo_loads_nothing_heavy():
    loaded = _modules_after("import histomammo")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize(
    "package", ["io", "datasets", "engine", "metrics", "models", "plot", "transforms"]
)
def test_import_subpackage_loads_nothing_heavy(package):
    loaded = _modules_after(f"import histomammo.{package}")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_lazy_attribute_imports_on_first_use():
    loaded = _modules_after("import histomammo\nhistomammo.io.H5Array")
    assert "h5py" in loaded
    assert "pydicom" not in loaded  # only the module that defines the name is imported


def test_unknown_attribute_raises_attribute_error():
    import histomammo

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        histomammo.nope  # noqa: B018


def test_dir_lists_public_subpackages():
    import histomammo

    assert {"io", "datasets", "engine", "errors"} <= set(dir(histomammo))
    assert histomammo.__version__

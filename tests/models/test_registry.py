"""The model registry: a static name table (lazy attributes, no drift), unique names, close matches."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from histomammo import models
from histomammo.models import _registry, create_model, list_models, register_model

ROOT = Path(__file__).resolve().parents[2]


def test_register_twice_is_an_error(monkeypatch):
    monkeypatch.setattr(_registry, "_REGISTRY", {})

    def tiny_model(**kwargs):
        return kwargs

    register_model(tiny_model)
    assert register_model(tiny_model) is tiny_model  # the same builder again is harmless

    def other():
        return None

    other.__name__ = "tiny_model"
    with pytest.raises(ValueError, match="already registered"):
        register_model(other)


def test_create_and_list(monkeypatch):
    monkeypatch.setattr(_registry, "_REGISTRY", {})

    @register_model
    def tiny_net(num_classes=2):
        return {"num_classes": num_classes}

    assert "tiny_net" in list_models("tiny_*")
    assert create_model("tiny_net", num_classes=5) == {"num_classes": 5}
    with pytest.raises(ValueError, match="unknown model 'tiny_nett'"):
        create_model("tiny_nett")


def _fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter with this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_name_is_an_attribute_on_a_fresh_interpreter():
    names = sorted({*_registry.BUILDERS, *_registry.PUBLIC_NAMES})
    out = _fresh(
        "import sys, histomammo.models as m\n"
        f"names = {names!r}\n"
        "assert 'histomammo.models.unets' not in sys.modules  # nothing loaded yet\n"
        "missing = [n for n in names if not callable(getattr(m, n))]\n"
        "print(missing, sorted(set(names) - set(dir(m))))\n"
    )
    assert out.strip() == "[] []"


def test_create_model_imports_only_the_family_asked_for():
    out = _fresh(
        "import sys\n"
        "from histomammo.models import create_model, UNet\n"
        "model = create_model('unet', num_classes=2, base_channels=4, depth=2)\n"
        "print(isinstance(model, UNet), 'e2cnn' in sys.modules,\n"
        "      'histomammo.models.equivariant' in sys.modules,\n"
        "      'histomammo.models.detection' in sys.modules)\n"
    )
    assert out.split() == ["True", "False", "False", "False"]


def test_name_table_equals_the_registrations():
    # no drift: every family module registers exactly the builders the table gives it
    modules = sorted(set(_registry.BUILDERS.values()))
    registered = {}
    for module in modules:
        imported = importlib.import_module(f"histomammo.models.{module}")
        for name, builder in _registry._REGISTRY.items():
            if builder.__module__ == imported.__name__:
                registered[name] = module
    assert registered == _registry.BUILDERS
    # every family module of the package is in the table, and no builder shadows a module
    families = {info.name for info in pkgutil.iter_modules(models.__path__)
                if not info.name.startswith("_")}
    assert families - set(modules) == {"calibration", "invariance"}
    assert not (set(_registry.BUILDERS) & families)
    for name, module in _registry.PUBLIC_NAMES.items():
        assert name in importlib.import_module(f"histomammo.models.{module}").__all__


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"close matches \['resnet50_grey'"):
        create_model("resnet50_gray")


def test_type_stub_lists_every_lazy_name():
    stub = (ROOT / "histomammo" / "models" / "__init__.pyi").read_text()
    imported = {line.split(" as ")[-1].strip() for line in stub.splitlines()
                if line.startswith("from histomammo.models")}
    assert imported == set(models.__all__)

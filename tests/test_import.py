"""`import histomammo` must stay light: subpackages and heavy libraries load on first use; and
each lazy package's stub ``__init__.pyi`` (what type checkers read) is what it offers at run time."""

from __future__ import annotations

import ast
import fnmatch
import importlib
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import histomammo
from histomammo._lazy import attach_stub, read_stub
from histomammo.errors import DataFormatError, MissingFileError

ROOT = Path(histomammo.__file__).parent.parent

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


def test_import_histomammo_takes_under_a_tenth_of_a_second():
    # -X importtime's cumulative microseconds for the package itself, not interpreter start-up
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import histomammo"],
                         capture_output=True, text=True, check=True)
    cumulative = [int(m[1]) for m in re.finditer(r"\|\s*(\d+) \| histomammo$", out.stderr, re.M)]
    assert len(cumulative) == 1 and cumulative[0] < 100_000, out.stderr[-2000:]


@pytest.mark.parametrize(
    "package", ["io", "datasets", "datasets.synthetic", "engine", "metrics", "models", "plot",
                "postprocess", "systems", "transforms", "transforms.patches"]
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


# ------------------------------------------------------------------ stubs = runtime names
def _packages() -> list[str]:
    found = ["histomammo"]
    for info in pkgutil.walk_packages(histomammo.__path__, "histomammo."):
        if info.ispkg:
            found.append(info.name)
    return found


PACKAGES = _packages()


def _stub(package: str) -> Path:
    return ROOT / package.replace(".", "/") / "__init__.pyi"


def test_walk_finds_every_package():
    assert {"histomammo", "histomammo.io", "histomammo.engine.callbacks",
            "histomammo.transforms.stain", "histomammo.systems.glas"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_stub_names_are_the_runtime_names(package):
    module = importlib.import_module(package)
    lazy = "__getattr__" in vars(module)
    if not _stub(package).exists():
        # an eager package: type checkers read its __init__.py, so no stub is needed, but a
        # lazy one without a stub shows type checkers nothing
        assert not lazy, f"{package} loads names lazily but has no __init__.pyi"
        assert hasattr(module, "__all__"), f"{package} has no __all__"
    else:
        submodules, attributes, defined = read_stub(package, str(_stub(package)))
        names = {*submodules, *defined, *(n for names in attributes.values() for n in names)}
        assert sorted(names) == sorted(module.__all__) == sorted(module.__dir__())
        for name in submodules:  # a stub's submodule is the package's submodule
            assert getattr(module, name) is importlib.import_module(f"{package}.{name}")
        for source, names in attributes.items():  # and a name is the one it says it imports
            origin = importlib.import_module(f"{package}.{source}")
            for name in names:
                assert getattr(module, name) is getattr(origin, name), (package, source, name)
    for name in module.__all__:
        assert getattr(module, name, None) is not None, f"{package}.{name} does not resolve"


def test_eager_packages_export_what_they_import():
    """An eager ``__init__.py`` (no stub) lists in ``__all__`` every public name it imports
    from its own modules, and only names it binds, so type checkers see what it offers."""
    for package in PACKAGES:
        if _stub(package).exists():
            continue
        module = importlib.import_module(package)
        tree = ast.parse(Path(module.__file__).read_text())
        own, bound = set(), set()
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = {alias.asname or alias.name for alias in node.names}
                bound |= names
                if isinstance(node, ast.ImportFrom) and (
                        node.level > 0 or (node.module or "").startswith(package + ".")):
                    own |= {name for name in names if not name.startswith("_")}
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                bound.update(t.id for t in targets if isinstance(t, ast.Name))
        assert own <= set(module.__all__) <= bound, package


def test_models_stub_equals_the_registry_tables():
    from histomammo.models import _registry

    _, attributes, defined = read_stub("histomammo.models", str(_stub("histomammo.models")))
    from_stub = {name: source for source, names in attributes.items() for name in names}
    tables = {**_registry.BUILDERS, **_registry.PUBLIC_NAMES}
    tables.update(dict.fromkeys(["create_model", "list_models", "register_model"], "_registry"))
    assert from_stub == tables and defined == []


def test_stubs_ship_in_the_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["histomammo"]
    for stub in (ROOT / "histomammo").rglob("*.pyi"):
        rel = str(stub.relative_to(ROOT / "histomammo"))
        assert any(fnmatch.fnmatch(rel, pattern) for pattern in patterns), rel


def test_attach_stub_builds_the_lazy_surface(tmp_path):
    init = tmp_path / "__init__.py"
    (tmp_path / "__init__.pyi").write_text(
        "from collections.abc import Sequence as _Sequence\n"
        "from histomammo.io import dicom as dicom\n"
        "from histomammo.io.tiff import (\n    TiffImage as TiffImage,\n)\n"
        "from .dicom import read_dicom as read_dicom\n"
        "__version__: str\n"
        "def helper(x: _Sequence[int]) -> int: ...\n")
    getattr_, dir_, all_ = attach_stub("histomammo.io", str(init))
    assert all_ == dir_() == ["TiffImage", "__version__", "dicom", "helper", "read_dicom"]
    from histomammo.io import dicom, tiff

    assert getattr_("dicom") is dicom and getattr_("TiffImage") is tiff.TiffImage
    assert getattr_("read_dicom") is dicom.read_dicom
    with pytest.raises(AttributeError, match="no attribute 'helper'"):
        getattr_("helper")  # a declared name is the __init__.py's to define


def test_attach_stub_names_a_missing_stub(tmp_path):
    with pytest.raises(MissingFileError, match=r"__init__\.pyi: the type stub listing histomammo\.io"):
        attach_stub("histomammo.io", str(tmp_path / "__init__.py"))


@pytest.mark.parametrize("line, message", [
    ("from histomammo.io.tiff import TiffImage\n", "does not re-export"),
    ("from histomammo.io.tiff import TiffImage as Tiff\n", "as Tiff' does not re-export"),
    ("from . import dicom\n", "expected 'from histomammo.io import dicom as dicom'"),
    ("from numpy import ndarray as ndarray\n", "outside histomammo.io"),
])
def test_attach_stub_refuses_a_stub_type_checkers_read_otherwise(tmp_path, line, message):
    (tmp_path / "__init__.pyi").write_text(line)
    with pytest.raises(DataFormatError, match=re.escape(message)):
        attach_stub("histomammo.io", str(tmp_path / "__init__.py"))

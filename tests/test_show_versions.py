"""``histomammo.show_versions()``: every declared dependency, read from metadata, nothing imported."""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
from importlib import metadata

import histomammo
from histomammo import _show_versions


def _report() -> str:
    out = io.StringIO()
    histomammo.show_versions(file=out)
    return out.getvalue()


def test_reports_python_platform_and_histomammo():
    report = _report()
    folder = os.path.dirname(os.path.abspath(histomammo.__file__))
    assert report.startswith(f"histomammo: {histomammo.__version__} ({folder})\n")
    assert f"Python:     {platform.python_version()}" in report
    assert f"platform:   {platform.platform()}" in report
    assert f"executable: {sys.executable}" in report


def test_every_declared_dependency_with_its_installed_version():
    report = _report()
    core, optional = report.split("\ncore dependencies\n")[1].split("\noptional dependencies\n")
    for requirement in metadata.requires("histomammo"):
        name = requirement.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip()
        section = optional if "extra ==" in requirement else core
        if name in core:  # a core dependency that an extra names again is listed as core
            section = core
        line = next(line for line in section.splitlines() if line.split()[0] == name)
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:  # an extra this venv did not install
            installed = "not"  # "not installed"
        assert line.split()[1] == installed
    assert "  torch " in core and "  matplotlib " in optional
    assert "extra: test, bench" in optional  # scikit-learn is in both extras, listed once


def test_an_absent_package_is_not_installed(monkeypatch):
    declared = metadata.requires("histomammo")
    monkeypatch.setattr(_show_versions.metadata, "requires", lambda name: [
        *declared, 'histomammo-no-such-package>=1.0; extra == "plot"'])
    line = next(line for line in _report().splitlines() if "histomammo-no-such-package" in line)
    assert line.split()[:3] == ["histomammo-no-such-package", "not", "installed"]
    assert line.endswith("(declared >=1.0; extra: plot)")


def test_without_metadata_it_says_so(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(_show_versions.metadata, "requires", missing)
    report = _report()
    assert "dependencies: unknown (no installed histomammo metadata" in report
    assert report.startswith("histomammo: ")


def test_writes_to_stdout_by_default(capsys):
    histomammo.show_versions()
    assert capsys.readouterr().out == _report()


def test_imports_nothing_heavy():
    code = ("import io, json, sys, histomammo; histomammo.show_versions(io.StringIO()); "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    heavy = {"torch", "torchvision", "numpy", "e2cnn", "matplotlib", "scipy", "h5py", "pydicom"}
    assert not loaded & heavy, sorted(loaded & heavy)

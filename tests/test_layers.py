"""Lower layers never import higher ones (DESIGN.md, "Layers")."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import histomammo

PACKAGE_ROOT = Path(histomammo.__file__).parent
LEAVES = {"errors", "_atomic", "_lazy", "_deps"}

# layer -> the histomammo layers it may import (besides itself and the leaves)
ALLOWED: dict[str, set[str]] = {
    "io": set(),
    "transforms": set(),
    "models": set(),
    "metrics": set(),
    "postprocess": set(),
    "datasets": {"io", "transforms"},
    "engine": {"models", "metrics"},
    "plot": {"metrics"},
    "demo": None,  # the demo is the top: it may import anything
}


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imported_modules(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("histomammo.")}


def _package_modules():
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        rel = path.relative_to(PACKAGE_ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


def _violations() -> list[str]:
    bad = []
    for path, module in _package_modules():
        layer = _layer_of(module)
        if layer in ("", *LEAVES):
            allowed: set[str] | None = set()
        elif layer in ALLOWED:
            allowed = ALLOWED[layer]
        else:
            bad.append(f"{module}: layer {layer!r} is not in the layer map of DESIGN.md")
            continue
        if allowed is None:
            continue
        targets = {}
        for target in sorted(_imported_modules(path, module), reverse=True):
            targets[_layer_of(target)] = target  # keep the shortest name per layer
        for target_layer, target in sorted(targets.items()):
            if target_layer in ("", layer, *LEAVES) or target_layer in allowed:
                continue
            bad.append(f"{module} imports {target} ({layer or 'histomammo'} -> {target_layer})")
    return bad


def test_no_upward_imports():
    assert _violations() == []


def test_checker_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "histomammo" / "io"
    fake.mkdir(parents=True)
    (tmp_path / "histomammo" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "bad.py").write_text("from histomammo.engine import Trainer\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_ROOT", tmp_path / "histomammo")
    assert _violations() == ["histomammo.io.bad imports histomammo.engine (io -> engine)"]

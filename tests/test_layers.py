"""Lower layers never import higher ones (DESIGN.md, "Layers"), and no module imports
itself through others (no import cycles)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import histomammo

PACKAGE_ROOT = Path(histomammo.__file__).parent
LEAVES = {"errors", "_atomic", "_compat", "_deprecate", "_lazy", "_deps", "_tensors", "_show_versions"}

# layer -> the histomammo layers it may import (besides itself and the leaves)
ALLOWED: dict[str, set[str]] = {
    "io": set(),
    "transforms": set(),
    "models": set(),
    "metrics": set(),
    "postprocess": set(),
    "datasets": {"io", "transforms"},
    "engine": set(),  # generic: errors and torch only
    "plot": {"metrics"},
    "inference": {"io", "transforms", "datasets", "models", "metrics", "engine"},
    "systems": None,  # one module per paper: it may import every layer below
    "demo": None,  # the command line over systems
}
# layer -> the only modules of a layer in ALLOWED[layer] it may import (and their submodules)
ONLY: dict[str, dict[str, tuple[str, ...]]] = {
    "inference": {"engine": ("histomammo.engine.distributed",)},
}
# the layers that may import systems (nothing below it does)
SYSTEMS_IMPORTERS = {"systems", "demo"}


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _import_statements(path: Path, module: str):
    """``(source, names)`` of every import statement: ``import a.b`` gives ``("a.b", [])``,
    ``from .x import y`` gives the absolute ``x`` and ``["y"]``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            yield source, [alias.name for alias in node.names]


def _imported_modules(path: Path, module: str) -> set[str]:
    found = set()
    for source, names in _import_statements(path, module):
        found.add(source)
        # a dunder (``from histomammo import __version__``) is an attribute, not a module
        found.update(f"{source}.{name}" for name in names if not name.startswith("__"))
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
        imported = _imported_modules(path, module)
        bad += [f"{module} imports {target} ({layer} -> systems: nothing imports systems)"
                for target in sorted(imported)
                if _layer_of(target) == "systems" and layer not in SYSTEMS_IMPORTERS][:1]
        if allowed is None:
            continue
        bad += _narrowed(module, layer, imported)
        targets = {}
        for target in sorted(imported, reverse=True):
            targets[_layer_of(target)] = target  # keep the shortest name per layer
        for target_layer, target in sorted(targets.items()):
            if target_layer in ("", layer, "systems", *LEAVES) or target_layer in allowed:
                continue  # (an import of systems is reported above)
            bad.append(f"{module} imports {target} ({layer or 'histomammo'} -> {target_layer})")
    return bad


def _narrowed(module: str, layer: str, imported: set[str]) -> list[str]:
    """Imports of a layer that only some of its modules may be imported from (``ONLY``)."""
    bad = []
    for target_layer, modules in ONLY.get(layer, {}).items():
        for target in sorted(imported):
            if _layer_of(target) != target_layer:
                continue
            if not any(target == m or target.startswith(m + ".") for m in modules):
                bad.append(f"{module} imports {target} ({layer} -> {target_layer} beyond "
                           f"{', '.join(modules)})")
    return bad


def test_no_upward_imports():
    assert _violations() == []


def test_checker_catches_the_engine_systems_and_inference_rules(tmp_path, monkeypatch):
    root = tmp_path / "histomammo"
    for layer in ("engine", "inference", "metrics", "demo"):
        (root / layer).mkdir(parents=True)
        (root / layer / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "engine" / "bad.py").write_text("from histomammo.models import UNet\n")
    (root / "metrics" / "bad.py").write_text("from histomammo.systems import glas\n")
    (root / "inference" / "good.py").write_text("from histomammo.engine.distributed import x\n")
    (root / "inference" / "bad.py").write_text("from histomammo.engine import Trainer\n")
    (root / "demo" / "good.py").write_text("from histomammo import systems\nimport histomammo.systems.glas\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_ROOT", root)
    assert _violations() == [
        "histomammo.engine.bad imports histomammo.models (engine -> models)",
        "histomammo.inference.bad imports histomammo.engine "
        "(inference -> engine beyond histomammo.engine.distributed)",
        "histomammo.inference.bad imports histomammo.engine.Trainer "
        "(inference -> engine beyond histomammo.engine.distributed)",
        "histomammo.metrics.bad imports histomammo.systems "
        "(metrics -> systems: nothing imports systems)",
    ]


def test_checker_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "histomammo" / "io"
    fake.mkdir(parents=True)
    (tmp_path / "histomammo" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "bad.py").write_text("from histomammo.engine import Trainer\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_ROOT", tmp_path / "histomammo")
    assert _violations() == ["histomammo.io.bad imports histomammo.engine (io -> engine)"]


# ------------------------------------------------------------------ import cycles
def _module_names() -> set[str]:
    return {module for _, module in _package_modules()}


def _import_targets(path: Path, module: str, modules: set[str]) -> set[str]:
    """The package modules that ``module``'s import statements load (every statement, at
    any depth, ``TYPE_CHECKING`` blocks included).

    ``from X import name`` loads ``X.name`` when that is a module, else ``X`` itself; a
    package's ``__init__`` that only declares lazy ``attach`` re-exports imports nothing,
    so names reached through it add no edge. Parent packages that Python initialises on
    the way are not edges: importing ``a.b.c`` from inside ``a.b`` is no cycle.
    """
    found = set()
    for source, names in _import_statements(path, module):
        if not names:
            found.add(source)
        for name in names:
            child = f"{source}.{name}"
            found.add(child if child in modules else source)
    return {name for name in found if name in modules and name != module}


def _import_graph() -> dict[str, set[str]]:
    modules = _module_names()
    return {module: _import_targets(path, module, modules) for path, module in _package_modules()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a cycle
    path through it, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(_cycle_path(graph, component) for component in components)


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle ``[a, b, ..., a]`` inside a strongly connected component."""
    members, start = set(component), component[0]
    path, seen = [start], {start}
    while True:
        following = sorted(graph[path[-1]] & members)
        if start in following and len(path) > 1:
            return [*path, start]
        unvisited = [m for m in following if m not in seen]
        if not unvisited:  # shortest way back to the start, breadth-first
            return [*path, *_way_back(graph, path[-1], start, members)]
        path.append(unvisited[0])
        seen.add(unvisited[0])


def _way_back(graph: dict[str, set[str]], source: str, target: str, members: set[str]):
    previous = {source: None}
    queue = [source]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
        if target in previous:
            break
    way, node = [], target
    while node != source:
        way.append(node)
        node = previous[node]
    return way[::-1]


def test_no_import_cycles():
    cycles = [" -> ".join(cycle) for cycle in _cycles(_import_graph())]
    assert cycles == []


def test_engine_never_imports_the_trainer():
    """The engine's pieces never see the Trainer; ``fit_recipe`` sits above it, as a user's
    script does (it builds a Trainer per phase), and the Trainer never imports it."""
    graph = _import_graph()
    importers = sorted(
        m for m, targets in graph.items()
        if "histomammo.engine.trainer" in targets and m.startswith("histomammo.engine")
    )
    assert importers == ["histomammo.engine._fit"]
    assert "histomammo.engine._fit" not in graph["histomammo.engine.trainer"]


def test_cycle_checker_catches_a_cycle_and_spares_lazy_packages(tmp_path, monkeypatch):
    root = tmp_path / "histomammo"
    (root / "engine" / "callbacks").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    # lazy attach re-exports: importing a name through the package is no cycle
    (root / "engine" / "__init__.py").write_text(
        "from histomammo._lazy import attach\n"
        "__getattr__, __dir__, __all__ = attach(__name__, attributes={'trainer': ['T']})\n")
    (root / "_lazy.py").write_text("")
    (root / "engine" / "trainer.py").write_text(
        "from histomammo.engine.callbacks import Callback\nclass T: ...\n")
    # a package importing its own submodules, which import a sibling: no cycle
    (root / "engine" / "callbacks" / "__init__.py").write_text(
        "from histomammo.engine.callbacks._base import Callback\n"
        "from histomammo.engine.callbacks._extra import Extra\n")
    (root / "engine" / "callbacks" / "_base.py").write_text("class Callback: ...\n")
    (root / "engine" / "callbacks" / "_extra.py").write_text(
        "from ._base import Callback\nfrom histomammo.engine import T\nclass Extra: ...\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE_ROOT", root)
    assert _cycles(_import_graph()) == []
    (root / "engine" / "loop.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from histomammo.engine.trainer import T\n")
    (root / "engine" / "callbacks" / "_base.py").write_text(
        "def later():\n    from histomammo.engine import loop\n")
    assert _cycles(_import_graph()) == [[
        "histomammo.engine.callbacks",
        "histomammo.engine.callbacks._base",
        "histomammo.engine.loop",
        "histomammo.engine.trainer",
        "histomammo.engine.callbacks",
    ]]

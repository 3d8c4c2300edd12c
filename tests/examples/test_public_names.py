"""The examples use the public API only: never ``histomammo.demo`` (a command line, not a
library) and never a module or name that starts with ``_``."""

from __future__ import annotations

import ast
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def private_imports(source: str, filename: str = "<example>") -> list[str]:
    """``"line: what"`` for each import of ``histomammo.demo`` or of a private module or name."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names = [(alias.name, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [(module, module)] + [(f"{module}.{a.name}", a.name) for a in node.names]
        else:
            continue
        for full, _ in names:
            if not full.startswith("histomammo"):
                continue
            parts = full.split(".")
            if parts[:2] == ["histomammo", "demo"]:
                found.append(f"{node.lineno}: {full} (histomammo.demo)")
            elif any(part.startswith("_") and part != "__future__" for part in parts):
                found.append(f"{node.lineno}: {full} (private)")
    return sorted(set(found))


def test_examples_import_public_names_only():
    scripts = sorted(EXAMPLES.rglob("*.py"))
    assert scripts, f"no examples in {EXAMPLES}"
    bad = {path.name: private_imports(path.read_text(), str(path)) for path in scripts}
    assert {name: found for name, found in bad.items() if found} == {}


def test_checker_catches_demo_and_private_imports():
    source = (
        "import histomammo.demo.glas\n"
        "from histomammo.demo import run_demo\n"
        "from histomammo.metrics._published_mammo import THESIS_SOURCE\n"
        "from histomammo.plot import _figure\n"
        "from histomammo.datasets import _contract as contract\n"
        "from histomammo.engine import Trainer\n"
        "import numpy._core\n"
    )
    assert private_imports(source) == [
        "1: histomammo.demo.glas (histomammo.demo)",
        "2: histomammo.demo (histomammo.demo)",
        "2: histomammo.demo.run_demo (histomammo.demo)",
        "3: histomammo.metrics._published_mammo (private)",
        "3: histomammo.metrics._published_mammo.THESIS_SOURCE (private)",
        "4: histomammo.plot._figure (private)",
        "5: histomammo.datasets._contract (private)",
    ]

"""The notebooks in ``docs/notebooks/``: one per system, committed without outputs, each
executed here (nbclient, a fresh kernel, a temporary working folder) without an error, without
a line on stderr, with finished progress bars, an inline figure and the published numbers.

Needs the ``notebooks`` extra (nbclient, nbformat, ipykernel, ipywidgets):
``pip install -e ".[notebooks]"``.
"""

from __future__ import annotations

import ast
import re
import shutil
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "docs" / "notebooks"
SYSTEMS = ("brecahad", "glas", "pcam", "shen", "thesis")
CELL_TIMEOUT_S = 600  # a bound for a hung kernel; each notebook takes well under a minute idle


def _nbformat():
    try:
        import nbformat
    except ImportError as error:  # a missing extra is a failure here, not a skip
        raise ImportError('the notebook tests need the notebooks extra: '
                          'pip install -e ".[notebooks]"') from error
    return nbformat


def _read(path: Path):
    return _nbformat().read(path, as_version=4)


def _code(notebook) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_one_notebook_per_system():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(SYSTEMS)


@pytest.mark.parametrize("name", SYSTEMS)
def test_committed_notebook_is_stripped(name):
    notebook = _read(NOTEBOOKS / f"{name}.ipynb")
    _nbformat().validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: a cell holds outputs"
            assert cell.execution_count is None, f"{name}: a cell holds an execution count"
        assert not cell.get("attachments"), f"{name}: a cell holds attachments"
    assert "widgets" not in notebook.metadata, f"{name}: saved widget state"


@pytest.mark.parametrize("name", SYSTEMS)
def test_notebook_uses_the_public_api_only(name):
    source = "\n".join(_code(_read(NOTEBOOKS / f"{name}.ipynb")))
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("histomammo"):
            assert not any(part.startswith("_") for part in node.module.split(".")), node.module
            assert not node.module.startswith("histomammo.demo"), node.module
            assert not any(alias.name.startswith("_") for alias in node.names), node.module
        if isinstance(node, ast.Attribute):
            assert not node.attr.startswith("_"), f"{name}: private attribute .{node.attr}"
    assert f"from histomammo.systems import {name}" in source
    assert "histomammo.datasets.synthetic" in source
    assert "histomammo.plot" in source


def _execute(name: str, tmp_path: Path):
    """Run a copy of the notebook in ``tmp_path``; save the executed copy; return it read
    back from disk (what a user saving the notebook would keep)."""
    from nbclient import NotebookClient

    nbformat = _nbformat()
    path = tmp_path / f"{name}.ipynb"
    shutil.copy(NOTEBOOKS / path.name, path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()
    print(f"{name}.ipynb executed in {time.perf_counter() - start:.1f} s")
    nbformat.write(notebook, path)
    return nbformat.read(path, as_version=4)


def _outputs(notebook) -> list:
    return [output for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs]


@pytest.mark.parametrize("name", SYSTEMS)
def test_notebook_runs_clean(name, tmp_path, monkeypatch):
    # the kernel inherits the environment: one torch thread, as the suite's ``one_thread``
    # fixture (small convolutions on the shared 2-core machine run fastest on one)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    outputs = _outputs(_execute(name, tmp_path))
    errors = [output for output in outputs if output.output_type == "error"]
    assert not errors, errors  # nbclient raises first; kept for allow_errors configurations
    stderr = [output.text for output in outputs
              if output.output_type == "stream" and output.name == "stderr"]
    assert not stderr, f"{name}: stderr output (a warning or a log line): {stderr}"
    texts = [output.get("text", "") if output.output_type == "stream"
             else output.get("data", {}).get("text/plain", "") for output in outputs]
    assert not [t for t in texts if re.search(r"warning", t, re.IGNORECASE)], texts

    bars = [output.data["text/plain"] for output in outputs
            if output.output_type == "display_data"
            and "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert bars, f"{name}: no progress widget (is ipywidgets installed?)"
    for bar in bars:  # the saved text of every bar is the finished one, not the 0% it began as
        assert re.match(r"epoch \d+/\d+: 100%\|", bar), bar
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert figures, f"{name}: no inline figure"
    printed = "".join(output.text for output in outputs
                      if output.output_type == "stream" and output.name == "stdout")
    assert "published" in printed and "this run" in printed, printed

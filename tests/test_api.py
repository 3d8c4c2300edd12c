"""The public API surface: ``tests/api/public_api.txt``, the one record of every public name.

A name listed there may only disappear after a deprecation period. When the live API differs,
the test names each added, removed or changed line; the fix is ``python tools/public_api.py``,
a CHANGELOG entry, and, for a removal or rename, ``histomammo._deprecate`` first.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str):
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    return importlib.import_module(name)


public_api = _tool("public_api")
reference_pages = _tool("reference_pages")
check_site = _tool("check_site")


def test_public_api_file_is_current():
    diff = public_api.api_diff(public_api.API_FILE.read_text(), public_api.api_text())
    assert not diff, public_api.HOW_TO_FIX + "\n" + "\n".join(diff)


def test_api_file_has_no_memory_addresses_and_is_sorted():
    lines = public_api.api_lines()
    assert not [line for line in lines if " at 0x" in line]
    paths = [line.partition(": ")[0] for line in lines]
    assert paths == sorted(paths) and len(paths) == len(set(paths))


def test_api_diff_names_each_added_removed_and_changed_name():
    old = "# header\na.f: function (x)\na.g: function ()\n"
    new = "a.f: function (x, y)\na.h: class ()\n"
    assert public_api.api_diff(old, new) == [
        "removed: a.g: function ()",
        "added:   a.h: class ()",
        "changed: a.f: function (x)  ->  function (x, y)",
    ]


def test_signatures_have_stable_defaults():
    def f(a, b=object(), c=frozenset({"y", "x"}), *, d: int = 3) -> str:  # noqa: B008
        return ""

    assert public_api.signature(f) == "(a, b=<object object>, c=frozenset({'x', 'y'}), *, d: int = 3) -> str"


@pytest.mark.parametrize("module_name", public_api.public_modules())
def test_public_names_resolve_and_are_listed_by_dir(module_name):
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert len(names) == len(set(names)), f"{module_name}.__all__ repeats a name"
    for name in names:
        getattr(module, name)
    hidden = {n for n in names if not n.startswith("__")} - set(dir(module))
    assert not hidden, f"{module_name}: dir() hides {sorted(hidden)} (tab completion misses them)"


def test_every_public_name_is_in_the_api_file():
    listed = {path for path, _ in check_site.public_paths(public_api.API_FILE.read_text())}
    for module_name in public_api.public_modules():
        module = importlib.import_module(module_name)
        assert {f"{module_name}.{n}" for n in module.__all__} <= listed


def test_reference_pages_are_current():
    stale = reference_pages.stale(reference_pages.pages())
    assert not stale, "run `python tools/public_api.py`; stale: " + ", ".join(stale)


def test_reference_documents_every_public_object_once():
    text = "\n".join((ROOT / "docs" / "reference").joinpath(p).read_text()
                     for p in sorted(f.name for f in (ROOT / "docs" / "reference").glob("*.md")))
    rendered = [line[4:] for line in text.splitlines() if line.startswith("::: ")]
    assert len(rendered) == len(set(rendered))
    for name in ("write_dicom", "create_model", "GCNN", "glas_metrics", "average_precision"):
        assert any(r.endswith(f".{name}") for r in rendered), name


def test_site_check_finds_roles_markers_and_missing_names():
    page = (
        "<p>Use :func:<code>read_dicom</code> and :class:`Trainer`.</p>"
        "<p>A folder::</p><pre><code>x[::2]</code></pre><p>std::vector is C++ in <code>a::b</code></p>"
        "<p>=====  =====\nthesis  AlexNet</p><pre><code>=====  =====</code></pre>"
    )
    problems = check_site.markup_problems(page)
    assert [p.split(" in ")[0] for p in problems] == ["role :func:", "role :class:", "marker ::", "reST table"]
    clean = "<p>See <a href='#x'><code>read_dicom</code></a>.</p><pre><code>a[::2]\n</code></pre>"
    assert check_site.markup_problems(clean) == []
    ids = {"histomammo.io.read_dicom", "histomammo.io.dicom.DicomImage.pixels"}
    entries = [("histomammo.io.read_dicom", "function"), ("histomammo.io.DicomImage", "class"),
               ("histomammo.io.DicomImage.pixels", "property"), ("histomammo.io.DicomImage.frames", "method")]
    assert check_site.missing_names(entries, ids) == ["histomammo.io.DicomImage", "histomammo.io.DicomImage.frames"]


def test_site_check_finds_tables_of_contents_that_do_not_say_what_they_list():
    def entry(text, children=""):
        link = f'<a href="#{text}" class="md-nav__link"> <span class="md-ellipsis"> {text} </span></a>'
        return f"<li>{link}{children}</li>"

    nested = '<nav class="md-nav"><ul>' + entry("forward") + "</ul></nav>"
    toc = ('<nav class="md-nav md-nav--secondary" aria-label="Table of contents"><ul>'
           + entry("glas") + entry("glas") + entry("GCNN", nested) + entry("UNet", nested)
           + "</ul></nav><nav><ul>" + entry("glas") + "</ul></nav>")
    assert check_site.repeated_toc_entries(toc) == ["table of contents lists 'glas' 2 times"]

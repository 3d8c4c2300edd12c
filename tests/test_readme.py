"""The README: its quickstart runs, and resumes when run again; it renders on a package index
(no relative links); it and the installation page claim only installs that work."""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import pytest

import histomammo

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
INSTALLATION = ROOT / "docs" / "installation.md"


def _quickstart() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python block"
    return blocks[0]


def _run(code: str, capsys) -> str:
    exec(compile(code, str(README), "exec"), {"__name__": "__main__"})
    return capsys.readouterr().out


def _checkpoints(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.pt"))}


def test_quickstart_runs_and_resumes_when_run_again(tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.chdir(tmp_path)
    code = _quickstart()
    first = _run(code, capsys)
    assert "R CC (256, 192) float32" in first
    assert re.search(r"^4 epochs, loss \d\.\d+$", first, flags=re.M), first
    ckpt = tmp_path / "histomammo_quickstart" / "ckpt"
    saved = _checkpoints(ckpt)
    assert saved

    caplog.set_level(logging.INFO, logger="histomammo")
    with pytest.warns(UserWarning, match="does nothing: 4 epochs are done already"):
        second = _run(code, capsys)
    assert second == first  # the same history, nothing retrained
    assert "resumed from" in caplog.text
    assert _checkpoints(ckpt) == saved

    assert code.count("epochs=4") == 1
    third = _run(code.replace("epochs=4", "epochs=6"), capsys)  # as the README says
    assert re.search(r"^6 epochs, loss", third, flags=re.M), third
    with open(ckpt / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == list(range(6))  # 5 and 6 added, once each
    assert f"loss {round(float(rows[3]['loss']), 4)}" in first  # epochs 1-4 kept as they were


_LINK_TARGETS = [
    re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)"),  # [text](target), ![alt](target)
    re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$", flags=re.M),  # [label]: target
    re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']"""),  # raw HTML
]


def _link_targets(text: str) -> list[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # code blocks hold no links
    return [target for pattern in _LINK_TARGETS for target in pattern.findall(text)]


def test_link_finder_finds_what_a_package_index_would_break():
    sample = ('see [the log](CHANGELOG.md), ![fig](docs/img/a.png)\n[ref]: docs/x.md\n'
              '<img src="docs/img/b.png"> [ok](https://example.org/a)\n```\n[code](x.md)\n```')
    assert _link_targets(sample) == ["CHANGELOG.md", "docs/img/a.png", "https://example.org/a",
                                     "docs/x.md", "docs/img/b.png"]


def test_readme_has_no_relative_links():
    # A package index shows README.md outside the repository: a relative link (or an in-page
    # anchor, which indexes rewrite) leads nowhere there.
    relative = [t for t in _link_targets(README.read_text())
                if not t.startswith(("https://", "http://", "mailto:"))]
    assert relative == [], f"README.md links {relative}: use absolute URLs or plain text"


def test_readme_renders_as_a_package_index_renders_it():
    # readme_renderer is what PyPI and `twine check` use for text/markdown (GitHub's flavour).
    from readme_renderer.markdown import render

    html = render(README.read_text(), variant="GFM")
    assert html is not None and "<h2" in html and "<pre" in html
    targets = re.findall(r'(?:href|src)="([^"]*)"', html)
    broken = [t for t in targets if not t.startswith(("https://", "http://", "#user-content-"))]
    assert broken == [], broken


@pytest.mark.parametrize("page", [README, INSTALLATION], ids=lambda p: p.name)
def test_no_claim_that_histomammo_is_on_a_package_index(page):
    # Not on an index yet: every bare `pip install histomammo` must say that it finds nothing.
    for sentence in re.split(r"(?<=[.:])\s", " ".join(page.read_text().split())):
        if re.search(r"pip install ['\"]?histomammo(?![\w\[/-]|\s*@)", sentence):
            assert "finds nothing" in sentence, f"{page.name}: {sentence!r}"


@pytest.mark.parametrize("page", [README, INSTALLATION], ids=lambda p: p.name)
def test_wheel_names_carry_the_current_version(page):
    versions = set(re.findall(r"histomammo-(\d[\w.]*?)(?:-py3|\.tar\.gz)", page.read_text()))
    assert versions <= {histomammo.__version__}, versions

"""Check a built documentation site: no raw Sphinx roles or ``::`` markers, every public name.

    python tools/check_site.py site/

Scans every HTML file. A raw role is reStructuredText's ``:func:``, ``:class:``, ``:mod:`` ...
printed literally (mkdocs does not interpret them); a ``::`` marker is reST's literal-block
marker left in prose (code and ``<pre>`` blocks are not scanned for it, so ``x[::2]`` in an
example is fine). Every public name of ``tests/api/public_api.txt`` must have an element with
its id in the site: module-level names by their public path, class members as
``<...>.<Class>.<member>``. Exits 1 naming each problem (file and text); needs only the standard
library, so it runs in the docs environment. A table of contents with two sibling entries of one text
(entries that do not say what they list) is a problem too.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_FILE = ROOT / "tests" / "api" / "public_api.txt"
ROLES = ("func", "class", "mod", "meth", "attr", "data", "exc", "obj", "const", "ref", "doc",
         "term", "math", "any", "py:[a-z]+")
ROLE = re.compile(r":(?:" + "|".join(ROLES) + r"):(?=`|\S)")
MARKER = re.compile(r"\S::(?=\s|$)")
RST_TABLE = re.compile(r"={4,}[ \t]+={4,}")  # a reST simple table's border, printed as text
_SKIPPED = re.compile(r"<(pre|code|script|style)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_ID = re.compile(r"""\sid=["']([^"']+)["']""")
_TOC_TOKEN = re.compile(
    r'<(/?)(nav|ul)\b|<a href="#[^"]*" class="md-nav__link">\s*<span class="md-ellipsis">(.*?)</span>',
    re.DOTALL,
)


def text_of(page: str, *, keep_code: bool) -> str:
    """Visible text of an HTML page; code blocks removed unless ``keep_code``."""
    if not keep_code:
        page = _SKIPPED.sub(" ", page)
    else:
        page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    return html.unescape(_TAG.sub("", page))


def _context(text: str, start: int) -> str:
    return " ".join(text[max(0, start - 40): start + 40].split())


def markup_problems(page: str) -> list[str]:
    """``role :func: in '...'`` / ``marker :: in '...'`` for every raw role and ``::`` marker."""
    problems = []
    with_code = text_of(page, keep_code=True)
    for match in ROLE.finditer(with_code):
        problems.append(f"role {match.group(0)} in {_context(with_code, match.start())!r}")
    prose = text_of(page, keep_code=False)
    for match in MARKER.finditer(prose):
        problems.append(f"marker :: in {_context(prose, match.start())!r}")
    for match in RST_TABLE.finditer(prose):
        problems.append(f"reST table in {_context(prose, match.start())!r}")
    return problems


MEMBER_KINDS = ("method", "classmethod", "staticmethod", "property", "field", "attribute", "member")


def repeated_toc_entries(page: str) -> list[str]:
    """Entries of a page's table of contents that share their text with a sibling: a TOC whose
    entries do not say what they list (the GlaS page once had four entries all called "glas")."""
    start = page.find('aria-label="Table of contents"')
    if start < 0:
        return []
    problems, siblings, navs = [], [[]], 1
    for match in _TOC_TOKEN.finditer(page, start):
        closing, tag, text = match.groups()
        if tag == "nav":
            navs += -1 if closing else 1
            if navs == 0:
                break
        elif tag == "ul":
            if closing:
                names = siblings.pop()
                problems += sorted({f"table of contents lists {n!r} {names.count(n)} times"
                                    for n in names if names.count(n) > 1})
            else:
                siblings.append([])
        else:
            siblings[-1].append(" ".join(html.unescape(_TAG.sub("", text)).split()))
    return problems


def public_paths(api_text: str) -> list[tuple[str, str]]:
    """``(public path, kind)`` of every line of ``public_api.txt``."""
    entries = []
    for line in api_text.splitlines():
        if line and not line.startswith("#"):
            path, _, rest = line.partition(": ")
            entries.append((path, rest.split(" ")[0]))
    return entries


def missing_names(entries: list[tuple[str, str]], ids: set[str]) -> list[str]:
    """Public paths with no documentation anchor in ``ids``.

    A module-level name needs its own public path as an id; a class member (a method, property,
    ...) is documented under the class's home, so any id ending in ``<Class>.<member>`` counts.
    """
    suffixes = {".".join(i.split(".")[-2:]) for i in ids if i.startswith("histomammo.")}
    missing = []
    for path, kind in entries:
        if path in ids:
            continue
        if kind in MEMBER_KINDS and ".".join(path.split(".")[-2:]) in suffixes:
            continue
        missing.append(path)
    return missing


def check(site: Path) -> list[str]:
    """Every problem of the site at ``site``."""
    files = sorted(site.rglob("*.html"))
    if not files:
        return [f"no HTML files under {site}: build the site first (make docs)"]
    problems, ids = [], set()
    for file in files:
        page = file.read_text(encoding="utf-8")
        ids.update(_ID.findall(page))
        found = markup_problems(page) + repeated_toc_entries(page)
        problems += [f"{file.relative_to(site)}: {p}" for p in found]
    missing = missing_names(public_paths(API_FILE.read_text()), ids)
    problems += [f"public name not documented anywhere in the site: {p}" for p in missing]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site folder")
    args = parser.parse_args(argv)
    problems = check(args.site)
    for problem in problems:
        print(problem)
    count = len(list(args.site.rglob("*.html")))
    print(f"{count} HTML files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Type checkers see the lazy packages' real types: mypy, run on user scripts, reports exactly
the mistakes seeded in them and nothing in the correct one.

Each script here marks a line it expects an error on with a trailing ``# E: code [code ...]``
(one code per error mypy reports on that line). The scripts are type-checked, never run.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="the type tests need mypy (the test extra)")

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SCRIPTS = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("test_"))
MARK = re.compile(r"#\s*E:\s*(?P<codes>[a-z-]+(?:\s+[a-z-]+)*)\s*$")
ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")


def expected_errors(paths: list[Path]) -> Counter[tuple[str, int, str]]:
    """``(file name, line, code)`` of every error the scripts' ``# E:`` marks announce."""
    found: Counter[tuple[str, int, str]] = Counter()
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if match := MARK.search(line):
                found.update((path.name, number, code) for code in match["codes"].split())
    return found


def reported_errors(report: str) -> Counter[tuple[str, int, str]]:
    """``(file name, line, code)`` of every error line of a mypy report (notes skipped)."""
    found: Counter[tuple[str, int, str]] = Counter()
    for line in report.splitlines():
        if match := ERROR.match(line):
            found[(Path(match["path"]).name, int(match["line"]), match["code"])] += 1
    return found


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, int]:
    cache = tmp_path_factory.mktemp("mypy_cache")
    args = [
        "--config-file", str(ROOT / "pyproject.toml"),
        "--strict",  # what a careful user runs; the clean script must pass it
        "--follow-imports", "silent",  # the library's own errors are `mypy histomammo`'s
        "--cache-dir", str(cache),
        "--no-error-summary", "--no-pretty", "--show-error-codes", "--hide-error-context",
        *map(str, SCRIPTS),
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # mypy finds this checkout's histomammo first
        return mypy_api.run(args)


def test_scripts_are_there():
    names = {path.name for path in SCRIPTS}
    assert {"clean.py", "seeded_names.py", "seeded_modules.py"} <= names
    marks = expected_errors(SCRIPTS)
    assert not [key for key in marks if key[0] == "clean.py"]
    assert {code for _, _, code in marks} >= {"call-arg", "arg-type", "attr-defined"}


def test_mypy_reports_exactly_the_seeded_mistakes(mypy_report):
    stdout, stderr, status = mypy_report
    assert stderr == "", stderr
    reported, expected = reported_errors(stdout), expected_errors(SCRIPTS)
    missed = sorted((expected - reported).elements())
    extra = sorted((reported - expected).elements())
    assert (missed, extra) == ([], []), f"missed {missed}, not marked {extra}:\n{stdout}"
    assert status == 1  # errors found, and mypy itself did not crash (status 2)


def test_marks_and_report_parsing(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("x = 1\nf(x)  # E: name-defined\ng(h)  # E: name-defined name-defined\n")
    assert expected_errors([script]) == Counter(
        {("s.py", 2, "name-defined"): 1, ("s.py", 3, "name-defined"): 2})
    report = (f"{script}:2: error: Name \"f\" is not defined  [name-defined]\n"
              f"{script}:2: note: a note  [name-defined]\n"
              "other/s.py:9: error: Unsupported operand  [operator]\n")
    assert reported_errors(report) == Counter(
        {("s.py", 2, "name-defined"): 1, ("s.py", 9, "operator"): 1})

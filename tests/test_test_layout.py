"""The test tree itself: pytest's default import mode needs unique test-file basenames.

Two ``test_contract.py`` (tests/datasets and tests/models) once stopped the whole suite at
collection while every folder run alone passed; this catches that in any partial run.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).parent


def test_test_file_basenames_are_unique():
    places = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        places[path.name].append(str(path.relative_to(TESTS)))
    repeated = {name: sorted(paths) for name, paths in places.items() if len(paths) > 1}
    assert not repeated, f"rename one of each (pytest imports them by basename): {repeated}"

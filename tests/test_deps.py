"""A missing optional dependency fails at call time with the install line."""

from __future__ import annotations

import pytest

from histomammo._deps import require
from histomammo.errors import MissingDependencyError


def test_smoke():
    assert require("json").__name__ == "json"


def test_exception_names_install_line():
    with pytest.raises(MissingDependencyError, match=r"pip install 'histomammo\[plot\]'"):
        require("histomammo_no_such_module", extra="plot")
    with pytest.raises(ImportError, match="pip install nosuchdist"):
        require("histomammo_no_such_module", package="nosuchdist")

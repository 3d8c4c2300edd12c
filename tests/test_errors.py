"""Every histomammo exception is also the builtin that describes the failure."""

from __future__ import annotations

import pytest

from histomammo import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.DataFormatError, ValueError),
        (errors.MissingFileError, FileNotFoundError),
        (errors.MissingFileError, errors.DataFormatError),
        (errors.MissingDependencyError, ImportError),
        (errors.CheckpointError, RuntimeError),
        (errors.NonFiniteLossError, FloatingPointError),
    ],
)
def test_hierarchy(cls, builtin):
    assert issubclass(cls, errors.HistomammoError)
    with pytest.raises(builtin, match="scan.dcm"):
        raise cls("scan.dcm: truncated")


def test_all_lists_every_exception():
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    assert defined == set(errors.__all__)

"""The deprecation helper: FutureWarning naming the replacement and the removal version, an
error once the package's version reaches it."""

from __future__ import annotations

import warnings

import pytest

from histomammo import _deprecate
from histomammo._deprecate import (
    DeprecationExpired,
    change_default,
    deprecated_alias,
    remove_parameter,
    rename_parameter,
)


def plot_new(x: int = 1) -> int:
    return x * 2


class NewThing:
    def __init__(self, value: int) -> None:
        self.value = value


@pytest.fixture
def version(monkeypatch):
    def set_version(v: str) -> None:
        monkeypatch.setattr(_deprecate, "_current_version", lambda: v)
    set_version("0.2.0")
    return set_version


def test_alias_warns_with_replacement_and_removal(version):
    old = deprecated_alias("histomammo.plot.old", plot_new, since="0.2.0", remove_in="0.4.0")
    with pytest.warns(FutureWarning, match=r"histomammo\.plot\.old is deprecated since 0\.2\.0, "
                      r"use .*plot_new instead; it will be removed in 0\.4\.0"):
        assert old(3) == 6


def test_alias_of_a_class_is_a_subclass(version):
    Old = deprecated_alias("OldThing", NewThing, since="0.2.0", remove_in="0.4.0")
    with pytest.warns(FutureWarning, match="use .*NewThing"):
        thing = Old(5)
    assert isinstance(thing, NewThing) and thing.value == 5


def test_alias_fails_once_removal_version_is_reached(version):
    old = deprecated_alias("old", plot_new, since="0.2.0", remove_in="0.4.0")
    version("0.4.0")
    with pytest.raises(DeprecationExpired, match="remove the shim"):
        old()
    version("0.4.0.dev0")  # a pre-release of the removal version is that version already
    with pytest.raises(DeprecationExpired):
        old()


def test_rename_parameter(version):
    @rename_parameter("out_channels", "num_classes", since="0.2.0", remove_in="0.4.0")
    def build(*, num_classes: int = 2) -> int:
        return num_classes

    with pytest.warns(FutureWarning, match=r"out_channels=\.\.\.\) is deprecated .* use num_classes"):
        assert build(out_channels=5) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build(num_classes=4) == 4
    with pytest.raises(TypeError, match="got both"):
        build(out_channels=1, num_classes=2)
    version("1.0.0")
    with pytest.raises(DeprecationExpired):
        build(out_channels=5)


def test_remove_parameter(version):
    @remove_parameter("verbose", since="0.2.0", remove_in="0.4.0", hint="use progress=")
    def fit(*, progress: bool = True) -> bool:
        return progress

    with pytest.warns(FutureWarning, match="ignored: use progress="):
        assert fit(verbose=True) is True
    version("0.4.1")
    with pytest.raises(DeprecationExpired):
        fit(verbose=True)


def test_change_default(version):
    @change_default("from_logits", False, True, since="0.2.0", change_in="0.4.0")
    def score(x: float, *, from_logits: bool = False) -> bool:
        return from_logits

    with pytest.warns(FutureWarning, match=r"default from_logits=False changes to True"):
        assert score(1.0) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert score(1.0, from_logits=True) is True
    version("0.4.0")
    with pytest.raises(DeprecationExpired):
        score(1.0)


def test_version_parsing():
    assert _deprecate._version_tuple("0.1.0.dev0") == (0, 1, 0)
    assert _deprecate._version_tuple("1.2") == (1, 2, 0)
    with pytest.raises(ValueError):
        _deprecate._version_tuple("dev")

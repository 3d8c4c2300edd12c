"""Lazy attribute loading for packages (PEP 562), so ``import histomammo`` stays fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def attach(
    package: str,
    submodules: Iterable[str] = (),
    attributes: Mapping[str, Iterable[str]] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``__getattr__``, ``__dir__`` and ``__all__`` for a lazily loaded package.

    Parameters
    ----------
    package : str
        ``__name__`` of the package being set up.
    submodules : iterable of str
        Submodules exposed as attributes, imported on first access.
    attributes : mapping of str to iterable of str
        ``{submodule: [name, ...]}``: names re-exported from a private submodule,
        imported on first access.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)`` to assign at module level.

    Examples
    --------
    >>> getattr_, dir_, all_ = attach("histomammo", submodules=["io"])
    >>> all_
    ['io']
    >>> getattr_("io").__name__
    'histomammo.io'
    """
    submodules = set(submodules)
    origin = {name: mod for mod, names in (attributes or {}).items() for name in names}
    public = sorted(submodules | set(origin))

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name in origin:
            module = importlib.import_module(f"{package}.{origin[name]}")
            return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return list(public)

    return __getattr__, __dir__, list(public)

"""Optional dependencies: import at call time, fail with the install line."""

from __future__ import annotations

import importlib
from types import ModuleType

from histomammo.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str, *, extra: str | None = None, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise
    [`MissingDependencyError`][histomammo.errors.MissingDependencyError].

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"matplotlib.pyplot"``.
    extra : str, optional
        histomammo extra that installs it, e.g. ``"plot"``.
    package : str, optional
        Distribution name when it differs from the module's top-level name.

    Examples
    --------
    >>> require("json").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        dist = package or module.split(".")[0]
        hint = f"pip install 'histomammo[{extra}]'" if extra else f"pip install {dist}"
        raise MissingDependencyError(
            f"{module!r} is needed for this call but is not installed; install it with: {hint}"
        ) from err

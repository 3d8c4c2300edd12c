"""Lazy attribute loading for packages (PEP 562), so ``import histomammo`` stays fast.

A lazy package keeps its public names in one place, its type stub ``__init__.pyi``, which
type checkers read; [`attach_stub`][histomammo._lazy.attach_stub] parses that stub at import
time and builds the package's ``__getattr__``, ``__dir__`` and ``__all__`` from it (the
scikit-image ``lazy_loader.attach_stub`` pattern, without the dependency), so what a type
checker sees and what the package offers at run time cannot disagree.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from histomammo.errors import DataFormatError, MissingFileError

__all__ = ["attach", "attach_stub", "read_stub"]


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


def read_stub(
    package: str, stub_path: str
) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """Read a lazy package's public names from its type stub.

    Parameters
    ----------
    package : str
        ``__name__`` of the package, e.g. ``"histomammo.io"``.
    stub_path : str
        Path of the package's ``__init__.pyi``.

    Returns
    -------
    submodules : list of str
        Submodules the stub re-exports (``from histomammo.io import dicom as dicom``).
    attributes : dict of str to list of str
        ``{submodule: [name, ...]}`` for ``from histomammo.io.dicom import read_dicom as
        read_dicom``; the submodule is relative to ``package`` and may be dotted.
    defined : list of str
        Names the stub declares itself (``__version__: str``, ``def f(...) -> ...: ...``,
        ``class C: ...``), which the package's ``__init__.py`` defines eagerly.

    Raises
    ------
    MissingFileError
        If the stub does not exist (a bundler that dropped ``.pyi`` files).
    DataFormatError
        If the stub imports a name from inside ``package`` without re-exporting it under
        its own name (``from .m import a`` or ``... import a as b``, which type checkers
        would not show as public), or from a module outside ``package`` under a public
        name.

    Examples
    --------
    >>> import histomammo, os
    >>> stub = os.path.join(os.path.dirname(histomammo.__file__), "io", "__init__.pyi")
    >>> submodules, attributes, defined = read_stub("histomammo.io", stub)
    >>> submodules, attributes["dicom"], defined
    (['dicom', 'hdf5', 'tiff'], ['DicomImage', 'read_dicom'], [])
    """
    try:
        with open(stub_path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=stub_path)
    except FileNotFoundError:
        raise MissingFileError(
            f"{stub_path}: the type stub listing {package}'s public names is missing; it ships "
            "with histomammo (package data '**/*.pyi'): reinstall, or keep .pyi files when "
            "bundling"
        ) from None
    submodules: list[str] = []
    attributes: dict[str, list[str]] = {}
    defined: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = _absolute(package, node)
            for alias in node.names:
                _check_reexport(package, stub_path, source, alias)
                if not _inside(package, source):
                    continue
                if source == package:
                    submodules.append(alias.name)
                else:
                    attributes.setdefault(source[len(package) + 1:], []).append(alias.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.append(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.append(node.name)
    return submodules, attributes, defined


def _absolute(package: str, node: ast.ImportFrom) -> str:
    """The absolute module name of a ``from ... import`` inside ``package``'s stub."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _inside(package: str, module: str) -> bool:
    return module == package or module.startswith(package + ".")


def _check_reexport(package: str, stub_path: str, source: str, alias: ast.alias) -> None:
    inside = _inside(package, source)
    if inside and alias.asname != alias.name:
        raise DataFormatError(
            f"{stub_path}: 'from {source} import {alias.name}"
            f"{' as ' + alias.asname if alias.asname else ''}' does not re-export the name; "
            f"expected 'from {source} import {alias.name} as {alias.name}'"
        )
    if not inside and alias.asname is not None and not alias.asname.startswith("_"):
        raise DataFormatError(
            f"{stub_path}: 'from {source} import {alias.name} as {alias.asname}' re-exports a "
            f"name from outside {package}; expected names of {package}'s own modules only"
        )


def attach_stub(
    package: str, init_file: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``__getattr__``, ``__dir__`` and ``__all__`` built from the package's stub.

    The stub ``__init__.pyi`` beside ``init_file`` is the one list of the package's public
    names (see [`read_stub`][histomammo._lazy.read_stub]): its re-exported submodules and
    names load on first access, and the names it declares itself must be defined by the
    ``__init__.py`` before or after this call.

    Parameters
    ----------
    package : str
        ``__name__`` of the package being set up.
    init_file : str
        ``__file__`` of the package's ``__init__.py``.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)`` to assign at module level; ``__all__`` is
        sorted and holds the declared names too.

    Examples
    --------
    >>> import histomammo
    >>> getattr_, dir_, all_ = attach_stub("histomammo", histomammo.__file__)
    >>> "io" in all_ and "__version__" in all_
    True
    >>> getattr_("io").__name__
    'histomammo.io'
    """
    stub_path = init_file[: -len(".py")] + ".pyi" if init_file.endswith(".py") else init_file
    submodules, attributes, defined = read_stub(package, stub_path)
    getattr_, _, lazy = attach(package, submodules, attributes)
    public = sorted({*lazy, *defined})

    def __dir__() -> list[str]:
        return list(public)

    return getattr_, __dir__, list(public)

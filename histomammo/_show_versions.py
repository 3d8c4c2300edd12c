"""``histomammo.show_versions()``: the versions a bug report needs, without importing them.

Every version is read from the installed distributions' metadata
(`importlib.metadata`), so torch, e2cnn, matplotlib and the decoders are never
imported: the call takes milliseconds and works even where one of them is broken. The list of
dependencies is histomammo's own ``Requires-Dist`` metadata, so it never falls out of step with
``pyproject.toml``.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata
from typing import NamedTuple, TextIO

__all__ = ["show_versions"]

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


class _Dependency(NamedTuple):
    name: str
    required: str  # the declared range, e.g. ">=2.10"; "" when none
    extras: tuple[str, ...]  # () for a core dependency
    installed: str  # the installed version, or "not installed"


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _dependencies() -> list[_Dependency] | None:
    """histomammo's declared dependencies, core first, each once; ``None`` without metadata."""
    try:
        requirements = metadata.requires("histomammo") or []
    except metadata.PackageNotFoundError:
        return None
    declared: dict[str, tuple[str, list[str]]] = {}  # name -> (range, extras; [] = core)
    core: set[str] = set()
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        match = _NAME.match(spec)
        if match is None:  # not a requirement string: nothing to report on
            continue
        name = match.group(1)
        required, extras = declared.setdefault(name, (match.group(2).strip(), []))
        extra = _EXTRA.search(marker)
        if extra is None:
            core.add(name)
        elif extra.group(1) not in extras:
            extras.append(extra.group(1))
    rows = [_Dependency(name, required, () if name in core else tuple(extras), _installed(name))
            for name, (required, extras) in declared.items()]
    return sorted(rows, key=lambda row: bool(row.extras))  # stable: core first, pyproject order


def _histomammo_line() -> str:
    from histomammo import __version__

    return f"{__version__} ({os.path.dirname(os.path.abspath(__file__))})"


def _format(rows: list[_Dependency] | None) -> str:
    lines = [
        f"histomammo: {_histomammo_line()}",
        f"Python:     {sys.version.splitlines()[0]}",
        f"executable: {sys.executable}",
        f"platform:   {platform.platform()} ({platform.machine() or 'unknown machine'})",
    ]
    if rows is None:
        lines += ["", "dependencies: unknown (no installed histomammo metadata: install the "
                  "package, e.g. `pip install -e .` in a clone)"]
        return "\n".join(lines) + "\n"
    width = max(len(row.name) for row in rows) if rows else 0
    installed_width = max(len(row.installed) for row in rows) if rows else 0
    for title, core in (("core dependencies", True), ("optional dependencies", False)):
        lines += ["", title]
        for row in rows:
            if (not row.extras) == core:
                where = f"; extra: {', '.join(row.extras)}" if row.extras else ""
                lines.append(f"  {row.name:<{width}}  {row.installed:<{installed_width}}"
                             f"  (declared {row.required or 'any'}{where})")
    return "\n".join(lines) + "\n"


def show_versions(file: TextIO | None = None) -> None:
    """Print the versions of Python, the platform, histomammo and all its dependencies.

    Paste its output into a bug report. Each core dependency and each optional one (the
    ``plot``, ``dicom``, ``slides``, ``test``, ``docs`` and ``bench`` extras) is listed with
    its installed version, or ``not installed``, beside the range histomammo declares. The
    versions come from the installed packages' metadata: nothing is imported, so a broken or
    slow-to-import dependency cannot hide the report.

    Parameters
    ----------
    file : text stream, optional
        Where to write; ``sys.stdout`` (at call time) by default.

    Examples
    --------
    >>> import histomammo
    >>> histomammo.show_versions()
    histomammo: 0.1.0 (...)
    Python:     3...
    executable: ...
    platform:   ...
    <BLANKLINE>
    core dependencies
      torch ...
    """
    (sys.stdout if file is None else file).write(_format(_dependencies()))

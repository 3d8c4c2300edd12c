"""The public API of histomammo as a file, and the API reference pages generated from it.

    python tools/public_api.py           # rewrite tests/api/public_api.txt and docs/reference/
    python tools/public_api.py --check   # exit 1, naming every difference, when either is stale

Public modules are every module of the package whose dotted path has no component starting
with ``_``, except the command-line program ``histomammo.demo``; the public names of a module
are its ``__all__``. Each line of ``public_api.txt`` is ``<module>.<name>: <kind> <signature>``;
public classes add one line per public method, property and class attribute that histomammo
defines on them or on their histomammo base classes (renaming those breaks users too).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_FILE = ROOT / "tests" / "api" / "public_api.txt"
PACKAGE = "histomammo"
EXCLUDED = ("histomammo.demo",)  # a command line (``python -m histomammo.demo``), not an API
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
HEADER = (
    "# The public API of histomammo: one line per public name, written by tools/public_api.py.\n"
    "# Do not edit by hand. A change here needs a CHANGELOG entry; a removal or rename goes\n"
    "# through histomammo._deprecate first.\n"
)


def public_modules() -> list[str]:
    """Every public module's dotted name, sorted."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
        private = any(part.startswith("_") for part in info.name.split("."))
        excluded = any(info.name == e or info.name.startswith(e + ".") for e in EXCLUDED)
        if not private and not excluded:
            names.append(info.name)
    return sorted(names)


def _stable_repr(value: Any) -> str:
    if isinstance(value, (set, frozenset)):
        items = ", ".join(sorted(_stable_repr(v) for v in value))
        return f"{type(value).__name__}({{{items}}})" if value else f"{type(value).__name__}()"
    if inspect.isfunction(value) or inspect.isclass(value):
        return f"{value.__module__}.{value.__qualname__}"
    return _ADDRESS.sub("", repr(value))


class _Text:
    """Formats as the given text: annotations unquoted, defaults without memory addresses."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _param(p: inspect.Parameter) -> inspect.Parameter:
    if p.default is not inspect.Parameter.empty:
        p = p.replace(default=_Text(_stable_repr(p.default)))
    if p.annotation is not inspect.Parameter.empty:
        p = p.replace(annotation=_Text(_annotation(p.annotation)))
    return p


def signature(obj: Any) -> str:
    """``inspect.signature`` with defaults written without memory addresses; ``(...)`` if none."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = [_param(p) for p in sig.parameters.values()]
    returns = sig.return_annotation
    if returns is not inspect.Signature.empty:
        returns = _Text(_annotation(returns))
    return _ADDRESS.sub("", str(sig.replace(parameters=params, return_annotation=returns)))


def _annotation(obj: Any) -> str:
    if obj is inspect.Parameter.empty:
        return ""
    return inspect.formatannotation(obj) if not isinstance(obj, str) else obj


def describe(obj: Any) -> str:
    """``<kind> <signature or type>`` of one public object."""
    if isinstance(obj, ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class " + signature(obj)
    if inspect.isfunction(inspect.unwrap(obj)) or inspect.isbuiltin(obj):  # lru_cache etc. too
        return "function " + signature(obj)
    if callable(obj) and not isinstance(obj, enum.Enum):
        return f"callable {type(obj).__name__} " + signature(obj)
    return f"data {type(obj).__name__}"


def _member(value: Any) -> str | None:
    """Kind and signature of one attribute found in a class ``__dict__``; ``None`` to skip."""
    if isinstance(value, staticmethod):
        return "staticmethod " + signature(value.__func__)
    if isinstance(value, classmethod):
        return "classmethod " + signature(value.__func__).replace("(cls, ", "(").replace("(cls)", "()")
    if isinstance(value, property):
        returns = inspect.signature(value.fget).return_annotation if value.fget else inspect.Parameter.empty
        text = _annotation(returns)
        return "property" + (f" -> {text}" if text else "")
    if hasattr(value, "func") and type(value).__name__ == "cached_property":
        return "property"
    if inspect.isfunction(value):
        return "method " + signature(value)
    if inspect.isclass(value):
        return "class " + signature(value)
    if inspect.isdatadescriptor(value) or inspect.ismemberdescriptor(value):
        return "field"
    return f"attribute {type(value).__name__}"


def class_members(cls: type) -> list[tuple[str, str]]:
    """``(name, description)`` of the public members histomammo defines on ``cls`` and its bases."""
    seen: dict[str, str] = {}
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith(PACKAGE):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in seen or name in fields:  # fields: in the signature
                continue
            text = _member(value)
            if text is not None:
                seen[name] = text
    return sorted(seen.items())


def api_lines() -> list[str]:
    """The lines of ``public_api.txt``, sorted, header excluded."""
    lines = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in sorted(set(module.__all__)):
            obj = getattr(module, name)
            path = f"{module_name}.{name}"
            lines.append(f"{path}: {describe(obj)}")
            if inspect.isclass(obj) and obj.__module__.startswith(PACKAGE):
                if issubclass(obj, enum.Enum):
                    lines.extend(f"{path}.{m.name}: member" for m in obj)
                    continue
                lines.extend(f"{path}.{member}: {text}" for member, text in class_members(obj))
    return sorted(lines, key=lambda line: line.partition(": ")[0])


def api_text() -> str:
    """The full content of ``public_api.txt``."""
    return HEADER + "".join(line + "\n" for line in api_lines())


def _split(line: str) -> tuple[str, str]:
    path, _, rest = line.partition(": ")
    return path, rest


def api_diff(old_text: str, new_text: str) -> list[str]:
    """One line per added, removed or changed public name, old file to live API."""
    old = dict(_split(line) for line in old_text.splitlines() if line and not line.startswith("#"))
    new = dict(_split(line) for line in new_text.splitlines() if line and not line.startswith("#"))
    diff = [f"removed: {p}: {old[p]}" for p in sorted(old.keys() - new.keys())]
    diff += [f"added:   {p}: {new[p]}" for p in sorted(new.keys() - old.keys())]
    diff += [
        f"changed: {p}: {old[p]}  ->  {new[p]}"
        for p in sorted(old.keys() & new.keys())
        if old[p] != new[p]
    ]
    return diff


HOW_TO_FIX = (
    "The public API differs from tests/api/public_api.txt. If the change is intended: run "
    "`python tools/public_api.py`, write the CHANGELOG entry (every rename as old -> new), and "
    "route every removal or rename through histomammo._deprecate (the old name keeps working "
    "with a FutureWarning for two minor releases)."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tools"))
    import reference_pages  # noqa: PLC0415 (tools/ is not a package)

    text = api_text()
    pages = reference_pages.pages()
    if args.check:
        problems = api_diff(API_FILE.read_text() if API_FILE.exists() else "", text)
        if problems:
            print(HOW_TO_FIX, *problems, sep="\n")
        stale = reference_pages.stale(pages)
        if stale:
            print("stale API reference pages (run `python tools/public_api.py`):", *stale, sep="\n  ")
        return 1 if problems or stale else 0
    API_FILE.parent.mkdir(parents=True, exist_ok=True)
    API_FILE.write_text(text)
    reference_pages.write(pages)
    print(f"{len(text.splitlines()) - HEADER.count(chr(10))} lines in {API_FILE.relative_to(ROOT)}, "
          f"{len(pages)} reference pages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

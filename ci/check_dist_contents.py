"""What the wheel and the sdist in DIST hold: ``python ci/check_dist_contents.py [DIST]``.

- the wheel: exactly the ``histomammo`` package (every ``.py``/``.pyi`` file of the source
  tree, ``py.typed``) and its ``.dist-info``; no tests, nothing else at the top level;
- the sdist: ``pyproject.toml``, ``README.md``, ``LICENSE``, ``CHANGELOG.md`` and the same
  package files, and no ``tests/`` (the suite tests the repository: its examples, benchmarks,
  docs and README, so it runs from a clone, not from the sdist);
- the metadata: the version of ``histomammo/__init__.py``, ``License-Expression:
  BSD-3-Clause``, the LICENSE file, the README as ``text/markdown``.

Prints a summary; exits non-zero naming what is wrong.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "histomammo"


def _version() -> str:
    text = (PACKAGE / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, flags=re.M).group(1)


def _package_files() -> set[str]:
    """``histomammo/...`` paths of the source files a distribution must carry."""
    files = {p for pattern in ("*.py", "*.pyi", "py.typed") for p in PACKAGE.rglob(pattern)}
    return {p.relative_to(REPO).as_posix() for p in files if "__pycache__" not in p.parts}


def _check_metadata(text: str, version: str, where: str) -> list[str]:
    meta = Parser().parsestr(text)
    expected = {"Name": "histomammo", "Version": version, "License-Expression": "BSD-3-Clause",
                "Description-Content-Type": "text/markdown"}
    problems = [f"{where}: {key} is {meta.get(key)!r}, expected {value!r}"
                for key, value in expected.items() if meta.get(key) != value]
    if "LICENSE" not in meta.get_all("License-File", []):
        problems.append(f"{where}: no License-File: LICENSE")
    if not meta.get_all("Requires-Dist"):
        problems.append(f"{where}: no Requires-Dist")
    return problems


def check_wheel(path: Path, version: str) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        info = f"histomammo-{version}.dist-info"
        problems = _check_metadata(wheel.read(f"{info}/METADATA").decode(), version, path.name)
    package = {n for n in names if n.startswith("histomammo/")}
    problems += [f"{path.name}: missing {n}" for n in sorted(_package_files() - package)]
    problems += [f"{path.name}: unexpected {n}" for n in sorted(names - package)
                 if not n.startswith(f"{info}/")]
    if f"{info}/licenses/LICENSE" not in names:
        problems.append(f"{path.name}: no {info}/licenses/LICENSE")
    print(f"{path.name}: {len(package)} package files, {len(names - package)} dist-info files, "
          f"{path.stat().st_size / 1e3:.0f} kB")
    return problems


def check_sdist(path: Path, version: str) -> list[str]:
    top = f"histomammo-{version}/"
    with tarfile.open(path) as sdist:
        names = {m.name.removeprefix(top) for m in sdist.getmembers() if m.isfile()}
        problems = _check_metadata(sdist.extractfile(f"{top}PKG-INFO").read().decode(), version,
                                   path.name)
    package = {n for n in names if n.startswith("histomammo/")}
    required = {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "PKG-INFO"}
    problems += [f"{path.name}: missing {n}" for n in sorted(required - names)]
    problems += [f"{path.name}: missing {n}" for n in sorted(_package_files() - package)]
    problems += [f"{path.name}: ships {n} (tests stay in the repository)" for n in sorted(names)
                 if n.startswith("tests/") or "/tests/" in n or n.startswith("test_")]
    others = sorted(names - package - required)
    print(f"{path.name}: {len(package)} package files + {', '.join(sorted(required))}"
          f"{', ' + ', '.join(others) if others else ''}; {path.stat().st_size / 1e3:.0f} kB")
    allowed = re.compile(r"^(setup\.cfg|MANIFEST\.in|histomammo\.egg-info/.*)$")  # setuptools' own
    problems += [f"{path.name}: unexpected {n}" for n in others
                 if not allowed.match(n) and not n.startswith("tests/")]
    return problems


def main(dist: Path) -> int:
    version = _version()
    wheels = sorted(dist.glob(f"histomammo-{version}-*.whl"))
    sdists = sorted(dist.glob(f"histomammo-{version}.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist of {version} in {dist}, found "
              f"{[p.name for p in dist.iterdir()] if dist.is_dir() else 'no folder'}")
        return 1
    problems = check_wheel(wheels[0], version) + check_sdist(sdists[0], version)
    for problem in problems:
        print(f"error: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "dist"))

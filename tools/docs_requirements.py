"""Print the ``docs`` extra of pyproject.toml, one requirement a line (for ``make docs``'s venv).

The docs build needs only these: mkdocstrings reads histomammo by static analysis (griffe, from
``paths: [.]`` in mkdocs.yml), so neither histomammo nor torch / numpy is installed there.
"""

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    print("\n".join(project["optional-dependencies"]["docs"]))

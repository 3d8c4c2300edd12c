"""Print the ``docs`` extra of pyproject.toml, one requirement a line (for ``make docs``'s venv).

The docs build needs only these: mkdocstrings reads histomammo by static analysis (griffe, from
``paths: [.]`` in mkdocs.yml), so neither histomammo nor torch / numpy is installed there.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def docs_extra(text: str) -> list[str]:
    """The ``docs`` list of ``[project.optional-dependencies]`` in a pyproject.toml text."""
    return list(tomllib.loads(text)["project"]["optional-dependencies"]["docs"])


if __name__ == "__main__":
    print("\n".join(docs_extra((ROOT / "pyproject.toml").read_text())))

"""Print the ``docs`` extra of pyproject.toml, one requirement a line (for ``make docs``'s venv).

The docs build needs only these: mkdocstrings reads histomammo by static analysis (griffe, from
``paths: [.]`` in mkdocs.yml), so neither histomammo nor torch / numpy is installed there.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def docs_extra(text: str) -> list[str]:
    """The ``docs`` list of ``[project.optional-dependencies]`` in a pyproject.toml text."""
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # Python 3.10: the extra is one flat list of strings
        block = re.search(r"^docs\s*=\s*\[(.*?)\]", text, re.MULTILINE | re.DOTALL)
        if block is None:
            raise SystemExit("pyproject.toml has no `docs` extra") from None
        body = re.sub(r"#.*", "", block.group(1))
        return re.findall(r"\"([^\"]+)\"", body)
    return list(tomllib.loads(text)["project"]["optional-dependencies"]["docs"])


if __name__ == "__main__":
    print("\n".join(docs_extra((ROOT / "pyproject.toml").read_text())))

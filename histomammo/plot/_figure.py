"""Saving figures: every picture the library writes goes through one atomic save."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from histomammo._atomic import atomic_write

__all__ = ["save_figure"]


def save_figure(
    figure: Any, path: str | os.PathLike[str] | None, *, dpi: int = 100, tight: bool = False
) -> None:
    """Write a matplotlib ``figure`` to ``path`` atomically (nothing when ``path`` is None).

    The format comes from the suffix (PNG without one); ``tight`` crops to the drawn area
    (``bbox_inches="tight"``).
    """
    if path is None:
        return
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format=path.suffix.lstrip(".") or "png", dpi=dpi,
                       bbox_inches="tight" if tight else None)

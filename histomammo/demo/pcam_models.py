"""Demo stage ``pcam_models``: a P4M G-CNN learns synthetic PCam, exports, and is invariant
([`gcnn_run`][histomammo.systems.pcam.gcnn_run])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from histomammo import systems

__all__ = ["run"]


def run(out: Path, seed: int, **options: Any) -> dict[str, Any]:
    """The stage into ``out``; ``options`` (``device``, ``amp``, ``channels_last``) go to
    [`gcnn_run`][histomammo.systems.pcam.gcnn_run]."""
    return systems.pcam.gcnn_run(out, seed, **options)

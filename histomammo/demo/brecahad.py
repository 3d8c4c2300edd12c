"""Demo stage ``brecahad``: the Faster R-CNN tumour-cell detector on a small synthetic BreCaHAD
([`detector_run`][histomammo.systems.brecahad.detector_run])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from histomammo import systems

__all__ = ["run"]


def run(out: Path, seed: int, **options: Any) -> dict[str, Any]:
    """The stage into ``out``; ``options`` (``device``, ``amp``, ``channels_last``) go to
    [`detector_run`][histomammo.systems.brecahad.detector_run]."""
    return systems.brecahad.detector_run(out, seed, **options)

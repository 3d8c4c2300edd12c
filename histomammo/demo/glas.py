"""Demo stage ``glas``: a reduced U-Net segments a small synthetic GlaS
([`unet_run`][histomammo.systems.glas.unet_run])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from histomammo import systems

__all__ = ["run"]


def run(out: Path, seed: int, **options: Any) -> dict[str, Any]:
    """The stage into ``out``; ``options`` (``device``, ``amp``, ``channels_last``) go to
    [`unet_run`][histomammo.systems.glas.unet_run]."""
    return systems.glas.unet_run(out, seed, **options)

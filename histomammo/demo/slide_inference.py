"""Demo stage ``slide_inference``: a PCam classifier trained on patches cut from synthetic slides
maps a held-out slide; heatmap figure, FROC and slide AUC
([`slide_heatmap_run`][histomammo.systems.pcam.slide_heatmap_run])."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from histomammo import systems

__all__ = ["run"]


def run(out: Path, seed: int, **options: Any) -> dict[str, Any]:
    """The stage into ``out``; ``options`` (``device``) go to
    [`slide_heatmap_run`][histomammo.systems.pcam.slide_heatmap_run]."""
    options.pop("amp", None)
    options.pop("channels_last", None)
    return systems.pcam.slide_heatmap_run(out, seed, **options)

"""Demo stage ``mammo_models``: the two mammography classification seeds, short.

1. The thesis ([`whole_image_run`][histomammo.systems.thesis.whole_image_run]): synthetic
   INbreast tree -> cropping preprocessing -> a small ``alexnet_grey`` -> best-validation-loss
   snapshot -> table 6.3 / 6.4 rows with bootstrap intervals.
2. Shen et al. ([`patch_to_whole_run`][histomammo.systems.shen.patch_to_whole_run]): synthetic
   CBIS-DDSM tree -> S10 patches -> patch classifier -> whole-image classifier, with and
   without heatmap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from histomammo import systems

__all__ = ["run"]


def run(out: Path, seed: int, **options: Any) -> dict[str, Any]:
    """Both pipelines, short (one thread: fast on a shared CPU); ``options`` (``device``,
    ``amp``, ``channels_last``) go to both."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole = systems.thesis.whole_image_run(out / "whole_image", seed, epochs=8,
                                               n_patients=40, width=0.25, fc_size=256,
                                               **options)
        whole.pop("history")
        shen = systems.shen.patch_to_whole_run(out / "patch_to_whole", seed, **options)
        history = shen.pop("patch_history")
        shen["patch_loss_first_last"] = [history[0]["loss"], history[-1]["loss"]]
    finally:
        torch.set_num_threads(threads)
    return {"whole_image": whole, "patch_to_whole": shen}

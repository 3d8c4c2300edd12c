"""Draw the figures of docs/stain.md: ``python docs/img/stain/make_figures.py`` (about 20 s).

``normalisation.png``: the same synthetic H&E tissue under three stains (rows), before and
after each method, all fitted to one target of other tissue. ``jitter.png``: the range of
``HEDJitter`` (each stain at the ends of its scale and shift) and eight ``RandStainNA`` draws.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from histomammo.datasets.synthetic._pcam_draw import Stain, draw_patch  # noqa: E402
from histomammo.datasets.synthetic._stain import restain  # noqa: E402
from histomammo.transforms.stain import (  # noqa: E402
    HEDJitter,
    RandStainNA,
    StainNormalizer,
    StainStatistics,
    hed_jitter,
)

HERE = Path(__file__).parent


def tissue(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tiles = [draw_patch(rng, tumour_centre=bool(i % 2), tumour_edge=False, upright=True, stain=Stain())
             for i in range(4)]
    return np.concatenate([np.concatenate(tiles[:2], 1), np.concatenate(tiles[2:], 1)])


def normalisation_figure() -> None:
    target, image = tissue(10), tissue(3)
    methods = [StainNormalizer(m, generator=torch.Generator().manual_seed(0)).fit(target)
               for m in ("macenko", "vahadane", "reinhard")]
    stains = ("ruifrok", "macenko", "purple")
    fig, axes = plt.subplots(len(stains), 5, figsize=(12.5, 7.6))
    for row, name in enumerate(stains):
        stained = restain(image, name, strength=(1.0, 1.0) if row != 2 else (1.3, 0.8))
        panels = [("target", target), (f"input: {name} stain", stained)]
        panels += [(m.method.capitalize(), m.transform(stained)) for m in methods]
        for ax, (title, picture) in zip(axes[row], panels, strict=True):
            ax.imshow(picture)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.suptitle("One synthetic H&E tissue under three stains (rows), normalised to one target", fontsize=11)
    fig.tight_layout()
    fig.savefig(HERE / "normalisation.png", dpi=64)


def jitter_figure() -> None:
    image = tissue(3)
    alpha, beta = 0.05, 0.01
    panels = [("input", image)]
    for stain, label in ((0, "H"), (1, "E")):
        for scale, shift in ((1 - alpha, -beta), (1 + alpha, beta)):
            s, t = np.ones(3), np.zeros(3)
            s[stain], t[stain] = scale, shift
            panels.append((f"{label} x{scale:.2f} {shift:+.2f}", hed_jitter(image, s, t)))
    panels.append(("all at +", hed_jitter(image, [1 + alpha] * 2 + [1], [beta] * 2 + [0])))
    panels.append(("all at -", hed_jitter(image, [1 - alpha] * 2 + [1], [-beta] * 2 + [0])))
    panels.append(("a random draw", HEDJitter(alpha, beta, generator=torch.Generator().manual_seed(1))(image)))
    stats = StainStatistics.fit([tissue(s) for s in range(6)] + [restain(tissue(7), "purple")], "lab")
    draws = RandStainNA(stats, generator=torch.Generator().manual_seed(0))(np.stack([image] * 8))
    panels += [(f"RandStainNA {i + 1}", d) for i, d in enumerate(draws)]
    fig, axes = plt.subplots(2, 8, figsize=(16, 4.6))
    for ax, (title, picture) in zip(axes.ravel(), panels, strict=True):
        ax.imshow(picture)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.suptitle(f"HEDJitter(alpha={alpha}, beta={beta}) at the ends of its range (top); "
                 "RandStainNA draws, LAB statistics of seven slides (bottom)", fontsize=10)
    fig.tight_layout()
    fig.savefig(HERE / "jitter.png", dpi=64)


if __name__ == "__main__":
    normalisation_figure()
    jitter_figure()

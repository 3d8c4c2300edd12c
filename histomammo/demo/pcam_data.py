"""Demo stage ``pcam_data``: PatchCamelyon data end to end on synthetic files.

It writes a small synthetic PCam in the real layout, reads it with
[`histomammo.datasets.PCam`][histomammo.datasets.PCam] through a DataLoader with a worker, exports a
few patches
as an ImageFolder, computes the per-channel statistics, then writes a synthetic tiled
pyramidal slide, masks its tissue with PCam's saturation rule on the smallest level, cuts
grid patches from it with
[`histomammo.transforms.patches.SlidePatches`][histomammo.transforms.patches.SlidePatches] and
builds a
PCam-format set from it with
[`histomammo.datasets.make_pcam_from_slides`][histomammo.datasets.make_pcam_from_slides]. Pictures
go
to ``patches.png`` and ``tissue_mask.png``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from histomammo.datasets import PCam, compute_mean_std, export_image_folder, make_pcam_from_slides
from histomammo.datasets.synthetic import make_pcam, make_slide
from histomammo.io import TiffImage
from histomammo.transforms.patches import SlidePatches
from histomammo.transforms.tissue import tissue_mask

__all__ = ["run"]

logger = logging.getLogger("histomammo.demo.pcam_data")


def _patch_part(out: Path, seed: int) -> dict[str, Any]:
    root = make_pcam(out / "pcam", {"train": 128, "valid": 32, "test": 32}, seed=seed,
                     progress=False)
    train = PCam(root, "train")
    loader = DataLoader(train, batch_size=64, shuffle=True, num_workers=1,
                        generator=torch.Generator().manual_seed(seed))
    images, labels = next(iter(loader))
    folder = export_image_folder(Subset(PCam(root, "test"), range(16)), out / "png",
                                 split="test", progress=False)
    mean, std = compute_mean_std(train, batch_size=64, progress=False)
    try:
        import matplotlib.pyplot as plt

        from histomammo.plot import plot_patches, save_figure

        shown = [train[i] for i in range(16)]  # with the slide each patch came from
        titles = [f"{int(label)} {str(train.sample_info(i)['slide'])[-10:]}"
                  for i, (_, label) in enumerate(shown)]
        fig = plot_patches([image.permute(1, 2, 0).numpy() for image, _ in shown], titles)
        save_figure(fig, out / "patches.png", dpi=80)
        plt.close(fig)
    except ImportError:
        logger.info("matplotlib missing: no patches.png")
    return {
        "sizes": {split: len(PCam(root, split)) for split in ("train", "valid", "test")},
        "batch_shape": list(images.shape),
        "tumour_share": round(float(train.targets.mean()), 3),
        "exported_png": len(list(folder.rglob("*.png"))),
        "mean": [round(float(v), 4) for v in mean],
        "std": [round(float(v), 4) for v in std],
    }


def _slide_part(out: Path, seed: int) -> dict[str, Any]:
    slide = make_slide(out / "slide.tif", (2048, 2048), levels=4, seed=seed)
    with TiffImage(slide.path) as image:
        mask = tissue_mask(image, "saturation")
        patches = SlidePatches(image, 96, level=2, tissue_mask=mask, min_tissue=0.5)
        first = patches[0][0]
        height, width = image.levels[-1].shape[:2]
        thumbnail = image.read_region(0, 0, height, width, level=-1)
    try:
        import matplotlib.pyplot as plt

        from histomammo.plot import plot_tissue_mask, save_figure

        fig = plot_tissue_mask(thumbnail, mask.mask, title="saturation >= 0.07 (PCam's rule)")
        save_figure(fig, out / "tissue_mask.png", dpi=80)
        plt.close(fig)
    except ImportError:
        logger.info("matplotlib missing: no tissue_mask.png")
    made = make_pcam_from_slides([slide.path], [slide.tumour], out / "from_slides", level=2,
                                 n_patches=32, splits=["train"], seed=seed, progress=False)
    own = PCam(made, "train")
    return {
        "levels": [list(lv.shape) for lv in TiffImage(slide.path).levels],
        "tissue_share": round(float(mask.mask.mean()), 3),
        "grid_patches": len(patches),
        "patch_shape": list(first.shape),
        "from_slides": {"patches": len(own), "tumour_share": round(float(own.targets.mean()), 3)},
    }


def run(out: Path, seed: int) -> dict[str, Any]:
    """Run the stage into ``out`` and return its results (see the module docstring)."""
    return {"pcam": _patch_part(out, seed), "slide": _slide_part(out, seed)}

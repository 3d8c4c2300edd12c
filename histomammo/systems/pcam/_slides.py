"""The PCam whole-slide workflow: a patch classifier's tumour heatmap, FROC and slide AUC.

Synthetic tiled slides with known tumour regions are drawn; a PCam-format patch set is cut
from the training slides ([`make_pcam_from_slides`][histomammo.datasets.make_pcam_from_slides],
96 px at level 1); a small CNN learns it for a few epochs; then
[`classify_slide`][histomammo.inference.classify_slide] maps the held-out slides, the heatmap
overlay figure is written, and Camelyon16's evaluation is computed:
[`froc`][histomammo.metrics.froc] of the lesions that
[`heatmap_to_detections`][histomammo.metrics.heatmap_to_detections] finds, and
[`slide_auc`][histomammo.metrics.slide_auc] over 4 x 4 regions of each held-out slide scored
like slides (a region is positive when over 10% of it is tumour).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from histomammo._atomic import atomic_write
from histomammo.datasets import PCam, make_pcam_from_slides
from histomammo.datasets.synthetic import make_slide
from histomammo.inference import classify_slide
from histomammo.io import TiffImage
from histomammo.metrics import froc, heatmap_to_detections, slide_auc
from histomammo.plot import save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_heatmap_overlay", "slide_heatmap_run"]

logger = logging.getLogger("histomammo.systems.pcam")


class _Centre(torch.nn.Module):
    """Inputs in [0, 1] centred and scaled inside the model (what ``classify_slide`` feeds)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5) / 0.25


def _patch_classifier() -> torch.nn.Module:
    """A small CNN for 96 px patches: ``(N, 3, 96, 96)`` float in [0, 1] -> ``(N, 2)`` logits."""
    layers: list[torch.nn.Module] = []
    for width_in, width in ((3, 16), (16, 32), (32, 32)):
        layers += [torch.nn.Conv2d(width_in, width, 3, padding=1), torch.nn.ReLU(),
                   torch.nn.MaxPool2d(2)]
    return torch.nn.Sequential(_Centre(), *layers[:-1], torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(32, 2))


def _to_float(image: torch.Tensor) -> torch.Tensor:
    return image.float() / 255


def _train(root: Path, epochs: int, seed: int, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = _patch_classifier().to(device)
    data = PCam(root, "train", transform=_to_float)
    loader = DataLoader(data, batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for epoch in range(epochs):
        total = 0.0
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(labels)
        logger.info("epoch %d: training loss %.3f", epoch + 1, total / len(data))
    return model.eval()


def _region_scores(model: torch.nn.Module, image: TiffImage, tumour: np.ndarray,
                   downsample: int, device: torch.device) -> tuple[list[float], list[int]]:
    """4 x 4 regions of level 1, each scored like a slide: the largest tumour probability of
    the patches (96 px, stride 32, every patch) whose centre lies in it; positive when over
    10% of the region is tumour."""
    heatmap = classify_slide(model, image, patch_size=96, stride=32, level=1, tissue=None,
                             device=device, progress=False)
    height, width = image.levels[1].shape[:2]
    centres = heatmap.positions / heatmap.downsample + 48  # level-1 (y, x) patch centres
    region = (centres // np.array([height / 4, width / 4])).astype(int).clip(0, 3)
    tumour_share = _block_means(tumour, 4)
    probs = heatmap.probabilities[..., 1].reshape(-1)
    cell = region[..., 0].reshape(-1) * 4 + region[..., 1].reshape(-1)
    scores = [float(probs[cell == r].max()) for r in range(16)]
    return scores, [int(share > 0.1) for share in tumour_share.reshape(-1)]


def _block_means(mask: np.ndarray, blocks: int) -> np.ndarray:
    """Share of True in each of ``blocks x blocks`` equal parts of ``mask``."""
    rows = np.array_split(np.arange(mask.shape[0]), blocks)
    cols = np.array_split(np.arange(mask.shape[1]), blocks)
    return np.array([[mask[np.ix_(r, c)].mean() for c in cols] for r in rows])


def plot_heatmap_overlay(image: np.ndarray, probs: np.ndarray, tumour: np.ndarray,
                         factor: int) -> Figure:
    """The slide thumbnail with its tumour outlined, and the probabilities over it.

    ``image`` is ``(H, W, 3)`` uint8, ``probs`` ``(H, W)`` on the same grid (NaN off tissue),
    ``tumour`` a bool mask whose pixels are ``factor`` image pixels wide. Like every
    ``plot_*`` function it returns the figure and writes nothing: save it with
    [`save_figure`][histomammo.plot.save_figure].
    """
    from matplotlib.figure import Figure  # a Figure of its own: no pyplot, no backend switch

    figure = Figure(figsize=(10, 5))
    axes = figure.subplots(1, 2)
    outline = np.kron(tumour, np.ones((factor, factor)))[: image.shape[0], : image.shape[1]]
    for axis in axes:
        axis.imshow(image)
        axis.contour(outline, levels=[0.5], colors="lime", linewidths=1)
        axis.axis("off")
    axes[0].set_title("held-out slide (level 2), tumour outlined")
    shown = axes[1].imshow(probs, cmap="magma", vmin=0, vmax=1, alpha=0.6)
    axes[1].set_title("classify_slide: tumour probability")
    figure.colorbar(shown, ax=axes[1], fraction=0.046)
    figure.tight_layout()
    return figure


def slide_heatmap_run(out: str | Path, seed: int = 0, *, side: int = 1024, n_train: int = 3,
                      n_held_out: int = 2, n_patches: int = 256, epochs: int = 3,
                      threshold: float = 0.05, device: str = "cpu") -> dict[str, Any]:
    """Train a patch classifier on slides, map held-out slides, score FROC and slide AUC.

    Parameters
    ----------
    out : str or Path
        Output folder: the slides, the patch set, ``heatmap.png`` and ``results.json``.
    seed : int
        Seed of every random draw (slide ``i`` is drawn with seed ``seed + i``).
    side : int
        Level-0 side of each synthetic slide (3 levels, 256 px tiles).
    n_train, n_held_out : int
        Slides the patches are cut from, and slides mapped and scored.
    n_patches : int
        Training patches (96 x 96 at level 1, half with tumour at their centre).
    epochs : int
    threshold : float
        Lowest heatmap probability reported as a lesion detection (candidates below the
        lesions' scores give the FROC curve its false-positive axis: Camelyon16's script
        drops the smallest distinct probability, so a lone perfect detection per slide would
        score 0).
    device : str
        Where the classifier trains and runs.

    Returns
    -------
    dict
        ``{"froc", "sensitivities", "lesions", "slide_auc", "regions", "tumour_regions",
        "patches", "tiles_on_tissue", "figure"}``; also written to ``out/results.json``.
        ``froc`` reads the slides at 2 µm per pixel (at Camelyon16's 0.243 µm their tumours
        would all be isolated tumour cells); ``slide_auc`` is NaN when the regions are all
        of one class.

    Examples
    --------
    >>> import tempfile
    >>> r = slide_heatmap_run(tempfile.mkdtemp(), side=768, n_train=1, n_held_out=1,
    ...                       n_patches=64, epochs=1)
    >>> r["regions"], 0.0 <= r["froc"] <= 1.0
    (16, True)
    """
    if side < 768 or n_train < 1 or n_held_out < 1:
        raise ValueError(f"slide_heatmap_run needs side >= 768 (a 4 x 4 region of level 1 holds a "
                         f"96 px patch) and a training and a held-out slide; got side={side}, "
                         f"n_train={n_train}, n_held_out={n_held_out}")
    out, run_on = Path(out), torch.device(device)
    out.mkdir(parents=True, exist_ok=True)
    slides = [make_slide(out / f"slide_{i}.tif", (side, side), tile=256, levels=3, seed=seed + i)
              for i in range(n_train + n_held_out)]
    train, held_out = slides[:n_train], slides[n_train:]
    pcam = make_pcam_from_slides([s.path for s in train], [s.tumour for s in train],
                                 out / "pcam", level=1, n_patches=n_patches,
                                 splits=["train"] * n_train, seed=seed, progress=False)
    model = _train(pcam, epochs, seed, run_on)
    detections, scores, labels, on_tissue = [], [], [], 0
    for slide in held_out:
        with TiffImage(slide.path) as image:
            heatmap = classify_slide(model, image, patch_size=96, stride=48, level=1,
                                     tissue="otsu", batch_size=64, device=run_on,
                                     progress=False)
            height, width = image.levels[2].shape[:2]
            thumbnail = image.read_region(0, 0, height, width, level=2)
            region_scores, region_labels = _region_scores(model, image, slide.tumour,
                                                          slide.downsample, run_on)
        scores += region_scores
        labels += region_labels
        detections.append(heatmap_to_detections(heatmap, threshold=threshold))
        on_tissue += int(np.isfinite(heatmap.probabilities[..., 0]).sum())
    figure = save_figure(plot_heatmap_overlay(thumbnail, heatmap.to_image(level=2)[..., 1],
                                              held_out[-1].tumour, held_out[-1].downsample // 4),
                         out / "heatmap.png", dpi=110)
    scored = froc(detections, [s.tumour for s in held_out], mpp=2.0,
                  mask_downsample=held_out[0].downsample)
    both = 0 < sum(labels) < len(labels)
    results = {
        "froc": float(scored["score"]),
        "sensitivities": [float(s) for s in scored["sensitivities"]],
        "lesions": int(scored["lesions"]),
        "slide_auc": float(slide_auc(scores, labels)) if both else float("nan"),
        "regions": len(labels), "tumour_regions": int(sum(labels)),
        "patches": n_patches, "tiles_on_tissue": on_tissue, "figure": str(figure),
    }
    with atomic_write(out / "results.json", "w") as f:
        json.dump(results, f, indent=2)
    return results

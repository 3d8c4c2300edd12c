"""The GlaS U-Net workflow: gland segmentation end to end, here on a small synthetic release.

It writes synthetic Warwick-QU files (the exact flat layout), reads them with
[`GlaS`][histomammo.datasets.GlaS], trains a reduced U-Net with the paper's recipe
shortened (one Adam phase, seconds on a CPU), predicts test parts A and B at the input size,
maps the probabilities back to each image's original size, scores them with the official
GlaS object metrics and the count score, and draws the best and worst predictions as the
paper's figure 4 (``predictions.png``, with matplotlib):
[`unet_run`][histomammo.systems.glas.unet_run],
the demo stage ``glas``. Mask R-CNN is left to ``examples/glas_segmentation.py``: it does not
train in under a minute on two CPU cores.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from histomammo.datasets.glas import GlaS
from histomammo.datasets.synthetic.glas import make_glas
from histomammo.engine import Recipe
from histomammo.metrics.segmentation import count_score, glas_metrics
from histomammo.models import UNet
from histomammo.systems.glas._augment import unet_input_transforms
from histomammo.systems.glas._recipe import train_unet, unet_loss
from histomammo.transforms.letterbox import restore_original_size, square_geometry

__all__ = ["predict_unet", "score_unet", "unet_run"]

logger = logging.getLogger("histomammo.systems.glas")

SIZE = 96  # U-Net input side in the demo (the paper's is 512)


def predict_unet(model: torch.nn.Module, data: GlaS, size: int) -> list[np.ndarray]:
    """Gland probabilities ``(H, W)`` float32 of every image of ``data`` at its original size.

    ``data`` must yield U-Net inputs of ``size``
    ([`unet_input_transforms`][histomammo.systems.glas.unet_input_transforms]).
    """
    model.eval()
    probabilities = []
    with torch.no_grad():
        for index in range(len(data)):
            image, _ = data[index]
            logits = model(image[None].to(next(model.parameters()).device))[0, 0].float().cpu()
            geometry = square_geometry(data.sample_info(index)["size"], size)
            probabilities.append(restore_original_size(torch.sigmoid(logits), geometry).numpy())
    return probabilities


def score_unet(probabilities: list[np.ndarray], data: GlaS) -> dict[str, Any]:
    """GlaS object F1, object Dice, object Hausdorff (pooled) and the count score of the
    probabilities thresholded at 0.5 (8-connected components as glands), and each image's F1."""
    truths = [data.labels(i) for i in range(len(data))]
    masks = [p > 0.5 for p in probabilities]  # 8-connected components are the instances
    metrics = glas_metrics(masks, truths)
    per_image = [glas_metrics([m], [t])["f1"] for m, t in zip(masks, truths, strict=True)]
    return {
        "f1": round(metrics["f1"], 3),
        "object_dice": round(metrics["object_dice"], 3),
        "object_hausdorff": round(metrics["object_hausdorff"], 2),
        "count": round(count_score(masks, truths), 3),
        "per_image_f1": per_image,
    }


def unet_run(out: Path, seed: int = 0, *, size: int = SIZE, epochs: int = 15,
             device: str = "cpu", amp: bool = False, channels_last: bool = False
             ) -> dict[str, Any]:
    """A reduced U-Net on a small synthetic GlaS: the paper's recipe shortened to one Adam
    phase (3e-3, batch 4, ``epochs``), scored on test parts A and B; ``predictions.png``.

    Returns
    -------
    dict
        ``history`` (the training loss per epoch) and, per test part, ``f1``,
        ``object_dice``, ``object_hausdorff`` and ``count``.
    """
    out = Path(out)
    root = make_glas(out / "glas", counts={"train": 16, "testA": 6, "testB": 4},
                     size=(size, size), seed=seed)
    train = GlaS(root, "train", target="semantic",
                 transforms=unet_input_transforms(True, size=size, crop_size=size))
    torch.manual_seed(seed)
    model = UNet(base_channels=8, depth=3)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    short = Recipe(phases=[Recipe(partial(torch.optim.Adam, lr=3e-3), unet_loss, epochs=epochs,
                                  batch_size=4, name="one Adam phase")])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: one thread beats two on a busy machine
    try:
        history = train_unet(model, train, recipe=short, device=device, amp=amp,
                             progress=False, seed=seed)
    finally:
        torch.set_num_threads(threads)
    results: dict[str, Any] = {"history": [round(row["loss"], 4) for row in history]}
    for split in ("testA", "testB"):
        data = GlaS(root, split, target="semantic",
                    transforms=unet_input_transforms(False, size=size))
        probabilities = predict_unet(model, data, size)
        scores = score_unet(probabilities, data)
        order = np.argsort(scores.pop("per_image_f1"))
        results[split] = scores
        logger.info("U-Net %s: %s", split, scores)
        if split == "testA":
            _draw(out, data, probabilities, [int(order[-1]), int(order[0])])
    return results


def _draw(out: Path, data: GlaS, probabilities: list[np.ndarray], picks: list[int]) -> None:
    try:
        import matplotlib.pyplot as plt

        from histomammo.plot import plot_segmentation_overlay, save_figure

        raw = GlaS(data.root, data.split, target="semantic")
        images = [raw[i][0].permute(1, 2, 0).numpy() for i in picks]
        figure = plot_segmentation_overlay(images, [data.labels(i) for i in picks],
                                           {"U-Net": [probabilities[i] > 0.5 for i in picks]},
                                           row_titles=["best", "worst"])
        save_figure(figure, out / "predictions.png", dpi=90)
        plt.close(figure)
    except ImportError:
        logger.info("matplotlib not installed: no predictions.png")

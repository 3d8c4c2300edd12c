"""Demo stage ``brecahad``: the seed paper's tumour-cell detector, end to end, on synthetic data.

It writes a small synthetic BreCaHAD (exact layout), samples patches with boxes, builds
:func:`~histomammo.models.fasterrcnn_brecahad` at a CPU-sized input, trains it briefly with
the paper's recipe through :class:`~histomammo.engine.Trainer` (validation loss each epoch,
best-validation snapshot), evaluates the rates against the score threshold on the test
patches and draws the paper's figures. The pieces are public so that
``examples/brecahad_detection.py`` runs the same pipeline at full size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from histomammo.datasets._brecahad_files import find_pairs
from histomammo.datasets.brecahad import (
    BreCaHAD,
    collate_detection,
    paper_augmentation,
    split_brecahad,
)
from histomammo.engine import Trainer
from histomammo.engine.callbacks import BestCheckpoint
from histomammo.engine.recipes.brecahad import brecahad_recipe
from histomammo.metrics.detection import (
    PAPER_TUMOUR_RECALL,
    average_precision,
    detection_counts,
    rates_vs_threshold,
    suppress_duplicates,
)
from histomammo.models.detection import calibrate_frozen_batchnorm, fasterrcnn_brecahad
from histomammo.plot._figure import save_figure

__all__ = ["build_detector", "evaluate_test", "load_splits", "run", "save_figures", "train"]

logger = logging.getLogger("histomammo.demo.brecahad")


def load_splits(root: str | os.PathLike[str], *, seed: int = 0, group_by_case: bool = True,
                **options: Any) -> dict[str, BreCaHAD]:
    """Train (with the paper's flip), validation and test datasets of one BreCaHAD root."""
    names = split_brecahad([name for name, _, _ in find_pairs(root)], seed, group_by_case)
    return {split: BreCaHAD(root, split, names=names[split], seed=seed,
                            transforms=paper_augmentation() if split == "train" else None,
                            **options)
            for split in ("train", "val", "test")}


def build_detector(
    train_data: BreCaHAD, *, weights_backbone: str | os.PathLike[str] | None = None,
    calibration_images: int = 4, **model_options: Any,
) -> torch.nn.Module:
    """The paper's Faster R-CNN; without backbone weights its frozen norms are calibrated
    on a few training patches (see :func:`~histomammo.models.calibrate_frozen_batchnorm`)."""
    model = fasterrcnn_brecahad(weights_backbone=weights_backbone, **model_options)
    if weights_backbone is None:
        count = min(calibration_images, len(train_data))
        calibrate_frozen_batchnorm(model, [train_data[i][0] for i in range(count)])
    return model


def train(
    model: torch.nn.Module, data: dict[str, BreCaHAD], out: Path, *, epochs: int,
    seed: int = 0, device: str = "auto", progress: bool = False, **recipe_options: Any,
) -> tuple[Trainer, list[dict[str, Any]], Path]:
    """Fit with the paper's recipe; return the trainer (best-validation weights loaded),
    the history and the snapshot's path."""
    recipe = brecahad_recipe(model, [data["train"]], **recipe_options)
    best = BestCheckpoint(monitor="val_loss", mode="min", filename="best.pt", directory=out)
    trainer = Trainer(model, recipe["optimizer"], None, scheduler=recipe["scheduler"],
                      callbacks=[*recipe["callbacks"], best], device=device, seed=seed,
                      checkpoint_dir=out / "checkpoints", keep_last=1, progress=progress)
    loaders = {split: DataLoader(data[split], batch_size=recipe["batch_size"],
                                 shuffle=split == "train", collate_fn=collate_detection)
               for split in ("train", "val")}
    history = trainer.fit(loaders["train"], epochs, val_loader=loaders["val"])
    trainer.load_checkpoint(out / "best.pt", model_only=True)
    logger.info("best validation loss %.4f at epoch %d", best.best, best.best_epoch)
    return trainer, history, out / "best.pt"


def evaluate_test(trainer: Trainer, test_data: BreCaHAD, label: int = 1,
                  min_distance: float | None = None) -> dict[str, Any]:
    """Predictions on the test patches, figure 4's rates, AP50 and the counts at 0.05.

    ``min_distance`` (pixels), when given, first drops duplicate detections of one cell with
    :func:`~histomammo.metrics.detection.suppress_duplicates` (the library's addition; the
    paper's raw predictions are kept under ``"raw_predictions"``).
    """
    loader = DataLoader(test_data, batch_size=1, collate_fn=collate_detection)
    raw = predictions = trainer.predict(loader)
    if min_distance is not None:
        predictions = suppress_duplicates(raw, min_distance)
    targets = [test_data[i][1] for i in range(len(test_data))]
    rates = rates_vs_threshold(predictions, targets, np.linspace(0.0, 1.0, 101), label=label)
    has_cells = int(rates["n_ground_truth"]) > 0
    return {
        "predictions": predictions, "raw_predictions": raw, "targets": targets, "rates": rates,
        "ap50": average_precision(predictions, targets, label=label) if has_cells else None,
        "at_0.05": detection_counts(predictions, targets, threshold=0.05, label=label),
        "tpr_lowest_threshold": float(rates["tpr"][0]),
        "paper_tpr_lowest_threshold": PAPER_TUMOUR_RECALL,
    }


def save_figures(out: Path, history: Sequence[dict[str, Any]], evaluation: dict[str, Any],
                 test_data: BreCaHAD) -> list[str]:
    """``losses.png`` (figures 2-3), ``rates.png`` (figure 4), ``detections.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from histomammo import plot

    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs = [row["epoch"] + 1 for row in history]
    ax.plot(epochs, [row["loss"] for row in history], "o-", label="training total loss")
    ax.plot(epochs, [row["val_loss"] for row in history], "s-", label="validation total loss")
    ax.set(xlabel="epoch", ylabel="loss")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "losses.png", dpi=90)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    plot.rates_vs_threshold(evaluation["rates"], ax=ax, published_tpr=PAPER_TUMOUR_RECALL)
    fig.tight_layout()
    save_figure(fig, out / "rates.png", dpi=90)
    counts = [len(t["boxes"]) for t in evaluation["targets"]]
    index = int(np.argmax(counts))
    fig, ax = plt.subplots(figsize=(6, 4.6))
    plot.detections(test_data[index][0], evaluation["targets"][index],
                    evaluation["predictions"][index], threshold=0.05, ax=ax,
                    title="ground truth (red), predictions >= 0.05 (green)")
    fig.tight_layout()
    save_figure(fig, out / "detections.png", dpi=90)
    plt.close("all")
    return ["losses.png", "rates.png", "detections.png"]


# CPU-sized heads (fewer sampled RoIs and proposals; the architecture is the paper's)
_DEMO_MODEL = dict(min_size=96, max_size=128, box_batch_size_per_image=32,
                   rpn_batch_size_per_image=64, rpn_pre_nms_top_n_test=300,
                   rpn_post_nms_top_n_test=100)


def run(out: Path, seed: int) -> dict[str, Any]:
    """The BreCaHAD stage: synthetic layout, patches, one short training run, figure 4.

    Returns
    -------
    dict
        Split sizes, the loss history, TPR/FDR at the lowest threshold beside the paper's
        99.02%, AP50 and the figures written.
    """
    from histomammo.datasets.synthetic import make_brecahad

    root = make_brecahad(out / "data", n_cases=3, images_per_case=(2, 1, 1), size=(192, 256),
                         nuclei=(10, 14), seed=seed)
    data = load_splits(root, seed=seed, patch_size=(96, 128), image_size=(192, 256),
                       samples_per_image=2)
    torch.manual_seed(seed)
    model = build_detector(data["train"], **_DEMO_MODEL)
    trainer, history, _ = train(model, data, out, epochs=1, seed=seed, lr=1e-4, device="cpu")
    evaluation = evaluate_test(trainer, data["test"])
    results = {
        "images": {split: len(d.names) for split, d in data.items()},
        "patches": {split: len(d) for split, d in data.items()},
        "history": [{k: row[k] for k in ("epoch", "loss", "val_loss")} for row in history],
        "tpr_lowest_threshold": round(evaluation["tpr_lowest_threshold"], 4),
        "fdr_lowest_threshold": round(float(evaluation["rates"]["fdr"][0]), 4),
        "paper_tpr_lowest_threshold": PAPER_TUMOUR_RECALL,
        "ap50": evaluation["ap50"],
    }
    try:
        results["figures"] = save_figures(out, history, evaluation, data["test"])
    except ImportError:
        logger.info("matplotlib not installed: no figures (pip install 'histomammo[plot]')")
    logger.info("brecahad: %s", results)
    return results

"""The BreCaHAD workflow: the seed paper's tumour-cell detector, end to end.

It writes a small synthetic BreCaHAD (exact layout), samples patches with boxes, builds
[`fasterrcnn_brecahad`][histomammo.models.detection.fasterrcnn_brecahad] at a CPU-sized input,
trains it briefly with the paper's recipe through [`Trainer`][histomammo.engine.Trainer]
(validation loss each epoch, best-validation snapshot), evaluates the rates against the score
threshold on the test patches and draws the paper's figures. ``examples/brecahad_detection.py``
runs the same pipeline at full size; [`detector_run`][histomammo.systems.brecahad.detector_run]
is the demo stage ``brecahad``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from histomammo.datasets import BreCaHAD, collate_detection, list_images, split_brecahad
from histomammo.engine import Trainer
from histomammo.engine.callbacks import BestCheckpoint
from histomammo.metrics.detection import average_precision, detection_counts, rates_vs_threshold
from histomammo.models import calibrate_batchnorm, fasterrcnn_brecahad
from histomammo.postprocess import suppress_duplicates
from histomammo.systems._stain import stain_steps
from histomammo.systems.brecahad._recipe import PUBLISHED, brecahad_recipe, paper_augmentation
from histomammo.transforms.stain import StainNormalizer

__all__ = ["build_detector", "detections_caption", "detector_run", "evaluate_test",
           "load_splits", "save_figures", "train"]

logger = logging.getLogger("histomammo.systems.brecahad")


def load_splits(root: str | os.PathLike[str], *, seed: int = 0, group_by_case: bool = True,
                stain: StainNormalizer | None = None,
                stain_jitter: Callable[[Any], Any] | None = None,
                **options: Any) -> dict[str, BreCaHAD]:
    """Train (with the paper's flip), validation and test datasets of one BreCaHAD root.

    The datasets yield uint8 images as stored; each split here converts them to float32 in
    [0, 1] (``v2.ToDtype(torch.float32, scale=True)``, after the flip), what torchvision's
    detector takes. ``stain`` / ``stain_jitter``: the optional stain step, first (off by
    default: the paper used none; ``histomammo.systems._stain``).
    """
    names = split_brecahad(list_images(root), seed, group_by_case)
    to_float = v2.ToDtype(torch.float32, scale=True)
    def steps(split: str) -> v2.Compose:
        train = split == "train"
        return v2.Compose([*stain_steps(stain, stain_jitter, train=train),
                           *([paper_augmentation()] if train else []), to_float])

    return {split: BreCaHAD(root, split, names=names[split], seed=seed, transforms=steps(split),
                            **options)
            for split in ("train", "val", "test")}


def build_detector(
    train_data: BreCaHAD, *, weights_backbone: str | os.PathLike[str] | None = None,
    calibration_images: int = 4, **model_options: Any,
) -> torch.nn.Module:
    """The paper's Faster R-CNN; without backbone weights its frozen norms are calibrated
    on a few training patches (see
    [`calibrate_batchnorm`][histomammo.models.calibration.calibrate_batchnorm])."""
    model = fasterrcnn_brecahad(weights_backbone=weights_backbone, **model_options)
    if weights_backbone is None:
        count = min(calibration_images, len(train_data))
        calibrate_batchnorm(model, [train_data[i][0] for i in range(count)])
    return model


def train(
    model: torch.nn.Module, data: dict[str, BreCaHAD], out: Path, *, epochs: int,
    seed: int = 0, device: str = "auto", progress: bool = False, amp: bool = False,
    **recipe_options: Any,
) -> tuple[Trainer, list[dict[str, Any]], Path]:
    """Fit with the paper's recipe
    ([`brecahad_recipe`][histomammo.systems.brecahad.brecahad_recipe],
    ``recipe_options`` passed on) and a best-validation-loss snapshot; return the trainer
    (best weights loaded), the history and the snapshot's path."""
    recipe = brecahad_recipe([data["train"]], epochs=epochs, **recipe_options)
    best = BestCheckpoint(monitor="val_loss", mode="min", filename="best.pt", directory=out)
    trainer = Trainer.from_recipe(model, recipe, callbacks=[*recipe.callbacks, best],
                                  device=device, amp=amp, seed=seed, keep_last=1,
                                  checkpoint_dir=out / "checkpoints", progress=progress)
    loaders = {split: DataLoader(data[split], batch_size=recipe.batch_size,
                                 shuffle=split == "train", collate_fn=collate_detection)
               for split in ("train", "val")}
    history = trainer.fit(loaders["train"], recipe.epochs, val_loader=loaders["val"])
    trainer.load_checkpoint(out / "best.pt", model_only=True)
    logger.info("best validation loss %.4f at epoch %d", best.best, best.best_epoch)
    return trainer, history, out / "best.pt"


def evaluate_test(trainer: Trainer, test_data: BreCaHAD, label: int = 1,
                  min_distance: float | None = None) -> dict[str, Any]:
    """Predictions on the test patches, figure 4's rates, AP50 and the counts at 0.05.

    ``min_distance`` (pixels), when given, first drops duplicate detections of one cell with
    ``suppress_duplicates`` (the library's addition; the
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
        "paper_tpr_lowest_threshold": PUBLISHED["tpr_lowest_threshold"],
    }


def save_figures(out: Path, history: Sequence[dict[str, Any]], evaluation: dict[str, Any],
                 test_data: BreCaHAD) -> list[str]:
    """``losses.png`` (figures 2-3), ``rates.png`` (figure 4), ``detections.png``.

    ``detections.png`` shows the test patch with the most cells, the ground truth in red and
    the predictions scoring at least 0.05 (the paper's threshold) in green; when none
    reaches it (a detector trained for a few steps), the ten highest-scoring boxes are
    drawn instead and the title says so, with the best score.
    """
    import matplotlib.pyplot as plt

    from histomammo import plot
    from histomammo.plot import save_figure

    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs = [row["epoch"] + 1 for row in history]
    ax.plot(epochs, [row["loss"] for row in history], "o-", label="training total loss")
    ax.plot(epochs, [row["val_loss"] for row in history], "s-", label="validation total loss")
    ax.set(xlabel="epoch", ylabel="loss")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "losses.png", dpi=90)
    plt.close(fig)  # only the figures made here
    fig, ax = plt.subplots(figsize=(5, 3.5))
    plot.plot_rates_vs_threshold(evaluation["rates"], ax=ax,
                                 published_tpr=PUBLISHED["tpr_lowest_threshold"])
    fig.tight_layout()
    save_figure(fig, out / "rates.png", dpi=90)
    plt.close(fig)  # only the figures made here
    counts = [len(t["boxes"]) for t in evaluation["targets"]]
    index = int(np.argmax(counts))
    threshold, title = detections_caption(evaluation["predictions"][index], len(history))
    fig, ax = plt.subplots(figsize=(6, 4.6))
    plot.plot_detections(test_data[index][0], evaluation["targets"][index],
                         evaluation["predictions"][index], threshold=threshold, ax=ax,
                         title=title)
    fig.tight_layout()
    save_figure(fig, out / "detections.png", dpi=90)
    plt.close(fig)  # only the figures made here
    return ["losses.png", "rates.png", "detections.png"]


def detections_caption(prediction: dict[str, Any], epochs: int, threshold: float = 0.05,
                       top: int = 10) -> tuple[float, str]:
    """The score threshold to draw ``prediction`` at and the figure's title.

    ``threshold`` and "predictions >= threshold" when some box reaches it; otherwise the
    score of the ``top``-th best box (so the best ``top`` are drawn) and a title that says
    no detection reached ``threshold`` after ``epochs`` epochs, with the best score.

    Examples
    --------
    >>> detections_caption({"scores": torch.tensor([0.3, 0.01])}, 1)
    (0.05, 'ground truth (red), predictions >= 0.05 (green)')
    >>> print(detections_caption({"scores": torch.tensor([0.02, 0.01])}, 1, top=1)[1])
    no prediction reached 0.05 after 1 epoch(s) (best score 0.020):
    the 1 best (green), ground truth (red)
    """
    scores = torch.as_tensor(prediction["scores"]).detach().float().cpu()
    if len(scores) and float(scores.max()) >= threshold:
        return threshold, f"ground truth (red), predictions >= {threshold:g} (green)"
    if not len(scores):
        return threshold, (f"no prediction after {epochs} epoch(s): every score is below the\n"
                           "detector's box_score_thresh; ground truth (red)")
    best = scores.sort(descending=True).values
    shown = min(top, len(best))
    return float(best[shown - 1]), (
        f"no prediction reached {threshold:g} after {epochs} epoch(s) (best score "
        f"{float(best[0]):.3f}):\nthe {shown} best (green), ground truth (red)")


# CPU-sized heads (fewer sampled RoIs and proposals; the architecture is the paper's), and
# every scored box kept (torchvision drops scores below 0.05 by default, which after one
# epoch is all of them): the rates then start at threshold 0 and the figure has boxes to draw
_DEMO_MODEL: dict[str, Any] = dict(min_size=96, max_size=128, box_batch_size_per_image=32,
                                   rpn_batch_size_per_image=64, rpn_pre_nms_top_n_test=300,
                                   rpn_post_nms_top_n_test=100, box_score_thresh=0.0)


def detector_run(out: Path, seed: int = 0, *, epochs: int = 1, device: str = "cpu",
                 amp: bool = False, channels_last: bool = False) -> dict[str, Any]:
    """The paper's pipeline on a small synthetic BreCaHAD at a CPU size (the demo stage).

    Synthetic layout, patches, a short training run (Adam 1e-4, ``epochs``), figure 4.

    Returns
    -------
    dict
        Split sizes, the loss history, TPR/FDR at the lowest threshold beside the paper's
        99.02%, AP50, the figures written and the detection figure's caption.
    """
    from histomammo.datasets.synthetic import make_brecahad

    out = Path(out)
    root = make_brecahad(out / "data", n_cases=3, images_per_case=(2, 1, 1), size=(192, 256),
                         nuclei=(10, 14), seed=seed)
    data = load_splits(root, seed=seed, patch_size=(96, 128), image_size=(192, 256),
                       samples_per_image=2)
    torch.manual_seed(seed)
    model = build_detector(data["train"], **_DEMO_MODEL)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    trainer, history, _ = train(model, data, out, epochs=epochs, seed=seed, lr=1e-4,
                                device=device, amp=amp)
    evaluation = evaluate_test(trainer, data["test"])
    results = {
        "images": {split: len(d.names) for split, d in data.items()},
        "patches": {split: len(d) for split, d in data.items()},
        "history": [{k: row[k] for k in ("epoch", "loss", "val_loss")} for row in history],
        "tpr_lowest_threshold": round(evaluation["tpr_lowest_threshold"], 4),
        "fdr_lowest_threshold": round(float(evaluation["rates"]["fdr"][0]), 4),
        "paper_tpr_lowest_threshold": PUBLISHED["tpr_lowest_threshold"],
        "ap50": evaluation["ap50"],
    }
    try:
        results["figures"] = save_figures(out, history, evaluation, data["test"])
    except ImportError:
        logger.info("matplotlib not installed: no figures (pip install 'histomammo[plot]')")
    index = int(np.argmax([len(t["boxes"]) for t in evaluation["targets"]]))
    results["detections_caption"] = detections_caption(evaluation["predictions"][index],
                                                       len(history))[1]
    logger.info("brecahad: %s", results)
    return results

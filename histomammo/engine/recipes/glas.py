"""Training recipes of the GlaS seed paper: U-Net (section 5.3) and Mask R-CNN (section 6.3).

U-Net, two phases on BCE (here ``BCEWithLogitsLoss``, as :class:`~histomammo.models.unet.UNet`
returns logits), batch 6, normalised images:

1. SGD, learning rate 0.1, L2 1e-5, 900 epochs (validation loss 0.69 -> 0.42 in the paper);
2. the optimizer reset, Adam, learning rate 1e-5, L2 1e-3, 50 epochs (0.42 -> 0.29).

Mask R-CNN: SGD with momentum, learning rate 5e-3, weight decay 5e-4, batch 2, 500 epochs,
the model's own loss dict. The paper does not give the momentum; 0.9 is that of the
torchvision fine-tuning tutorial whose settings it started from. Its evaluation loss (the BCE
between the thresholded union of the predicted masks and the true mask) is
:func:`maskrcnn_evaluation_loss`, usable as a ``Trainer`` metric.

Epoch counts are parameters; the defaults are the paper's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from histomammo.engine.trainer import Trainer

__all__ = [
    "UNetPhase",
    "UNET_PHASES",
    "PAPER_UNET_VAL_LOSS",
    "PAPER_TEST_LOSS_AND_COUNT",
    "MASKRCNN_SCHEDULE",
    "unet_optimizer",
    "unet_loss",
    "train_unet",
    "maskrcnn_optimizer",
    "detection_collate",
    "maskrcnn_evaluation_loss",
    "train_maskrcnn",
]


@dataclass(frozen=True)
class UNetPhase:
    """One U-Net training phase: optimizer name, learning rate, L2, batch size, epochs."""

    optimizer: str
    lr: float
    weight_decay: float
    batch_size: int
    epochs: int


#: The paper's two U-Net phases (section 5.3).
UNET_PHASES = (
    UNetPhase("sgd", lr=0.1, weight_decay=1e-5, batch_size=6, epochs=900),
    UNetPhase("adam", lr=1e-5, weight_decay=1e-3, batch_size=6, epochs=50),
)
#: The paper's U-Net validation loss: at the start, after phase 1, after phase 2 (BCE).
PAPER_UNET_VAL_LOSS = {"start": 0.69, "after_phase1": 0.42, "after_phase2": 0.29}
#: The seed's own test losses (BCE, as the paper computed them at 512x512) and count scores on
#: test parts A and B (figure 5, bottom lines); the table's rows are in
#: :data:`histomammo.metrics.glas_leaderboard.GLAS2015_LEADERBOARD`.
PAPER_TEST_LOSS_AND_COUNT = {
    "DTU-UNET": {"loss": {"A": 0.403, "B": 0.380}, "count": {"A": 0.211, "B": 0.127}},
    "DTU-MASKRCNN": {"loss": {"A": 0.540, "B": 0.540}, "count": {"A": 0.825, "B": 0.842}},
}
#: The paper's Mask R-CNN schedule (section 6.3); momentum from the torchvision tutorial.
MASKRCNN_SCHEDULE = {"lr": 5e-3, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 2,
                     "epochs": 500, "mask_hidden": 256}


def unet_optimizer(model: nn.Module, phase: UNetPhase) -> torch.optim.Optimizer:
    """A fresh optimizer for ``phase`` (``"sgd"`` or ``"adam"``, L2 as weight decay).

    Examples
    --------
    >>> unet_optimizer(nn.Linear(2, 1), UNET_PHASES[1]).defaults["lr"]
    1e-05
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if phase.optimizer == "sgd":
        return torch.optim.SGD(params, lr=phase.lr, weight_decay=phase.weight_decay)
    if phase.optimizer == "adam":
        return torch.optim.Adam(params, lr=phase.lr, weight_decay=phase.weight_decay)
    raise ValueError(f"phase optimizer must be 'sgd' or 'adam', but got {phase.optimizer!r}")


def unet_loss(logits: torch.Tensor, target: Mapping[str, Any] | torch.Tensor) -> torch.Tensor:
    """BCE of U-Net logits ``(B, 1, H, W)`` against the semantic mask ``(B, H, W)`` in {0, 1}.

    ``target`` is a GlaS semantic target dict (its ``"mask"``) or the mask itself.

    Examples
    --------
    >>> logits = torch.zeros(2, 1, 4, 4)
    >>> round(float(unet_loss(logits, {"mask": torch.ones(2, 4, 4)})), 4)
    0.6931
    """
    mask = target["mask"] if isinstance(target, Mapping) else target
    mask = torch.as_tensor(mask).to(logits.dtype)
    if mask.ndim == logits.ndim - 1:
        mask = mask.unsqueeze(1)
    if mask.shape != logits.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not fit logits {tuple(logits.shape)}")
    return nn.functional.binary_cross_entropy_with_logits(logits, mask)


def _phase_dir(checkpoint_dir: str | os.PathLike[str] | None, index: int) -> Path | None:
    return None if checkpoint_dir is None else Path(checkpoint_dir) / f"phase{index + 1}"


def train_unet(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset | None = None,
    phases: Sequence[UNetPhase] = UNET_PHASES,
    *,
    device: str | torch.device = "auto",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    num_workers: int = 0,
    seed: int = 0,
    progress: bool = True,
    metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None,
) -> list[dict[str, Any]]:
    """Train a U-Net through ``phases``, resetting the optimizer between them.

    Parameters
    ----------
    model : nn.Module
        A :class:`~histomammo.models.unet.UNet` (logits out).
    train_set, val_set : Dataset
        ``(image float (3, S, S), {"mask": (S, S)} ...)`` samples, e.g.
        :class:`~histomammo.datasets.glas.GlaS` ``(target="semantic")`` with
        :func:`~histomammo.transforms.augment.glas.unet_input_transforms`.
    phases : sequence of UNetPhase
        The paper's :data:`UNET_PHASES` by default; use ``dataclasses.replace`` to shorten.
    checkpoint_dir : path, optional
        Each phase checkpoints into ``phase<k>/`` and resumes from it.

    Returns
    -------
    list of dict
        The history rows of every phase, each with a ``"phase"`` key (1-based).
    """
    history: list[dict[str, Any]] = []
    for index, phase in enumerate(phases):
        loader = DataLoader(train_set, batch_size=phase.batch_size, shuffle=True,
                            num_workers=num_workers)
        val_loader = None if val_set is None else DataLoader(
            val_set, batch_size=phase.batch_size, num_workers=num_workers)
        trainer = Trainer(model, unet_optimizer(model, phase), unet_loss, device=device,
                          seed=seed + index, checkpoint_dir=_phase_dir(checkpoint_dir, index),
                          progress=progress)
        rows = trainer.fit(loader, phase.epochs, val_loader=val_loader, metrics=metrics)
        history += [{**row, "phase": index + 1} for row in rows]
    return history


def maskrcnn_optimizer(
    model: nn.Module,
    lr: float = MASKRCNN_SCHEDULE["lr"],
    momentum: float = MASKRCNN_SCHEDULE["momentum"],
    weight_decay: float = MASKRCNN_SCHEDULE["weight_decay"],
) -> torch.optim.SGD:
    """SGD with momentum over the trainable parameters (the paper's 5e-3 and 5e-4).

    Examples
    --------
    >>> maskrcnn_optimizer(nn.Linear(2, 1)).defaults["weight_decay"]
    0.0005
    """
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def detection_collate(batch: Sequence[tuple[Any, Any]]) -> tuple[list[Any], list[Any]]:
    """``[(image, target), ...]`` to ``([images], [targets])``, torchvision detection's input.

    Examples
    --------
    >>> detection_collate([("a", 1), ("b", 2)])
    (['a', 'b'], [1, 2])
    """
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)


def _union_mask(output: Mapping[str, torch.Tensor], shape: tuple[int, int],
                threshold: float) -> torch.Tensor:
    masks = output["masks"]
    if len(masks) == 0:
        return torch.zeros(shape)
    return (masks.float().sum(dim=(0, 1)) > threshold).float()


def maskrcnn_evaluation_loss(
    outputs: Sequence[Mapping[str, torch.Tensor]],
    targets: Sequence[Mapping[str, Any]],
    threshold: float = 0.5,
) -> float:
    """The paper's Mask R-CNN evaluation loss, averaged over images.

    Per image, the predicted mask probabilities ``(N, 1, H, W)`` are summed, thresholded
    (``> threshold`` is 1), and the BCE against the union of the true masks is taken with
    ``torch.nn.functional.binary_cross_entropy``. On binary inputs that BCE is 100 x the
    fraction of wrong pixels (PyTorch clamps ``log`` at -100), which is why the paper's
    Mask R-CNN shows a higher "loss" (0.54) than its U-Net (0.40) with better masks.

    Examples
    --------
    >>> out = [{"masks": torch.ones(1, 1, 2, 2)}]
    >>> tgt = [{"masks": torch.tensor([[[1, 1], [1, 0]]])}]
    >>> maskrcnn_evaluation_loss(out, tgt)
    25.0
    """
    losses = []
    for output, target in zip(outputs, targets, strict=True):
        truth = torch.as_tensor(target["masks"]).float()
        truth = truth.amax(0) if len(truth) else torch.zeros(truth.shape[-2:])
        pred = _union_mask(output, tuple(truth.shape), threshold)
        losses.append(float(nn.functional.binary_cross_entropy(pred, truth)))
    if not losses:
        raise ValueError("maskrcnn_evaluation_loss needs at least one image")
    return sum(losses) / len(losses)


def train_maskrcnn(
    model: nn.Module,
    train_set: Dataset,
    val_set: Dataset | None = None,
    epochs: int = MASKRCNN_SCHEDULE["epochs"],
    batch_size: int = MASKRCNN_SCHEDULE["batch_size"],
    lr: float = MASKRCNN_SCHEDULE["lr"],
    *,
    device: str | torch.device = "auto",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    num_workers: int = 0,
    seed: int = 0,
    progress: bool = True,
    grad_clip: float | None = None,
) -> list[dict[str, Any]]:
    """Train a Mask R-CNN on ``(image float (3, H, W) in [0, 1], instance target)`` samples.

    The model computes its own losses (``loss_fn=None``); with ``val_set`` each epoch also
    records ``val_evaluation_loss`` (:func:`maskrcnn_evaluation_loss`). ``grad_clip`` (not
    in the paper, which fine-tuned pretrained weights) clips the gradient norm: a backbone
    trained from scratch can otherwise diverge in its first steps.

    Returns
    -------
    list of dict
        The trainer's history.
    """
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                        collate_fn=detection_collate, num_workers=num_workers)
    val_loader = None if val_set is None else DataLoader(
        val_set, batch_size=batch_size, collate_fn=detection_collate, num_workers=num_workers)
    trainer = Trainer(model, maskrcnn_optimizer(model, lr=lr), None, device=device, seed=seed,
                      checkpoint_dir=checkpoint_dir, progress=progress, grad_clip=grad_clip)
    metrics = {"evaluation_loss": maskrcnn_evaluation_loss} if val_set is not None else None
    return trainer.fit(loader, epochs, val_loader=val_loader, metrics=metrics)

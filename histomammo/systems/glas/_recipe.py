"""Training recipes of the GlaS seed paper: U-Net (section 5.3) and Mask R-CNN (section 6.3).

U-Net, two phases on BCE (here ``BCEWithLogitsLoss``, as [`UNet`][histomammo.models.UNet]
returns logits), batch 6, normalised images:

1. SGD, learning rate 0.1, L2 1e-5, 900 epochs (validation loss 0.69 -> 0.42 in the paper);
2. the optimizer reset, Adam, learning rate 1e-5, L2 1e-3, 50 epochs (0.42 -> 0.29).

Mask R-CNN: SGD with momentum, learning rate 5e-3, weight decay 5e-4, batch 2, 500 epochs,
the model's own loss dict. The paper does not give the momentum; 0.9 is that of the
torchvision fine-tuning tutorial whose settings it started from. Its evaluation loss (the BCE
between the thresholded union of the predicted masks and the true mask) is
[`maskrcnn_evaluation_loss`][histomammo.systems.glas.maskrcnn_evaluation_loss], usable as a
``Trainer`` metric.

Epoch counts are parameters; the defaults are the paper's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypedDict

import torch
from torch import nn
from torch.utils.data import Dataset

from histomammo.datasets import collate_detection
from histomammo.engine import Recipe, fit_recipe

__all__ = [
    "MASKRCNN_SCHEDULE",
    "recipe",
    "unet_recipe",
    "unet_loss",
    "train_unet",
    "maskrcnn_recipe",
    "maskrcnn_evaluation_loss",
    "train_maskrcnn",
]

class _MaskRCNNSchedule(TypedDict):
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    epochs: int
    mask_hidden: int


#: The paper's Mask R-CNN schedule (section 6.3); momentum from the torchvision tutorial.
MASKRCNN_SCHEDULE: _MaskRCNNSchedule = {"lr": 5e-3, "momentum": 0.9, "weight_decay": 5e-4,
                                        "batch_size": 2, "epochs": 500, "mask_hidden": 256}


def unet_loss(logits: torch.Tensor, target: Mapping[str, Any] | torch.Tensor) -> torch.Tensor:
    """BCE of U-Net logits ``(B, 1, H, W)`` against the semantic mask ``(B, H, W)`` in {0, 1}.

    ``target`` is a GlaS semantic target dict (its ``"mask"``) or the mask itself; the mask is
    moved to the logits' device and dtype.

    Examples
    --------
    >>> logits = torch.zeros(2, 1, 4, 4)
    >>> round(float(unet_loss(logits, {"mask": torch.ones(2, 4, 4)})), 4)
    0.6931
    """
    mask = target["mask"] if isinstance(target, Mapping) else target
    mask = torch.as_tensor(mask).to(device=logits.device, dtype=logits.dtype)
    if mask.ndim == logits.ndim - 1:
        mask = mask.unsqueeze(1)
    if mask.shape != logits.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not fit logits {tuple(logits.shape)}")
    return nn.functional.binary_cross_entropy_with_logits(logits, mask)


def unet_recipe(*, epochs: Sequence[int] = (900, 50), batch_size: int = 6) -> Recipe:
    """The paper's two U-Net phases (section 5.3) on [`unet_loss`][histomammo.systems.glas.unet_loss].

    1. SGD, learning rate 0.1, L2 (weight decay) 1e-5, 900 epochs;
    2. a fresh Adam, learning rate 1e-5, L2 1e-3, 50 epochs.

    Examples
    --------
    >>> recipe = unet_recipe()
    >>> [(p.name, p.epochs, p.batch_size) for p in recipe.phases]
    [('U-Net phase 1 (SGD 0.1)', 900, 6), ('U-Net phase 2 (Adam 1e-5)', 50, 6)]
    >>> recipe.phases[1].build_optimizer(nn.Linear(2, 1)).defaults["weight_decay"]
    0.001
    """
    if len(epochs) != 2:
        raise ValueError(f"epochs needs one entry per phase (2); got {tuple(epochs)}")
    return Recipe(phases=[
        Recipe(partial(torch.optim.SGD, lr=0.1, weight_decay=1e-5), unet_loss,
               epochs=int(epochs[0]), batch_size=batch_size, name="U-Net phase 1 (SGD 0.1)"),
        Recipe(partial(torch.optim.Adam, lr=1e-5, weight_decay=1e-3), unet_loss,
               epochs=int(epochs[1]), batch_size=batch_size, name="U-Net phase 2 (Adam 1e-5)"),
    ], name="U-Net (GlaS paper)")


def train_unet(
    model: nn.Module,
    train_set: Dataset[Any],
    val_set: Dataset[Any] | None = None,
    recipe: Recipe | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    num_workers: int = 0,
    seed: int = 0,
    metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    **trainer_options: Any,
) -> list[dict[str, Any]]:
    """Train a U-Net through the phases of ``recipe``, a fresh optimizer for each.

    Parameters
    ----------
    model : nn.Module
        A [`UNet`][histomammo.models.UNet] (logits out).
    train_set, val_set : Dataset
        ``(image float (3, S, S), {"mask": (S, S)} ...)`` samples, e.g.
        [`GlaS`][histomammo.datasets.glas.GlaS] ``(target="semantic")`` with
        [`unet_input_transforms`][histomammo.systems.glas.unet_input_transforms].
    recipe : Recipe, optional
        [`unet_recipe`][histomammo.systems.glas.unet_recipe] by default (the paper's).
    checkpoint_dir : path, optional
        Each phase checkpoints into ``phase<k>/`` and resumes from it.
    **trainer_options
        Trainer arguments (``device``, ``progress``, ``amp``, ...).

    Returns
    -------
    list of dict
        The history rows of every phase (with ``"phase"``, 1-based, for multi-phase recipes).
    """
    return fit_recipe(model, recipe or unet_recipe(), train_set, val_set,
                      checkpoint_dir=checkpoint_dir, seed=seed, metrics=metrics,
                      num_workers=num_workers, **trainer_options)


def maskrcnn_recipe(
    *,
    epochs: int = MASKRCNN_SCHEDULE["epochs"],
    batch_size: int = MASKRCNN_SCHEDULE["batch_size"],
    lr: float = MASKRCNN_SCHEDULE["lr"],
    momentum: float = MASKRCNN_SCHEDULE["momentum"],
    weight_decay: float = MASKRCNN_SCHEDULE["weight_decay"],
    grad_clip: float | None = None,
) -> Recipe:
    """The paper's Mask R-CNN recipe: SGD with momentum over the trainable parameters, the
    model's own loss dict (``loss=None``), batch 2, 500 epochs.

    ``grad_clip`` (not in the paper, which fine-tuned pretrained weights) clips the gradient
    norm: a backbone trained from scratch can otherwise diverge in its first steps.

    Examples
    --------
    >>> recipe = maskrcnn_recipe()
    >>> recipe.epochs, recipe.batch_size, recipe.build_optimizer(nn.Linear(2, 1)).defaults["momentum"]
    (500, 2, 0.9)
    """
    return Recipe(partial(torch.optim.SGD, lr=lr, momentum=momentum, weight_decay=weight_decay),
                  None, epochs=epochs, batch_size=batch_size, grad_clip=grad_clip,
                  name="Mask R-CNN (GlaS paper)")


def _image_evaluation_loss(output: Mapping[str, torch.Tensor], target: Mapping[str, Any],
                           threshold: float) -> torch.Tensor:
    """One image's evaluation loss as a tensor on the predictions' device."""
    masks = output["masks"]
    truth = torch.as_tensor(target["masks"]).to(device=masks.device, dtype=torch.float32)
    truth = truth.amax(0) if len(truth) else truth.new_zeros(truth.shape[-2:])
    if len(masks) == 0:
        pred = truth.new_zeros(truth.shape)
    else:
        pred = (masks.float().sum(dim=(0, 1)) > threshold).float()
    return nn.functional.binary_cross_entropy(pred, truth)


def maskrcnn_evaluation_loss(
    outputs: Sequence[Mapping[str, torch.Tensor]],
    targets: Sequence[Mapping[str, Any]],
    threshold: float = 0.5,
) -> float:
    """The paper's Mask R-CNN evaluation loss, averaged over images.

    Per image, the predicted mask probabilities ``(N, 1, H, W)`` are summed, thresholded
    (``> threshold`` is 1), and the BCE against the union of the true masks ``(M, H, W)`` is
    taken with ``torch.nn.functional.binary_cross_entropy``, on the predictions' device. On
    binary inputs that BCE is 100 x the fraction of wrong pixels (PyTorch clamps ``log`` at
    -100), which is why the paper's Mask R-CNN shows a higher "loss" (0.54) than its U-Net
    (0.40) with better masks.

    Examples
    --------
    >>> out = [{"masks": torch.ones(1, 1, 2, 2)}]
    >>> tgt = [{"masks": torch.tensor([[[1, 1], [1, 0]]])}]
    >>> maskrcnn_evaluation_loss(out, tgt)
    25.0
    """
    losses = [float(_image_evaluation_loss(output, target, threshold))
              for output, target in zip(outputs, targets, strict=True)]
    if not losses:
        raise ValueError("maskrcnn_evaluation_loss needs at least one image")
    return sum(losses) / len(losses)


def train_maskrcnn(
    model: nn.Module,
    train_set: Dataset[Any],
    val_set: Dataset[Any] | None = None,
    recipe: Recipe | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    num_workers: int = 0,
    seed: int = 0,
    **trainer_options: Any,
) -> list[dict[str, Any]]:
    """Train a Mask R-CNN on ``(image float (3, H, W) in [0, 1], instance target)`` samples.

    ``recipe`` defaults to [`maskrcnn_recipe`][histomammo.systems.glas.maskrcnn_recipe] (the
    paper's). With ``val_set`` each epoch also records ``val_evaluation_loss``
    ([`maskrcnn_evaluation_loss`][histomammo.systems.glas.maskrcnn_evaluation_loss]).

    Returns
    -------
    list of dict
        The trainer's history.
    """
    metrics = {"evaluation_loss": maskrcnn_evaluation_loss} if val_set is not None else None
    return fit_recipe(model, recipe or maskrcnn_recipe(), train_set, val_set,
                      checkpoint_dir=checkpoint_dir, seed=seed, metrics=metrics,
                      collate_fn=collate_detection, num_workers=num_workers, **trainer_options)


def recipe(name: str, model: nn.Module | None = None, **options: Any) -> Recipe:
    """The paper's recipe ``"unet"`` ([`unet_recipe`][histomammo.systems.glas.unet_recipe]) or
    ``"maskrcnn"`` ([`maskrcnn_recipe`][histomammo.systems.glas.maskrcnn_recipe]); ``model``
    is not needed (both train every trainable parameter), ``options`` go to the function.

    Examples
    --------
    >>> recipe("unet").total_epochs, recipe("maskrcnn", epochs=3).epochs
    (950, 3)
    """
    recipes: dict[str, Callable[..., Recipe]] = {"unet": unet_recipe,
                                                 "maskrcnn": maskrcnn_recipe}
    if name not in recipes:
        raise ValueError(f"the GlaS recipes are {sorted(recipes)}; got {name!r}")
    return recipes[name](**options)

"""Shen et al.'s training schedules: the 3-stage patch and 2-stage whole-image fine-tuning.

Patch classifier (S10 patch set): Adam, batch 32; learning rate 1e-3 on the last layer for 3
epochs, 1e-4 with the top layers unfrozen for 10 epochs ("46 for Resnet50 and 11 for
VGG16"), 1e-5 on all layers for 37 epochs (50 in all). The S1 patch set trains 200 epochs in
all; randomly initialised networks use a constant 1e-3. The sample weights are adjusted in
each batch to balance the five classes
([`batch_balanced_cross_entropy`][histomammo.systems.shen.batch_balanced_cross_entropy]).

Whole-image classifier (converted from the patch classifier): batch 2; 1e-4 with weight
decay 1e-3 on the newly added top layers for 30 epochs, then 1e-5 with weight decay 1e-2 on
all layers for 20; VGG-based classifiers continue 200 more epochs.

Keras layer counts in PyTorch: the paper counts Keras layers, which include activations,
additions, pooling and padding. The top 46 Keras layers of its ResNet-50 (dense, average
pooling, all of res5, all of res4f, and the weightless add + activation closing res4e) are
torchvision's ``layer3.5``, ``layer4`` and ``fc``; the top 11 of its VGG16 (dense, global
pooling, block5_pool, block5_conv3..1, block4_pool, block4_conv3..1, block3_pool) are the
convolutions ``features.17/19/21/24/26/28`` and ``fc``. Each model carries its cut as
``shen_top_prefixes`` ([`models.resnet`][histomammo.models.resnet],
[`models.vgg`][histomammo.models.vgg]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from histomammo.engine import Recipe
from histomammo.engine.callbacks import Stage, StagedUnfreeze

__all__ = [
    "recipe",
    "patch_recipe",
    "whole_image_recipe",
    "shen_optimizer",
    "batch_balanced_cross_entropy",
    "BatchBalancedCrossEntropy",
    "SHEN_PATCH_BATCH_SIZE",
    "SHEN_IMAGE_BATCH_SIZE",
]

SHEN_PATCH_BATCH_SIZE = 32
SHEN_IMAGE_BATCH_SIZE = 2


def shen_optimizer(model: nn.Module, lr: float = 1e-3) -> torch.optim.Adam:
    """Adam over every parameter of ``model`` (the stages set lr and weight decay).

    Examples
    --------
    >>> shen_optimizer(torch.nn.Linear(2, 2)).defaults["lr"]
    0.001
    """
    return torch.optim.Adam(model.parameters(), lr=lr)


def patch_recipe(
    model: nn.Module,
    *,
    pretrained: bool = True,
    patch_set: str = "S10",
    epochs: Sequence[int] | None = None,
    lrs: Sequence[float] = (1e-3, 1e-4, 1e-5),
    top_prefixes: Sequence[str] | None = None,
) -> Recipe:
    """The patch classifier's recipe: Adam, batch 32, the batch-balanced loss and the stages
    as a [`StagedUnfreeze`][histomammo.engine.callbacks.StagedUnfreeze] callback.

    Parameters
    ----------
    model : nn.Module
        ``resnet50_patch`` or ``vgg16_gap`` (or any model with ``fc`` and
        ``shen_top_prefixes``, or pass ``top_prefixes``).
    pretrained : bool
        ``False``: one stage, all layers, constant 1e-3 (the paper's randomly initialised
        networks).
    patch_set : {"S10", "S1"}
        Default total epochs 50 (S10) or 200 (S1); the third stage takes the remainder.
    epochs : sequence of 3 int, optional
        Stage lengths; default ``(3, 10, 37)`` or ``(3, 10, 187)``; for ``pretrained=False``
        the single stage's length is their sum.
    lrs : sequence of 3 float
        Learning rates of the three stages.
    top_prefixes : sequence of str, optional
        Module prefixes of stage 2 (default ``model.shen_top_prefixes``).

    Returns
    -------
    Recipe
        ``callbacks[0]`` is the [`StagedUnfreeze`][histomammo.engine.callbacks.StagedUnfreeze]
        schedule; ``epochs`` its total.

    Examples
    --------
    >>> from histomammo.models.vgg import VGG16GAP
    >>> recipe = patch_recipe(VGG16GAP())
    >>> schedule = recipe.callbacks[0]
    >>> [(s.epochs, s.lr) for s in schedule.stages], recipe.epochs, recipe.batch_size
    ([(3, 0.001), (10, 0.0001), (37, 1e-05)], 50, 32)
    >>> schedule.stages[1].trainable[-1], patch_recipe(VGG16GAP(), patch_set="S1").epochs
    ('fc', 200)
    """
    stages = _patch_stages(model, pretrained, patch_set, epochs, lrs, top_prefixes)
    return Recipe(shen_optimizer, BatchBalancedCrossEntropy(), epochs=_total(stages),
                  callbacks=[stages], batch_size=SHEN_PATCH_BATCH_SIZE,
                  name=f"Shen patch classifier ({patch_set})")


def _total(schedule: StagedUnfreeze) -> int:
    lengths = [stage.epochs for stage in schedule.stages]
    known = [n for n in lengths if n is not None]
    if len(known) != len(lengths):  # the stages built here all have a length
        raise ValueError(f"a stage of {lengths} is open-ended (epochs=None): no total")
    return sum(known)


def _patch_stages(model: nn.Module, pretrained: bool, patch_set: str,
                  epochs: Sequence[int] | None, lrs: Sequence[float],
                  top_prefixes: Sequence[str] | None) -> StagedUnfreeze:
    if patch_set not in ("S10", "S1"):
        raise ValueError(f"patch_set must be 'S10' or 'S1'; got {patch_set!r}")
    total = 50 if patch_set == "S10" else 200
    epochs = tuple(epochs) if epochs is not None else (3, 10, total - 13)
    if len(epochs) != 3 or len(lrs) != 3:
        raise ValueError(f"epochs and lrs need 3 entries each; got {epochs} and {tuple(lrs)}")
    if not pretrained:
        return StagedUnfreeze([Stage(sum(epochs), "all", lr=1e-3)])
    if top_prefixes is None:
        top_prefixes = getattr(model, "shen_top_prefixes", None)
        if top_prefixes is None:
            raise ValueError(
                f"{type(model).__name__} has no shen_top_prefixes; pass top_prefixes=[...]"
            )
    return StagedUnfreeze([
        Stage(epochs[0], ["fc"], lr=lrs[0]),
        Stage(epochs[1], list(top_prefixes), lr=lrs[1]),
        Stage(epochs[2], "all", lr=lrs[2]),
    ])


def whole_image_recipe(
    model: nn.Module,
    *,
    epochs: Sequence[int] = (30, 20),
    extra_epochs: int | None = None,
    lrs: Sequence[float] = (1e-4, 1e-5),
    weight_decays: Sequence[float] = (1e-3, 1e-2),
) -> Recipe:
    """The whole-image classifier's recipe: Adam, batch 2, cross-entropy and the 2-stage
    schedule as a [`StagedUnfreeze`][histomammo.engine.callbacks.StagedUnfreeze] callback.

    Parameters
    ----------
    model : PatchToImageClassifier
        Its ``top`` module holds the newly added layers, which stage 1 trains alone.
    epochs : sequence of 2 int
        Stage lengths (30, 20).
    extra_epochs : int, optional
        Added to stage 2; default 200 for VGG top blocks (``model.top_kind == "vgg"``), as
        the paper continued its VGG-based classifiers, else 0.
    lrs, weight_decays : sequence of 2 float
        Per stage: (1e-4, 1e-5) and (1e-3, 1e-2).

    Examples
    --------
    >>> model = torch.nn.ModuleDict({"body": torch.nn.Linear(2, 2), "top": torch.nn.Linear(2, 2)})
    >>> recipe = whole_image_recipe(model)
    >>> [(s.epochs, s.trainable, s.weight_decay) for s in recipe.callbacks[0].stages]
    [(30, ('top',), 0.001), (20, 'all', 0.01)]
    """
    if extra_epochs is None:
        extra_epochs = 200 if getattr(model, "top_kind", None) == "vgg" else 0
    stages = StagedUnfreeze([
        Stage(int(epochs[0]), ["top"], lr=lrs[0], weight_decay=weight_decays[0]),
        Stage(int(epochs[1]) + int(extra_epochs), "all", lr=lrs[1],
              weight_decay=weight_decays[1]),
    ])
    return Recipe(shen_optimizer, nn.CrossEntropyLoss(), epochs=_total(stages),
                  callbacks=[stages], batch_size=SHEN_IMAGE_BATCH_SIZE,
                  name="Shen whole-image classifier")


def batch_balanced_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with sample weights that balance the classes present in the batch.

    Each class present in the batch gets the same total weight: sample ``i`` of class ``c``
    weighs ``N / (K * n_c)`` (``K`` classes present, ``n_c`` of them of class ``c``), so the
    loss is the mean over present classes of each class's mean cross-entropy. (Shen et al.:
    "The sample weights were adjusted within each batch to balance the five classes.")

    Parameters
    ----------
    logits : Tensor[N, C]
    targets : Tensor[N] (int64)

    Examples
    --------
    >>> logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    >>> loss = batch_balanced_cross_entropy(logits, torch.tensor([0, 0, 0, 0]))
    >>> round(float(loss), 4) == round(float(F.cross_entropy(logits, torch.zeros(4).long())), 4)
    True
    """
    per_sample = F.cross_entropy(logits, targets, reduction="none")
    # a comparison, not bincount: it runs on every device (meta included) and is deterministic
    classes = torch.arange(logits.shape[1], device=targets.device)
    counts = (targets[:, None] == classes).sum(0).to(per_sample.dtype)
    present = (counts > 0).sum()
    weights = 1.0 / (present * counts[targets])
    return (weights * per_sample).sum()


class BatchBalancedCrossEntropy(nn.Module):
    """[`batch_balanced_cross_entropy`][histomammo.systems.shen.batch_balanced_cross_entropy] as a
    loss module for the Trainer."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return batch_balanced_cross_entropy(logits, targets)


def recipe(name: str, model: nn.Module, **options: object) -> Recipe:
    """The named recipe of the paper: ``"patch"``
    ([`patch_recipe`][histomammo.systems.shen.patch_recipe])
    or ``"whole_image"`` ([`whole_image_recipe`][histomammo.systems.shen.whole_image_recipe]);
    ``options`` go to that function.

    Examples
    --------
    >>> model = torch.nn.ModuleDict({"body": torch.nn.Linear(2, 2), "top": torch.nn.Linear(2, 2)})
    >>> recipe("whole_image", model).epochs
    50
    """
    recipes: dict[str, Callable[..., Recipe]] = {"patch": patch_recipe,
                                                 "whole_image": whole_image_recipe}
    if name not in recipes:
        raise ValueError(f"Shen et al.'s recipes are {sorted(recipes)}; got {name!r}")
    return recipes[name](model, **options)

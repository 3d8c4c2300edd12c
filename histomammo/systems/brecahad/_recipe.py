"""The BreCaHAD Faster R-CNN training schedule of ``seeds/brecahad_faster_rcnn.txt`` (2.4.2).

Batch size 1, learning rate 2e-5, weight decay 5e-4, the learning rate multiplied by 0.98
after every epoch (``MultiplicativeLR``), 100 epochs.
[`brecahad_recipe`][histomammo.systems.brecahad.brecahad_recipe] returns the
[`Recipe`][histomammo.engine.Recipe]: optimizer and scheduler factories, the patch-drawing
callback, epochs and batch size (``loss=None``: the Trainer trains a torchvision detector on
its own loss dict and reports a validation loss from the same dict under ``no_grad``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any, Literal, Protocol, TypedDict

import torch
from torch import nn
from torchvision.transforms import v2

from histomammo.engine import Recipe
from histomammo.engine.callbacks import Callback

__all__ = ["PAPER_RECIPE", "PUBLISHED", "PatchEpoch", "brecahad_recipe", "paper_augmentation",
           "recipe"]

class _PaperRecipe(TypedDict):
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    lr_factor: float


#: Section 2.4.2 of the seed paper.
PAPER_RECIPE: _PaperRecipe = {
    "epochs": 100, "batch_size": 1, "lr": 2e-5, "weight_decay": 5e-4, "lr_factor": 0.98,
}
#: The seed's result: the share of tumour cells found at the lowest score threshold (its
#: "classification accuracy of 99.02%", the first point of figure 4's true-positive rate).
PUBLISHED: dict[str, Any] = {
    "tpr_lowest_threshold": 0.9902,
    "source": "seeds/brecahad_faster_rcnn.txt, abstract, section 3 and figure 4",
}


def paper_augmentation() -> v2.Transform:
    """The paper's augmentation: a random horizontal flip ("flipping in x dimension").

    Examples
    --------
    >>> paper_augmentation()
    RandomHorizontalFlip(p=0.5)
    """
    return v2.RandomHorizontalFlip(p=0.5)


class _HasEpoch(Protocol):
    def set_epoch(self, epoch: int) -> None: ...


class PatchEpoch(Callback):
    """Tell datasets which epoch starts, so they draw that epoch's random patches.

    [`histomammo.datasets.BreCaHAD`][histomammo.datasets.BreCaHAD] draws its training patch
    positions from
    ``(seed, epoch, index)``; this callback calls ``set_epoch`` on each dataset at every
    ``on_epoch_start``, which keeps the draws reproducible, different every epoch and the
    same after a resume, with or without DataLoader workers (workers receive the dataset
    after the call).

    Examples
    --------
    >>> class Data:
    ...     epoch = 0
    ...     def set_epoch(self, epoch):
    ...         self.epoch = epoch
    >>> data = Data()
    >>> PatchEpoch(data).on_epoch_start(None, 3)
    >>> data.epoch
    3
    """

    def __init__(self, *datasets: _HasEpoch) -> None:
        for data in datasets:
            if not callable(getattr(data, "set_epoch", None)):
                raise TypeError(f"{type(data).__name__} has no set_epoch(epoch) method")
        self.datasets = datasets

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        for data in self.datasets:
            data.set_epoch(epoch)


class _ConstantFactor:
    """``lr_lambda`` of a ``MultiplicativeLR``: the same factor every epoch (picklable)."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, epoch: int) -> float:
        return self.factor


def _detector_optimizer(model: nn.Module, *, kind: str, lr: float, weight_decay: float,
                        fused: bool | None) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if fused is None:
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=bool(fused))


def brecahad_recipe(
    datasets: Iterable[_HasEpoch] = (),
    *,
    lr: float = PAPER_RECIPE["lr"],
    weight_decay: float = PAPER_RECIPE["weight_decay"],
    lr_factor: float = PAPER_RECIPE["lr_factor"],
    optimizer: Literal["adam", "sgd"] = "adam",
    fused: bool | None = None,
    epochs: int = PAPER_RECIPE["epochs"],
) -> Recipe:
    """The paper's schedule.

    The paper names no optimizer. Adam is used here: a learning rate of 2e-5 is an
    Adam-scale rate (torchvision's SGD detection recipes use 0.02, a thousand times more;
    SGD at 2e-5 for the paper's 13,800 steps would barely move the randomly initialised
    heads), and "weight decay of the optimizer" matches ``torch.optim.Adam``'s own
    ``weight_decay`` (an L2 term, as in PyTorch 1.6 that the paper used). ``"sgd"`` (momentum
    0.9) is offered for comparison. Only parameters that require gradients are optimised
    (the frozen stem and ``layer1`` are not).

    Parameters
    ----------
    datasets : iterable
        Datasets with ``set_epoch`` (the training one at least), given to
        [`PatchEpoch`][histomammo.systems.brecahad.PatchEpoch].
    lr, weight_decay, lr_factor : float
        Defaults from [`PAPER_RECIPE`][histomammo.systems.brecahad.PAPER_RECIPE].
    optimizer : {"adam", "sgd"}
    fused : bool, optional
        Use PyTorch's fused Adam kernel (one pass over each parameter; the same update).
        Default: when every trainable parameter is on a CPU or CUDA device. On a CPU it
        makes the optimizer step ~10x faster: the step touches all 144M parameters (fc6
        alone has 115.6M) and the unfused ``foreach=False`` loop, PyTorch's CPU default,
        took 4-10 s of a ~15 s training step on 2 cores; fused, 0.4 s.
    epochs : int
        100, the paper's.

    Returns
    -------
    Recipe
        Optimizer, ``MultiplicativeLR`` stepped once per epoch, callbacks
        ([`PatchEpoch`][histomammo.systems.brecahad.PatchEpoch] when ``datasets`` are given), epochs
        100 and batch size 1.

    Examples
    --------
    >>> model = torch.nn.Linear(2, 2)
    >>> recipe = brecahad_recipe()
    >>> optimizer = recipe.build_optimizer(model)
    >>> type(optimizer).__name__, optimizer.param_groups[0]["lr"], recipe.batch_size
    ('Adam', 2e-05, 1)
    >>> scheduler = recipe.scheduler(optimizer)
    >>> optimizer.step(); scheduler.step()  # after the first epoch
    >>> round(optimizer.param_groups[0]["lr"], 12)
    1.96e-05
    """
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', but got {optimizer!r}")
    if not 0 < lr_factor <= 1:
        raise ValueError(f"lr_factor must be in (0, 1], but got {lr_factor!r}")
    datasets = list(datasets)
    return Recipe(
        partial(_detector_optimizer, kind=optimizer, lr=lr, weight_decay=weight_decay,
                fused=fused),
        None, epochs=epochs, batch_size=int(PAPER_RECIPE["batch_size"]),
        scheduler=partial(torch.optim.lr_scheduler.MultiplicativeLR,
                          lr_lambda=_ConstantFactor(lr_factor)),
        callbacks=[PatchEpoch(*datasets)] if datasets else [], name="Faster R-CNN (BreCaHAD)",
    )


def recipe(name: str = "paper", model: nn.Module | None = None, **options: Any) -> Recipe:
    """The paper's one recipe (``name="paper"``;
    [`brecahad_recipe`][histomammo.systems.brecahad.brecahad_recipe]
    takes ``options``); ``model`` is not needed (the trainable parameters are found when
    the optimizer is built).

    Examples
    --------
    >>> recipe("paper").epochs
    100
    """
    if name != "paper":
        raise ValueError(f"the BreCaHAD paper has one recipe, 'paper'; got {name!r}")
    return brecahad_recipe(**options)

"""The whole-mammogram thesis's training recipe (sections 6.1-6.4), and oversampling.

"The weights of the network have been randomly initialized. [...] Training was done using
SGD using a learning rate of 0.01. [...] We used no additional regularization techniques."
Categorical cross-entropy on a two-way softmax; AlexNet trained 40 and 80 epochs, ResNet 40
(table 6.3); the snapshot with the lowest validation loss is the one evaluated (section 6.4);
the view-prediction pipeline check trains 10 epochs (section 6.2).
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from functools import partial
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from histomammo.engine import Recipe
from histomammo.engine.callbacks import BestCheckpoint

__all__ = ["recipe", "thesis_recipe", "oversample", "THESIS_EPOCHS", "VIEW_CHECK_EPOCHS"]

T = TypeVar("T")

#: Epochs per network of table 6.3 (AlexNet variants were also evaluated after 40).
THESIS_EPOCHS = {"alexnet": 80, "alexnet_large": 80, "reduced_resnet": 40, "resnet": 40}
#: Epochs of the CC-vs-MLO pipeline check (section 6.2).
VIEW_CHECK_EPOCHS = 10


def thesis_recipe(
    network: str = "alexnet",
    *,
    epochs: int | None = None,
    lr: float = 0.01,
    optimizer: str = "sgd",
    batch_size: int = 16,
    best_filename: str = "best.pt",
) -> Recipe:
    """The thesis's recipe: SGD 0.01, cross-entropy, the best-validation-loss snapshot.

    Parameters
    ----------
    network : {"alexnet", "alexnet_large", "reduced_resnet", "resnet", "view_check"}
        Which row of table 6.3 sets the default epochs (``"view_check"``: 10, section 6.2).
    epochs : int, optional
        Overrides the default.
    lr : float
        0.01 (chosen by the thesis after He et al.).
    optimizer : {"sgd", "adam"}
        ``"sgd"``: the thesis's plain SGD (no momentum, no weight decay). ``"adam"``: Adam
        1e-3 (``lr`` ignored), the library's side-by-side run for short synthetic runs.
    batch_size : int
        The thesis gives none; 16 (evaluation: 32).
    best_filename : str
        File name of the best-validation-loss checkpoint (``BestCheckpoint``): ``best.pt``
        is the snapshot to evaluate (``trainer.load_checkpoint(dir / "best.pt",
        model_only=True)``).

    Returns
    -------
    Recipe
        Loss ``nn.CrossEntropyLoss`` on the model's 2-way logits (softmax inside the loss);
        ``extras["network"]``.

    Examples
    --------
    >>> recipe = thesis_recipe("resnet")
    >>> optimizer = recipe.build_optimizer(torch.nn.Linear(3, 2))
    >>> recipe.epochs, optimizer.defaults["lr"], optimizer.defaults["momentum"]
    (40, 0.01, 0)
    """
    table = {**THESIS_EPOCHS, "view_check": VIEW_CHECK_EPOCHS}
    if network not in table:
        raise ValueError(f"network must be one of {sorted(table)}; got {network!r}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {optimizer!r}")
    factory = (partial(torch.optim.SGD, lr=lr) if optimizer == "sgd"
               else partial(torch.optim.Adam, lr=1e-3))
    return Recipe(
        factory, nn.CrossEntropyLoss(),
        epochs=int(epochs if epochs is not None else table[network]),
        callbacks=[BestCheckpoint(monitor="val_loss", mode="min", filename=best_filename)],
        batch_size=batch_size, eval_batch_size=32,
        name=f"thesis {network}" + (" (Adam 1e-3)" if optimizer == "adam" else ""),
        extras={"network": network},
    )


def oversample(
    dataset: Dataset[T], labels: Sequence[int] | np.ndarray, factor: int = 2, positive: int = 1
) -> Subset[T]:
    """The dataset with every ``positive`` sample listed ``factor`` times (section 6.3.2).

    The thesis's variation "oversampling of the cancer cases". It is done on the index list,
    not with a ``WeightedRandomSampler``: the engine rebuilds a plain loader around its own
    seeded, resumable sampler, which then shuffles the longer index list from
    ``(seed, epoch)``, so a run resumed mid-epoch is still exact. A custom sampler would
    forfeit that (the engine restarts such an epoch).

    Parameters
    ----------
    dataset : Dataset
        A map-style dataset.
    labels : sequence of int, shape (len(dataset),)
        The class of every sample, in dataset order.
    factor : int
        How many times each positive appears (>= 1; 1 returns every index once).
    positive : int
        The class to oversample.

    Returns
    -------
    torch.utils.data.Subset
        Indices ``0..N-1`` followed by ``factor - 1`` further copies of the positives.

    Examples
    --------
    >>> data = list(range(5))
    >>> list(oversample(data, [0, 1, 0, 0, 1], factor=3))
    [0, 1, 2, 3, 4, 1, 4, 1, 4]
    """
    if not isinstance(dataset, Sized):
        raise TypeError(f"oversample needs a dataset with a length; got {type(dataset).__name__}")
    labels = np.asarray(labels)
    if labels.shape != (len(dataset),):
        raise ValueError(
            f"labels must have shape ({len(dataset)},) like the dataset; got {labels.shape}"
        )
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be an int >= 1; got {factor!r}")
    positives = np.flatnonzero(labels == positive)
    indices = np.r_[np.arange(len(dataset)), np.tile(positives, factor - 1)]
    return Subset(dataset, indices.tolist())


def recipe(name: str, model: nn.Module | None = None, **options: Any) -> Recipe:
    """The thesis's recipe for network ``name`` (a row of table 6.3, or ``"view_check"``);
    ``model`` is not needed (the thesis trains every parameter) and ``options`` go to
    [`thesis_recipe`][histomammo.systems.thesis.thesis_recipe].

    Examples
    --------
    >>> recipe("alexnet").epochs, recipe("view_check").epochs
    (80, 10)
    """
    return thesis_recipe(name, **options)

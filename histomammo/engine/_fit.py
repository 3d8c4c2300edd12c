"""Run every phase of a [`Recipe`][histomammo.engine.Recipe], one trainer per phase.

It sits above the [`Trainer`][histomammo.engine.Trainer], as a user's script does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import DataLoader, Dataset

from histomammo.engine._recipe import Recipe
from histomammo.engine.trainer import Trainer

__all__ = ["fit_recipe"]


def fit_recipe(
    model: nn.Module,
    recipe: Recipe,
    train_data: Dataset[Any],
    val_data: Dataset[Any] | None = None,
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    metrics: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    num_workers: int = 0,
    **overrides: Any,
) -> list[dict[str, Any]]:
    """Train ``model`` through every phase of ``recipe``; return the history rows.

    Each phase gets its own trainer
    ([`Trainer.from_recipe`][histomammo.engine.trainer.Trainer.from_recipe], so a fresh optimizer),
    loaders of the phase's
    ``batch_size`` (shuffled) and ``eval_batch_size``, and the seed ``seed + k`` for phase
    ``k`` (0-based). With ``checkpoint_dir`` a single-phase recipe checkpoints there and a
    multi-phase one into ``phase<k+1>/`` below it, so an interrupted run resumes in its phase
    (finished phases return at once from their last checkpoint).

    Parameters
    ----------
    model : nn.Module
    recipe : Recipe
    train_data, val_data : Dataset
        Map-style datasets; ``val_data`` is evaluated after every epoch.
    checkpoint_dir : path, optional
    seed : int
    metrics : mapping, optional
        ``Trainer.fit``'s ``metrics`` (recorded as ``val_<name>``).
    collate_fn : callable, optional
        The loaders' ``collate_fn`` (e.g. ``datasets.collate_detection``).
    num_workers : int
    **overrides
        Trainer arguments for every phase (``device``, ``progress``, ``amp``, ...); a
        ``callbacks`` override replaces each phase's own and is shared by every phase.

    Returns
    -------
    list of dict
        The history rows of every phase in order; a multi-phase recipe's rows carry
        ``"phase"`` (1-based).

    Examples
    --------
    >>> import torch
    >>> from functools import partial
    >>> from torch.utils.data import TensorDataset
    >>> from histomammo.engine import Recipe
    >>> data = TensorDataset(torch.randn(8, 2), torch.randn(8, 1))
    >>> two = Recipe(phases=[Recipe(partial(torch.optim.SGD, lr=0.1), torch.nn.MSELoss(),
    ...                             epochs=2, batch_size=4),
    ...                      Recipe(partial(torch.optim.Adam, lr=1e-3), torch.nn.MSELoss(),
    ...                             epochs=1, batch_size=8)])
    >>> rows = fit_recipe(torch.nn.Linear(2, 1), two, data, device="cpu", progress=False)
    >>> [(row["phase"], row["epoch"], row["step"]) for row in rows]
    [(1, 0, 2), (1, 1, 4), (2, 0, 1)]
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a histomammo.engine.Recipe, but got "
                        f"{type(recipe).__name__}")
    history: list[dict[str, Any]] = []
    stages = recipe.stages()
    for index, stage in enumerate(stages):
        directory = None if checkpoint_dir is None else Path(checkpoint_dir)
        if directory is not None and recipe.phases:
            directory = directory / f"phase{index + 1}"
        trainer = Trainer.from_recipe(model, stage, seed=seed + index, checkpoint_dir=directory,
                                      **overrides)
        loader = DataLoader(train_data, batch_size=stage.batch_size, shuffle=True,
                            collate_fn=collate_fn, num_workers=num_workers)
        val_loader = None if val_data is None else DataLoader(
            val_data, batch_size=stage.eval_batch_size, collate_fn=collate_fn,
            num_workers=num_workers)
        rows = trainer.fit(loader, stage.epochs, val_loader=val_loader, metrics=metrics)
        history += [{**row, "phase": index + 1} if recipe.phases else dict(row) for row in rows]
    return history

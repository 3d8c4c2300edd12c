"""Rebuild a user's DataLoader around the engine's seeded, resumable sampler.

Every setting of the user's loader is kept (batch size, drop_last, collate_fn, workers,
worker_init_fn, timeout, multiprocessing context, prefetch factor, persistent workers,
in_order); only the sampler is replaced, a seeded ``generator`` is added (it draws the
workers' base seed, so worker seeds are reproducible) and ``pin_memory`` is switched on
when training on CUDA.
"""

from __future__ import annotations

import torch
from torch.utils.data import (
    DataLoader,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from histomammo.engine import distributed as dist
from histomammo.engine.sampler import ResumableSampler

__all__ = ["not_rebuildable_reason", "loader_shuffles", "rebuild_loader", "engine_loader"]


def not_rebuildable_reason(loader: DataLoader) -> str | None:
    """Why ``loader`` cannot get the engine's sampler, or ``None`` when it can."""
    if not isinstance(loader, DataLoader):
        return f"it is a {type(loader).__name__}, not a torch DataLoader"
    if isinstance(loader.dataset, IterableDataset):
        return "its dataset is an IterableDataset (no indices to sample)"
    if loader.batch_size is None:
        return "it has a custom batch_sampler (or automatic batching is off)"
    if loader_shuffles(loader.sampler) is None:
        return f"it has a custom sampler ({type(loader.sampler).__name__})"
    return None


def loader_shuffles(sampler: Sampler) -> bool | None:
    """``True``/``False`` for a plain shuffling/sequential sampler, ``None`` for anything else.

    A :class:`RandomSampler` drawing with replacement or a number of samples other than the
    dataset's length is a custom sampling scheme, not a shuffle.
    """
    if isinstance(sampler, ResumableSampler):
        return sampler.shuffle
    if type(sampler) is SequentialSampler:
        return False
    if type(sampler) is RandomSampler and not sampler.replacement:
        if sampler._num_samples is None:  # the documented "len(dataset)" default
            return True
    return None


def rebuild_loader(
    loader: DataLoader,
    sampler: ResumableSampler,
    *,
    generator: torch.Generator,
    pin_memory: bool,
    drop_last: bool | None = None,
) -> DataLoader:
    """A DataLoader with every setting of ``loader`` but ``sampler`` and ``generator``.

    Parameters
    ----------
    loader : DataLoader
        A loader for which :func:`not_rebuildable_reason` is ``None``.
    sampler : ResumableSampler
        The engine's sampler.
    generator : torch.Generator
        Draws the workers' base seed; the trainer re-seeds it every epoch.
    pin_memory : bool
        ``True`` switches pinning on (CUDA training); ``False`` keeps the loader's setting.
    drop_last : bool or None
        Overrides the loader's ``drop_last`` (evaluation keeps every sample).
    """
    extra = {}
    if hasattr(loader, "in_order"):
        extra["in_order"] = loader.in_order
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=pin_memory or loader.pin_memory,
        drop_last=loader.drop_last if drop_last is None else drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=generator,
        prefetch_factor=loader.prefetch_factor,
        persistent_workers=loader.persistent_workers,
        **extra,
    )


def engine_loader(
    loader: DataLoader,
    *,
    shuffle: bool,
    seed: int,
    pin_memory: bool,
    drop_last: bool | None = None,
) -> tuple[DataLoader, ResumableSampler, torch.Generator]:
    """``(rebuilt loader, its sampler, its generator)``, sharded over this process's ranks.

    ``loader`` must be rebuildable (:func:`not_rebuildable_reason` is ``None``).
    """
    sampler = ResumableSampler(len(loader.dataset), shuffle=shuffle, seed=seed,
                               num_replicas=dist.get_world_size(), rank=dist.get_rank())
    generator = torch.Generator()
    rebuilt = rebuild_loader(loader, sampler, generator=generator, pin_memory=pin_memory,
                             drop_last=drop_last)
    return rebuilt, sampler, generator

"""Rebuild a user's DataLoader around the engine's seeded, resumable sampler.

Every setting of the user's loader is kept (batch size, drop_last, collate_fn, workers,
worker_init_fn, timeout, multiprocessing context, prefetch factor, persistent workers,
in_order); only the sampler is replaced, a seeded ``generator`` is added (it draws the
workers' base seed, so worker seeds are reproducible) and ``pin_memory`` is switched on
when training on CUDA.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
)

from histomammo.engine import distributed as dist
from histomammo.engine.sampler import SAMPLE_STREAM, ResumableSampler, stream_seed

__all__ = ["not_rebuildable_reason", "loader_shuffles", "rebuild_loader", "engine_loader",
           "shard_loader", "ShardSampler", "SampleSeededDataset"]


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + R, rank + 2R, ...`` of ``range(num_samples)``: an evaluation
    shard without padding (shards differ in length by at most one), so every sample is
    counted exactly once over all ranks.

    Examples
    --------
    >>> list(ShardSampler(5, num_replicas=2, rank=1))
    [1, 3]
    """

    def __init__(self, num_samples: int, num_replicas: int, rank: int) -> None:
        self.indices = range(rank, num_samples, num_replicas)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)


class _EpochTagged(Sampler[Any]):
    """Yield ``(epoch, index)`` pairs of a
    [`ResumableSampler`][histomammo.engine.sampler.ResumableSampler], so that a worker knows
    the epoch of every sample it loads (persistent workers included)."""

    def __init__(self, sampler: ResumableSampler) -> None:
        self.sampler = sampler

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.sampler.epoch
        return ((epoch, index) for index in iter(self.sampler))


class SampleSeededDataset(Dataset[Any]):
    """Seed ``random``, ``numpy.random`` and ``torch`` from ``(seed, epoch, index)`` before
    each ``dataset[index]``, inside the DataLoader worker that loads it.

    Random augmentation in ``__getitem__`` then draws the same numbers for a sample whatever
    worker, batch or resume point it lands in, so a run resumed mid-epoch with
    ``num_workers > 0`` is bit-identical to an uninterrupted one. Only used with workers:
    the generators it seeds are the worker process's own, never the main process's.
    """

    def __init__(self, dataset: Dataset[Any], seed: int) -> None:
        self.dataset, self.seed = dataset, int(seed)

    def __len__(self) -> int:
        return dataset_length(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        sample_seed = stream_seed(self.seed, SAMPLE_STREAM, epoch, index)
        random.seed(sample_seed)
        np.random.seed(sample_seed % 2**32)  # noqa: NPY002 (the worker's own global state)
        torch.manual_seed(sample_seed)
        return self.dataset[index]


def dataset_length(dataset: object) -> int:
    """``len(dataset)``; a dataset without ``__len__`` is a TypeError saying the engine needs it."""
    if not isinstance(dataset, Sized):
        raise TypeError(f"the loader's dataset ({type(dataset).__name__}) has no __len__; the "
                        "engine samples, shards and counts map-style datasets by their length")
    return len(dataset)


def not_rebuildable_reason(loader: DataLoader[Any]) -> str | None:
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


def loader_shuffles(sampler: Sampler[Any] | Iterable[Any]) -> bool | None:
    """``True``/``False`` for a plain shuffling/sequential sampler, ``None`` for anything else.

    A `RandomSampler` drawing with replacement or a number of samples other than the
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
    loader: DataLoader[Any],
    sampler: Sampler[Any],
    *,
    generator: torch.Generator,
    pin_memory: bool,
    drop_last: bool | None = None,
    dataset: Dataset[Any] | None = None,
) -> DataLoader[Any]:
    """A DataLoader with every setting of ``loader`` but ``sampler`` and ``generator``.

    Parameters
    ----------
    loader : DataLoader
        A loader for which `not_rebuildable_reason` is ``None``.
    sampler : ResumableSampler
        The engine's sampler.
    generator : torch.Generator
        Draws the workers' base seed; the trainer re-seeds it every epoch.
    pin_memory : bool
        ``True`` switches pinning on (CUDA training); ``False`` keeps the loader's setting.
    drop_last : bool or None
        Overrides the loader's ``drop_last`` (evaluation keeps every sample).
    dataset : Dataset or None
        Replaces the loader's dataset (the per-sample seeding wrapper).
    """
    extra: dict[str, Any] = {}  # keywords of newer torch releases only
    if hasattr(loader, "in_order"):
        extra["in_order"] = loader.in_order
    return DataLoader(
        loader.dataset if dataset is None else dataset,
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
    loader: DataLoader[Any],
    *,
    shuffle: bool,
    seed: int,
    pin_memory: bool,
    drop_last: bool | None = None,
) -> tuple[DataLoader[Any], ResumableSampler, torch.Generator]:
    """``(rebuilt loader, its sampler, its generator)``, sharded over this process's ranks.

    ``loader`` must be rebuildable (`not_rebuildable_reason` is ``None``). With
    workers, every sample is loaded through `SampleSeededDataset`.
    """
    sampler = ResumableSampler(dataset_length(loader.dataset), shuffle=shuffle, seed=seed,
                               num_replicas=dist.get_world_size(), rank=dist.get_rank())
    generator = torch.Generator()
    if loader.num_workers > 0:
        rebuilt = rebuild_loader(loader, _EpochTagged(sampler), generator=generator,
                                 pin_memory=pin_memory, drop_last=drop_last,
                                 dataset=SampleSeededDataset(loader.dataset, seed))
    else:
        rebuilt = rebuild_loader(loader, sampler, generator=generator, pin_memory=pin_memory,
                                 drop_last=drop_last)
    return rebuilt, sampler, generator


def shard_loader(loader: DataLoader[Any], *, pin_memory: bool, generator: torch.Generator
                 ) -> DataLoader[Any]:
    """``loader`` rebuilt over this rank's unpadded `ShardSampler`, in order."""
    sampler = ShardSampler(dataset_length(loader.dataset), dist.get_world_size(), dist.get_rank())
    return rebuild_loader(loader, sampler, generator=generator, pin_memory=pin_memory,
                          drop_last=False)

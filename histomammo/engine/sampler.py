"""A seeded, resumable sampler: the engine's own shuffling, sharded like DistributedSampler.

The permutation of an epoch depends only on ``(seed, epoch)``, so a run that restarts from
a checkpoint visits exactly the samples an uninterrupted run would have visited next.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["ResumableSampler", "derive_seed", "stream_seed", "SHUFFLE_STREAM", "WORKER_STREAM",
           "EVALUATION_STREAM", "SAMPLE_STREAM"]


def derive_seed(seed: int, *keys: int) -> int:
    """Return a 63-bit seed mixed from ``seed`` and ``keys`` (e.g. an epoch and a stream id).

    ``numpy.random.SeedSequence`` mixes its entropy words, so ``(seed=0, epoch=1)`` and
    ``(seed=1, epoch=0)`` give unrelated seeds (``seed + epoch`` would give the same one).

    Parameters
    ----------
    seed : int
        Non-negative base seed.
    *keys : int
        Non-negative integers that select a stream (epoch, purpose, ...).

    Returns
    -------
    int
        A seed in ``[0, 2**63)``, suitable for ``torch.Generator.manual_seed``.

    Examples
    --------
    >>> derive_seed(0, 1) == derive_seed(0, 1), derive_seed(0, 1) == derive_seed(1, 0)
    (True, False)
    """
    words = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return int((int(words[0]) << 32 | int(words[1])) >> 1)


# The engine's random streams. Each seed is stream_seed(seed, stream, epoch, index): the
# stream comes first and the arity is fixed, because SeedSequence pads with zeros, so
# derive_seed(s, 2) equals derive_seed(s, 2, 0) and keys of varying length would collide.
SHUFFLE_STREAM, WORKER_STREAM, EVALUATION_STREAM, SAMPLE_STREAM = 0, 1, 2, 3


def stream_seed(seed: int, stream: int, epoch: int = 0, index: int = 0) -> int:
    """The seed of ``stream`` (one of the ``*_STREAM`` ids) for ``epoch`` and ``index``.

    Examples
    --------
    >>> len({stream_seed(0, s, 2) for s in range(4)} | {stream_seed(0, EVALUATION_STREAM)})
    5
    """
    return derive_seed(seed, stream, epoch, index)


class ResumableSampler(Sampler[int]):
    """Yield dataset indices for one epoch, shuffled from ``(seed, epoch)`` or in order.

    The permutation's generator is seeded with ``stream_seed(seed, SHUFFLE_STREAM, epoch)``,
    a stream of its own (the workers', the evaluation's and the samples' seeds are others).

    With ``num_replicas > 1`` the epoch's order (a permutation of ``range(num_samples)``,
    padded by repeating its head to a multiple of ``num_replicas``, exactly as
    `torch.utils.data.DistributedSampler` does) is dealt round-robin: rank ``r``
    gets ``order[r::num_replicas]``. Hence the ``t``-th batches of ``b`` samples of all
    ranks together hold ``order[t*b*R:(t+1)*b*R]``: the samples that one process with a
    batch of ``b*R`` would take as its ``t``-th batch.

    Position: `consumed` counts the samples of the current epoch (on this rank) that
    the consumer has already used; the consumer advances it with
    [`advance`][histomammo.engine.sampler.ResumableSampler.advance], and the
    next ``iter()`` starts after them.
    [`state_dict`][histomammo.engine.sampler.ResumableSampler.state_dict] is ``{"epoch",
    "consumed"}``.

    Parameters
    ----------
    num_samples : int
        Length of the dataset.
    shuffle : bool
        Random permutation per epoch, or ``0, 1, 2, ...``.
    seed : int
        Base seed of the permutations.
    num_replicas, rank : int
        World size and this process's rank (1 and 0 outside distributed training).

    Examples
    --------
    >>> sampler = ResumableSampler(10, shuffle=True, seed=0)
    >>> sampler.set_epoch(3)
    >>> order = list(sampler)
    >>> sampler.advance(4)
    >>> list(sampler) == order[4:], sampler.state_dict()
    (True, {'epoch': 3, 'consumed': 4})
    >>> single = list(ResumableSampler(8, True, 0))
    >>> shards = [list(ResumableSampler(8, True, 0, num_replicas=2, rank=r)) for r in (0, 1)]
    >>> sorted(shards[0][:2] + shards[1][:2]) == sorted(single[:4])
    True
    """

    def __init__(
        self,
        num_samples: int,
        shuffle: bool,
        seed: int = 0,
        *,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, but got {num_samples}")
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(
                f"need num_replicas >= 1 and 0 <= rank < num_replicas, "
                f"but got num_replicas={num_replicas}, rank={rank}"
            )
        self.num_samples = int(num_samples)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.consumed = 0

    @property
    def shard_size(self) -> int:
        """Number of indices this rank draws per epoch (padding included)."""
        return math.ceil(self.num_samples / self.num_replicas)

    def __len__(self) -> int:
        return self.shard_size - min(self.consumed, self.shard_size)

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` and start it from its first sample."""
        self.epoch = int(epoch)
        self.consumed = 0

    def advance(self, count: int) -> None:
        """Record that ``count`` more samples of this epoch have been consumed."""
        self.consumed = min(self.consumed + int(count), self.shard_size)

    def epoch_order(self) -> list[int]:
        """This rank's full index list for the current epoch (ignores `consumed`)."""
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(stream_seed(self.seed, SHUFFLE_STREAM, self.epoch))
            order = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = list(range(self.num_samples))
        padding = self.shard_size * self.num_replicas - self.num_samples
        if padding and order:
            order += (order * math.ceil(padding / len(order)))[:padding]
        return order[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        # The slice is taken now, not lazily: the DataLoader calls iter() once per epoch and
        # the consumer advances ``consumed`` while the iterator runs.
        return iter(self.epoch_order()[self.consumed :])

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch": int, "consumed": int}``: where the next ``iter()`` starts."""
        return {"epoch": self.epoch, "consumed": self.consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a position saved by
        [`state_dict`][histomammo.engine.sampler.ResumableSampler.state_dict]."""
        self.epoch = int(state["epoch"])
        self.consumed = int(state["consumed"])

"""What a callback sees of the trainer: `TrainerView`, a small documented surface.

The loop hands callbacks this view, never the [`Trainer`][histomammo.engine.Trainer], so a
callback can only reach what is listed here, and "where training stands" is read from
the one `Progress` object.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from histomammo.engine import distributed as dist
from histomammo.engine._progress import Progress

__all__ = ["TrainerView"]


class TrainerView:
    """The trainer as its callbacks see it.

    Attributes
    ----------
    model : nn.Module
        The user's module (never the DistributedDataParallel wrapper).
    optimizer, scheduler
        As given to the trainer; a callback may change learning rates and
        ``requires_grad``.
    device : torch.device
    seed : int
        The run's seed.
    checkpoint_dir : Path or None
    epoch, global_step, batch_in_epoch : int
        The current epoch (0-based), optimizer steps taken, and the epoch's micro-batches
        already done (non-zero in ``on_epoch_start`` of a run resumed mid-epoch).
    history : list of dict
        The per-epoch rows so far.
    stop_training : bool
        Set it to ``True`` to end ``fit`` after the current epoch (reduced over ranks: one
        rank asking stops all).
    is_main_process : bool
        ``True`` on rank 0 and in a single-process run.
    """

    def __init__(self, *, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                 device: torch.device, seed: int, checkpoint_dir: Path | None,
                 progress: Progress, save: Callable[[Any], Path]) -> None:
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.device, self.seed, self.checkpoint_dir = device, seed, checkpoint_dir
        self._progress, self._save = progress, save

    @property
    def epoch(self) -> int:
        return self._progress.epoch

    @property
    def global_step(self) -> int:
        return self._progress.global_step

    @property
    def batch_in_epoch(self) -> int:
        return self._progress.batch_in_epoch

    @property
    def history(self) -> list[dict[str, Any]]:
        return self._progress.history

    @property
    def stop_training(self) -> bool:
        return self._progress.stopped

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        self._progress.stopped = bool(value)

    @property
    def is_main_process(self) -> bool:
        return dist.is_main_process()

    def save_checkpoint(self, path: Any) -> Path:
        """Write a full, atomic, resumable checkpoint to ``path`` (this process only)."""
        return self._save(path)

"""Callbacks: small objects whose hooks :class:`~histomammo.engine.Trainer` calls during ``fit``.

The contract between the trainer and a callback
-----------------------------------------------
Hooks are called in the order the callbacks were given, on every rank (a callback that
writes files checks ``trainer.is_main_process``). A callback may read and use these
attributes of the trainer:

``trainer.model``
    the user's module (never the DistributedDataParallel wrapper).
``trainer.optimizer``, ``trainer.scheduler``
    as given to the trainer; a callback may change learning rates and ``requires_grad``.
``trainer.epoch``, ``trainer.global_step``
    the current epoch (0-based) and the number of optimizer steps taken so far.
``trainer.history``
    list of the per-epoch dicts produced so far.
``trainer.checkpoint_dir``
    :class:`pathlib.Path` or ``None``.
``trainer.is_main_process``
    ``True`` on rank 0 (and in a single-process run).
``trainer.stop_training``
    set it to ``True`` to end ``fit`` after the current epoch.
``trainer.save_checkpoint(path)``
    write a full, atomic, resumable checkpoint to ``path``.

Order within ``fit``: ``on_fit_start`` → per epoch ``on_epoch_start`` → per optimizer step
``on_batch_end`` (after the step, before any periodic checkpoint, so a callback that raises
keeps the last checkpoint good) → validation → ``on_epoch_end`` (``logs`` is the history
row; a callback may add keys to it) → end-of-epoch checkpoint (it stores every callback's
``state_dict``) → ``on_fit_end``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from histomammo.engine.trainer import Trainer

__all__ = ["Callback"]


class Callback:
    """Base class: override the hooks you need; every hook does nothing by default.

    Examples
    --------
    >>> class PrintEpoch(Callback):
    ...     def on_epoch_end(self, trainer, logs):
    ...         print(logs["epoch"])
    """

    def on_fit_start(self, trainer: Trainer) -> None:
        """Called once when ``fit`` starts, after any resume has been restored."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Called before the first batch of ``epoch`` (also when resuming mid-epoch)."""

    def on_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        """Called after each optimizer step; ``logs`` holds ``loss``, each loss term and ``lr``."""

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        """Called after validation with the epoch's history row (mutable)."""

    def on_fit_end(self, trainer: Trainer) -> None:
        """Called once when ``fit`` returns normally."""

    def state_dict(self) -> dict[str, Any]:
        """State saved in every checkpoint (tensors, numbers, strings, lists, dicts only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

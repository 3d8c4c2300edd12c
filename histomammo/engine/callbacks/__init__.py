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


from histomammo.engine.callbacks._base import Callback
from histomammo.engine.callbacks._logging import CSVLogger, LRMonitor
from histomammo.engine.callbacks._monitored import BestCheckpoint, EarlyStopping
from histomammo.engine.callbacks._nan_guard import NaNGuard
from histomammo.engine.callbacks._staged import Stage, StagedUnfreeze

__all__ = [
    "Callback",
    "BestCheckpoint",
    "EarlyStopping",
    "CSVLogger",
    "LRMonitor",
    "Stage",
    "StagedUnfreeze",
    "NaNGuard",
]

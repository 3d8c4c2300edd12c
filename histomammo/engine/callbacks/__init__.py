"""Callbacks: small objects whose hooks [`Trainer`][histomammo.engine.Trainer] calls during ``fit``.

The contract between the trainer and a callback
-----------------------------------------------
Hooks are called in the order the callbacks were given, on every rank (a callback that
writes files checks ``trainer.is_main_process``). The ``trainer`` a hook receives is a
small view of the trainer (`histomammo.engine._view.TrainerView`), and these are all
its attributes:

- ``trainer.model``: the user's module (never the DistributedDataParallel wrapper).
- ``trainer.optimizer``, ``trainer.scheduler``: as given to the trainer; a callback may change
  learning rates and ``requires_grad``.
- ``trainer.epoch``, ``trainer.global_step``, ``trainer.batch_in_epoch``: the current epoch
  (0-based), the number of optimizer steps taken so far, and the epoch's micro-batches already
  done (non-zero in ``on_epoch_start`` of a run resumed mid-epoch).
- ``trainer.device``, ``trainer.seed``: the training device and the run's seed.
- ``trainer.history``: list of the per-epoch dicts produced so far.
- ``trainer.checkpoint_dir``: `pathlib.Path` or ``None``.
- ``trainer.is_main_process``: ``True`` on rank 0 (and in a single-process run).
- ``trainer.stop_training``: set it to ``True`` to end ``fit`` after the current epoch; under
  DDP the decision is reduced over ranks after ``on_epoch_end`` (one rank asking stops all).
- ``trainer.save_checkpoint(path)``: write a full, atomic, resumable checkpoint to ``path``.

Order within ``fit``: ``on_fit_start`` → per epoch ``on_epoch_start`` → per optimizer step
``on_batch_end`` (after the step, before any periodic checkpoint, so a callback that raises
keeps the last checkpoint good) → validation → ``on_epoch_end`` (``logs`` is the history
row; a callback may add keys to it; values are converted to Python numbers afterwards) →
end-of-epoch checkpoint (it stores every callback's ``state_dict`` under its
``state_key``) → ``on_fit_end``.
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

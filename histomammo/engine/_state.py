"""What a trainer checkpoint holds, and putting it back.

Entries (all loadable with ``torch.load(..., weights_only=True)``):

``format``            ``"histomammo.engine.checkpoint/1"``
``model``             ``model.state_dict()`` (the user's module, never the DDP wrapper)
``optimizer``         ``optimizer.state_dict()``
``scheduler``         ``scheduler.state_dict()`` or ``None``
``scaler``            ``GradScaler.state_dict()`` or ``None`` (float16 AMP only)
``epoch``             the epoch to run next (0-based); mid-epoch, the epoch in progress
``batch_in_epoch``    micro-batches of ``epoch`` already consumed
``global_step``       optimizer steps taken
``sampler``           ``{"epoch", "consumed"}`` of the engine's sampler, or ``None``
``epoch_sums``        sample-weighted loss sums and sample count of the epoch so far
``epoch_seconds``     seconds spent in the epoch so far
``history``           the per-epoch rows so far
``callbacks``         ``[{"name": class name, "state": callback.state_dict()}, ...]``
``rng``               per rank: python, numpy, torch and CUDA generator states
``world_size``        number of ranks that wrote it
``stopped``           ``trainer.stop_training`` (an early-stopped run stays finished)
``seed``              the trainer's seed
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from histomammo.engine import distributed as dist
from histomammo.engine._rng import restore_rng_state
from histomammo.engine.checkpoint import load_checkpoint
from histomammo.errors import CheckpointError

if TYPE_CHECKING:
    from histomammo.engine.trainer import Trainer

__all__ = ["FORMAT", "trainer_state", "restore_trainer_state", "resume_from_newest"]

FORMAT = "histomammo.engine.checkpoint/1"
_REQUIRED = ("format", "model", "optimizer", "epoch", "batch_in_epoch", "global_step",
             "history", "callbacks", "rng")


def trainer_state(trainer: Trainer, rng_states: list[dict[str, Any]]) -> dict[str, Any]:
    """The checkpoint of ``trainer`` with the given per-rank generator states.

    Inside ``on_epoch_end`` (the epoch's row is already in the history) the checkpoint
    says "the next epoch, from its start", so resuming from it never repeats the epoch.
    """
    done = trainer.epoch_done
    sampler = trainer.sampler
    mid_epoch = trainer.batch_in_epoch > 0 and not done
    position = sampler.consumed if sampler is not None and mid_epoch else 0
    return {
        "format": FORMAT,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "scaler": trainer.scaler.state_dict() if trainer.scaler is not None else None,
        "epoch": trainer.epoch + int(done),
        "batch_in_epoch": trainer.batch_in_epoch if mid_epoch else 0,
        "global_step": trainer.global_step,
        "sampler": None if sampler is None else {
            "epoch": trainer.epoch + int(done), "consumed": position},
        "epoch_sums": dict(trainer.epoch_sums) if mid_epoch else {},
        "epoch_seconds": trainer.epoch_seconds if mid_epoch else 0.0,
        "history": [dict(row) for row in trainer.history],
        "callbacks": [
            {"name": type(cb).__qualname__, "state": cb.state_dict()} for cb in trainer.callbacks
        ],
        "rng": rng_states,
        "world_size": dist.get_world_size(),
        "stopped": bool(trainer.stop_training),
        "seed": trainer.seed,
    }


def restore_trainer_state(
    trainer: Trainer, state: dict[str, Any], path: Path, *, model_only: bool = False
) -> None:
    """Load ``state`` (from :func:`trainer_state`) into ``trainer``.

    Raises
    ------
    CheckpointError
        Missing entries, model keys that do not match, or states the optimizer, scheduler
        or scaler refuse.
    """
    missing = [key for key in (("model",) if model_only else _REQUIRED) if key not in state]
    if missing:
        raise CheckpointError(
            f"{path}: not a trainer checkpoint: missing entries {missing}; found {sorted(state)}"
        )
    _load_model(trainer, state["model"], path)
    if model_only:
        return
    try:
        trainer.optimizer.load_state_dict(state["optimizer"])
        if trainer.scheduler is not None and state.get("scheduler") is not None:
            trainer.scheduler.load_state_dict(state["scheduler"])
        if trainer.scaler is not None and state.get("scaler") is not None:
            trainer.scaler.load_state_dict(state["scaler"])
    except (ValueError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"{path}: optimizer/scheduler state does not fit: {err}") from err
    trainer.epoch = int(state["epoch"])
    trainer.global_step = int(state["global_step"])
    trainer.history = [dict(row) for row in state["history"]]
    trainer.stop_training = bool(state.get("stopped", False))
    _restore_position(trainer, state, path)
    _restore_callbacks(trainer, state["callbacks"], path)
    rng = state["rng"]
    restore_rng_state(rng[dist.get_rank()] if len(rng) == dist.get_world_size() else rng[0])


def _load_model(trainer: Trainer, weights: dict[str, Any], path: Path) -> None:
    expected = set(trainer.model.state_dict())
    found = set(weights)
    if expected != found:
        raise CheckpointError(
            f"{path}: model keys do not match this model: missing {sorted(expected - found)}, "
            f"unexpected {sorted(found - expected)}"
        )
    try:
        trainer.model.load_state_dict(weights)
    except RuntimeError as err:  # shape mismatches
        raise CheckpointError(f"{path}: model weights do not fit this model: {err}") from err


def _restore_position(trainer: Trainer, state: dict[str, Any], path: Path) -> None:
    """Mid-epoch position; a different world size restarts the epoch (shards differ)."""
    trainer.batch_in_epoch = int(state["batch_in_epoch"])
    trainer.epoch_sums = dict(state.get("epoch_sums", {}))
    trainer.epoch_seconds_before = float(state.get("epoch_seconds", 0.0))
    trainer.sampler_state = state.get("sampler")
    saved_world = int(state.get("world_size", 1))
    if trainer.batch_in_epoch and saved_world != dist.get_world_size():
        warnings.warn(
            f"{path} was written by {saved_world} rank(s), this run has "
            f"{dist.get_world_size()}: epoch {trainer.epoch} restarts from its beginning",
            UserWarning, stacklevel=4,
        )
        trainer._restart_epoch_progress()
        trainer.sampler_state = None


def _restore_callbacks(trainer: Trainer, saved: list[dict[str, Any]], path: Path) -> None:
    """Match saved states to callbacks by position and class name."""
    for index, callback in enumerate(trainer.callbacks):
        name = type(callback).__qualname__
        if index < len(saved) and saved[index]["name"] == name:
            callback.load_state_dict(saved[index]["state"])
        else:
            warnings.warn(
                f"{path}: no saved state for callback #{index} ({name}); it starts afresh",
                UserWarning, stacklevel=4,
            )


def resume_from_newest(trainer: Trainer, paths: list[Path]) -> Path:
    """Restore the newest loadable checkpoint among ``paths`` (newest first).

    Unreadable files (truncated, corrupt, unsafe) are skipped with a warning; a readable
    checkpoint that does not fit the trainer raises, since falling back to an older one
    would hide the mismatch.

    Raises
    ------
    CheckpointError
        No file can be loaded, or the newest loadable one does not fit.
    """
    for path in paths:
        try:
            state = load_checkpoint(path, map_location="cpu")
        except CheckpointError as err:
            warnings.warn(f"skipping checkpoint that cannot be loaded: {err}", UserWarning,
                          stacklevel=4)
            continue
        restore_trainer_state(trainer, state, path)
        return path
    raise CheckpointError(
        f"{paths[0].parent}: none of the {len(paths)} checkpoint files could be loaded "
        "(see the warnings); move them away to start afresh"
    )

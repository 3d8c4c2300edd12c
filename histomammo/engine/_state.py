"""What a trainer checkpoint holds, checking it against the run, and putting it back.

Entries (all loadable with ``torch.load(..., weights_only=True)``):

``format``            ``"histomammo.engine.checkpoint/2"``
``model``             ``model.state_dict()`` (the user's module, never the DDP wrapper)
``optimizer``         ``optimizer.state_dict()``
``scheduler``         ``scheduler.state_dict()`` or ``None``
``scaler``            ``GradScaler.state_dict()`` or ``None`` (float16 AMP only)
``epoch``, ``batch_in_epoch``, ``global_step``, ``sampler``, ``epoch_sums``,
``epoch_seconds``, ``history``, ``stopped``
                      `Progress.state_dict`
``callbacks``         ``{callback.state_key: callback.state_dict()}``
``rng``               per rank: python, numpy, torch and CUDA generator states
``world_size``        number of ranks that wrote it
``seed``              the run's seed

Loading is all-or-nothing: `check_state` validates every entry against the run
before `apply_state` changes anything.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from histomammo.engine import distributed as dist
from histomammo.engine._progress import Progress
from histomammo.engine._rng import restore_rng_state
from histomammo.engine._step import OptimizationStep
from histomammo.errors import CheckpointError

__all__ = ["FORMAT", "run_state", "check_state", "apply_state", "callback_states"]

FORMAT = "histomammo.engine.checkpoint/2"
_REQUIRED = ("model", "optimizer", "epoch", "batch_in_epoch", "global_step", "history",
             "callbacks", "rng")


def callback_states(callbacks: Sequence[Any]) -> dict[str, Any]:
    """``{state_key: state_dict()}``; a key used twice gets ``#1``, ``#2``, ... appended."""
    return {key: callback.state_dict() for key, callback in _keyed(callbacks)}


def _keyed(callbacks: Sequence[Any]) -> list[tuple[str, Any]]:
    seen: dict[str, int] = {}
    keyed = []
    for callback in callbacks:
        key = str(getattr(callback, "state_key", type(callback).__qualname__))
        count = seen.get(key, 0)
        seen[key] = count + 1
        keyed.append((key if count == 0 else f"{key}#{count}", callback))
    return keyed


def run_state(step: OptimizationStep, scheduler: Any, progress: Progress,
              callbacks: Sequence[Any], seed: int) -> dict[str, Any]:
    """The checkpoint of a run, without ``rng`` (the checkpointer adds every rank's)."""
    return {
        "format": FORMAT,
        **step.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        **progress.state_dict(),
        "callbacks": callback_states(callbacks),
        "world_size": dist.get_world_size(),
        "seed": int(seed),
    }


def check_state(state: dict[str, Any], path: Path, model: torch.nn.Module,
                optimizer: torch.optim.Optimizer | None) -> None:
    """Raise CheckpointError unless ``state`` fits ``model`` (and ``optimizer``, unless
    ``None``: a weights-only load); nothing is changed."""
    required = ("model",) if optimizer is None else _REQUIRED
    missing = [key for key in required if key not in state]
    if missing:
        raise CheckpointError(
            f"{path}: not a trainer checkpoint: missing entries {missing}; found {sorted(state)}"
        )
    _check_model(state["model"], model, path)
    if optimizer is not None:
        _check_optimizer(state["optimizer"], optimizer, path)


def _check_model(weights: dict[str, Any], model: torch.nn.Module, path: Path) -> None:
    expected = model.state_dict()
    if set(expected) != set(weights):
        raise CheckpointError(
            f"{path}: model keys do not match this model: missing "
            f"{sorted(set(expected) - set(weights))}, unexpected {sorted(set(weights) - set(expected))}"
        )
    wrong = [f"{key}: saved {tuple(weights[key].shape)}, model {tuple(value.shape)}"
             for key, value in expected.items()
             if isinstance(value, torch.Tensor) and isinstance(weights[key], torch.Tensor)
             and weights[key].shape != value.shape]
    if wrong:
        raise CheckpointError(f"{path}: model weights do not fit this model: {wrong[:5]}")


def _check_optimizer(saved: Any, optimizer: torch.optim.Optimizer, path: Path) -> None:
    groups = optimizer.param_groups
    saved_groups = saved.get("param_groups", []) if isinstance(saved, dict) else []
    sizes = [len(group["params"]) for group in groups]
    saved_sizes = [len(group.get("params", ())) for group in saved_groups]
    if sizes != saved_sizes:
        raise CheckpointError(
            f"{path}: optimizer state does not fit: it has param groups of sizes "
            f"{saved_sizes}, this optimizer {sizes}"
        )
    params = [p for group in groups for p in group["params"]]
    ids = [i for group in saved_groups for i in group["params"]]
    for index, param in zip(ids, params, strict=True):
        for name, value in saved.get("state", {}).get(index, {}).items():
            if isinstance(value, torch.Tensor) and value.dim() and value.shape != param.shape:
                raise CheckpointError(
                    f"{path}: optimizer state does not fit: {name!r} of parameter {index} "
                    f"has shape {tuple(value.shape)}, the parameter {tuple(param.shape)}"
                )


def apply_state(state: dict[str, Any], path: Path, step: OptimizationStep, scheduler: Any,
                progress: Progress, callbacks: Sequence[Any]) -> None:
    """Put a checked full ``state`` back: callbacks first (rolled back if one refuses its
    state), then weights, optimizer, scheduler, scaler, position and generators."""
    _apply_callbacks(state["callbacks"], callbacks, path)
    step.model.load_state_dict(state["model"])
    step.optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if step.scaler is not None and state.get("scaler") is not None:
        step.scaler.load_state_dict(state["scaler"])
    progress.load_state_dict(state)
    saved_world = int(state.get("world_size", 1))
    if progress.mid_epoch and saved_world != dist.get_world_size():
        warnings.warn(
            f"{path} was written by {saved_world} rank(s), this run has "
            f"{dist.get_world_size()}: epoch {progress.epoch} restarts from its beginning",
            UserWarning, stacklevel=4,
        )
        progress.restart_epoch()
    rng = state["rng"]
    restore_rng_state(rng[dist.get_rank()] if len(rng) == dist.get_world_size() else rng[0])


def _apply_callbacks(saved: Any, callbacks: Sequence[Any], path: Path) -> None:
    """Match saved states by ``state_key`` (a list, from format 1, by position and class)."""
    if isinstance(saved, list):
        saved = {key: item["state"] for (key, callback), item
                 in zip(_keyed(callbacks), saved, strict=False)
                 if item.get("name") == type(callback).__qualname__}
    before = [(callback, callback.state_dict()) for callback in callbacks]
    try:
        for key, callback in _keyed(callbacks):
            if key in saved:
                callback.load_state_dict(saved[key])
            else:
                warnings.warn(f"{path}: no saved state for callback {key}; it starts afresh",
                              UserWarning, stacklevel=5)
    except BaseException:
        for callback, state in before:
            callback.load_state_dict(state)
        raise

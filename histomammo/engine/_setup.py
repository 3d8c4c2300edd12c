"""The Trainer's set-up helpers: argument checks, the default seed, where a bar can show."""

from __future__ import annotations

import sys

import torch

from histomammo.engine import distributed as dist
from histomammo.engine._bar import in_jupyter_kernel

__all__ = ["check_arguments", "draw_seed", "can_show_a_bar"]


def can_show_a_bar() -> bool:
    """A terminal on stderr, or a Jupyter kernel (a widget there with ipywidgets)."""
    if sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
        return True
    return in_jupyter_kernel()


def draw_seed() -> int:
    """A seed from torch's global generator, rank 0's under DDP (so every rank agrees)."""
    seed = int(torch.randint(0, 2**62, (), dtype=torch.int64).item())
    return int(dist.all_gather_objects(seed)[0])


def check_arguments(scheduler: object, scheduler_step: str, grad_clip: float | None,
                    accumulate: int, seed: int | None, checkpoint_every: int | None,
                    keep_last: int, prepare_batch: object) -> None:
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch' or 'batch', but got {scheduler_step!r}")
    if scheduler_step == "batch" and isinstance(
        scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau
    ):
        raise ValueError("ReduceLROnPlateau needs scheduler_step='epoch' (it monitors val_loss)")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be > 0 or None, but got {grad_clip!r}")
    if not isinstance(accumulate, int) or accumulate < 1:
        raise ValueError(f"accumulate must be an int >= 1, but got {accumulate!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"seed must be a non-negative int or None, but got {seed!r}")
    if prepare_batch is not None and not callable(prepare_batch):
        raise TypeError(f"prepare_batch must be callable or None, but got {prepare_batch!r}")
    if checkpoint_every is not None and (not isinstance(checkpoint_every, int)
                                         or checkpoint_every < 1):
        raise ValueError(f"checkpoint_every must be an int >= 1 or None, but got {checkpoint_every!r}")
    if not isinstance(keep_last, int) or keep_last < 1:
        raise ValueError(f"keep_last must be an int >= 1, but got {keep_last!r}")

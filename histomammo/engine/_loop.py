"""The body of :meth:`Trainer.fit`: one epoch, one micro-batch, one optimizer step.

Order (the callback contract): ``on_epoch_start`` → per optimizer step ``on_batch_end``
then the periodic checkpoint → validation and the epoch's scheduler step → the history
row is appended → ``on_epoch_end`` → end-of-epoch checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import torch

from histomammo.engine import distributed as dist
from histomammo.engine._amp import backward, optimizer_step
from histomammo.engine._batch import batch_size, move_to_device, split_batch, sum_loss_terms
from histomammo.engine.sampler import derive_seed

if TYPE_CHECKING:
    from histomammo.engine.trainer import Trainer

__all__ = ["run_epoch"]

logger = logging.getLogger("histomammo")

WORKER_SEED_STREAM = 1  # derive_seed(seed, epoch, 1) seeds the DataLoader's generator


def run_epoch(trainer: Trainer, loader, generator, epochs: int, val_loader, metrics) -> None:
    """Train epoch ``trainer.epoch`` (from where a resume left it), validate, checkpoint."""
    _position_sampler(trainer, generator)
    for callback in trainer.callbacks:
        callback.on_epoch_start(trainer, trainer.epoch)
    trainer._epoch_clock = time.perf_counter()
    _train_batches(trainer, loader, epochs)
    row = _epoch_row(trainer, val_loader, metrics)
    trainer.history.append(row)
    trainer.epoch_done = True
    for callback in trainer.callbacks:
        callback.on_epoch_end(trainer, row)
    trainer.epoch += 1
    trainer.epoch_done = False
    trainer._restart_epoch_progress()
    if trainer.checkpoint_dir is not None:
        trainer._write_periodic_checkpoint()


def _position_sampler(trainer: Trainer, generator) -> None:
    """Point the sampler at this epoch, after the samples a resumed run already used."""
    saved, trainer.sampler_state = trainer.sampler_state, None
    resuming = trainer.batch_in_epoch > 0
    if trainer.sampler is not None:
        generator.manual_seed(derive_seed(trainer.seed, trainer.epoch, WORKER_SEED_STREAM))
        trainer.sampler.set_epoch(trainer.epoch)
        if resuming and saved is not None and saved["epoch"] == trainer.epoch:
            trainer.sampler.load_state_dict(saved)
            return
    if resuming:
        trainer._warn_once("resuming at the start of the epoch: the loader cannot resume")
    trainer._restart_epoch_progress()


def _train_batches(trainer: Trainer, loader, epochs: int) -> None:
    module = trainer._training_module()
    module.train()
    remaining = _length(loader)
    total = None if remaining is None else trainer.batch_in_epoch + remaining
    bar = trainer._progress_bar(total, epochs)
    group: list[tuple[torch.Tensor, int]] = []
    keys: list[str] = []
    for batch in loader:
        index = trainer.batch_in_epoch
        last = total is not None and index + 1 == total
        final = (index + 1) % trainer.accumulate == 0 or last
        values, count, keys = _micro_step(
            trainer, module, batch, _group_size(index, trainer.accumulate, total), final
        )
        group.append((values, count))
        trainer.batch_in_epoch += 1
        if trainer.sampler is not None:
            trainer.sampler.advance(loader.batch_size)
        bar.update(1)
        if final:
            _after_step(trainer, _step(trainer, group, keys), bar, last)
            group = []
    if group:  # a loader without a length ended inside an accumulation group
        _after_step(trainer, _step(trainer, group, keys), bar, last=True)
    bar.close()


def _length(loader) -> int | None:
    """Batches the loader will yield, or ``None`` when it cannot tell (IterableDataset)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _group_size(index: int, accumulate: int, total: int | None) -> int:
    """Micro-batches in the accumulation group of micro-batch ``index`` (the last is short)."""
    start = index - index % accumulate
    return accumulate if total is None else min(accumulate, total - start)


def _micro_step(trainer: Trainer, module, batch, group_size: int, final: bool):
    """Forward and backward one micro-batch; return its loss values, sample count and keys.

    Under DDP the gradients of all but the group's last micro-batch stay local
    (``no_sync``); the last one's backward all-reduces the accumulated sum.
    """
    inputs, targets = split_batch(batch)
    non_blocking = trainer.device.type == "cuda"
    inputs = move_to_device(inputs, trainer.device, non_blocking)
    targets = move_to_device(targets, trainer.device, non_blocking)
    sync = final or not hasattr(module, "no_sync")
    with contextlib.nullcontext() if sync else module.no_sync():
        with trainer._autocast():
            if trainer.loss_fn is None:
                total, terms = sum_loss_terms(module(inputs, targets), "the model (loss_fn=None)")
            else:
                total, terms = sum_loss_terms(trainer.loss_fn(module(inputs), targets), "loss_fn")
        backward(total / group_size if group_size > 1 else total, trainer.scaler)
    keys = ["loss", *sorted(terms)]
    # One small tensor per micro-batch, read back once per optimizer step (in _step).
    values = torch.stack([total.detach(), *(terms[k].detach() for k in keys[1:])]).float()
    return values, batch_size(inputs), keys


def _step(trainer: Trainer, group: list, keys: list[str]) -> dict[str, float]:
    """Optimizer (and per-batch scheduler) step; add the group's sample-weighted loss sums
    to the epoch's; return the step's logs."""
    optimizer_step(trainer.optimizer, trainer.scaler, trainer.model.parameters(),
                   trainer.grad_clip)
    trainer.global_step += 1
    if trainer.scheduler is not None and trainer.scheduler_step == "batch":
        trainer.scheduler.step()
    rows = torch.stack([values for values, _ in group]).tolist()  # one device sync per step
    counts = [count for _, count in group]
    samples = sum(counts)
    sums = [sum(row[i] * n for row, n in zip(rows, counts, strict=True)) for i in range(len(keys))]
    for key, value in zip([*keys, "samples"], [*sums, samples], strict=True):
        trainer.epoch_sums[key] = trainer.epoch_sums.get(key, 0.0) + value
    logs = {key: value / samples for key, value in zip(keys, sums, strict=True)}
    logs["lr"] = float(trainer.optimizer.param_groups[0]["lr"])
    return logs


def _after_step(trainer: Trainer, logs: dict[str, float], bar, last: bool) -> None:
    """Progress, ``on_batch_end``, then the periodic checkpoint (never at epoch end)."""
    if not bar.disable:
        rate = trainer.epoch_sums["samples"] / max(trainer.epoch_seconds, 1e-9)
        bar.set_postfix(loss=f"{logs['loss']:.4g}", samples_per_s=f"{rate:.1f}", refresh=False)
    for callback in trainer.callbacks:
        callback.on_batch_end(trainer, logs)
    every = trainer.checkpoint_every
    if trainer.checkpoint_dir is not None and every and trainer.global_step % every == 0 \
            and not last:
        trainer._write_periodic_checkpoint()


def _epoch_row(trainer: Trainer, val_loader, metrics) -> dict[str, Any]:
    """The history row: epoch means reduced over ranks, validation, scheduler step."""
    sums = trainer.epoch_sums
    keys = sorted(k for k in sums if k != "samples")
    totals = torch.tensor([sums[k] for k in keys] + [sums.get("samples", 0.0)],
                          dtype=torch.float64, device=trainer._reduce_device)
    totals = dist.all_reduce_sum(totals).tolist()
    row: dict[str, Any] = {
        "epoch": trainer.epoch,
        "step": trainer.global_step,
        "lr": float(trainer.optimizer.param_groups[0]["lr"]),
    }
    if totals[-1]:
        row.update({key: value / totals[-1] for key, value in zip(keys, totals, strict=False)})
    if val_loader is not None:
        scores = trainer.evaluate(val_loader, metrics)
        row.update({f"val_{name}": value for name, value in scores.items()})
    _step_epoch_scheduler(trainer, row)
    row["seconds"] = trainer.epoch_seconds
    if not trainer._progress_enabled() and trainer.is_main_process:
        logger.info("epoch %d: %s", trainer.epoch, _format_row(row))
    return row


def _step_epoch_scheduler(trainer: Trainer, row: dict[str, Any]) -> None:
    """ReduceLROnPlateau gets ``val_loss`` (the train ``loss`` without validation)."""
    scheduler = trainer.scheduler
    if scheduler is None or trainer.scheduler_step != "epoch":
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(row.get("val_loss", row.get("loss")))
    else:
        scheduler.step()


def _format_row(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())

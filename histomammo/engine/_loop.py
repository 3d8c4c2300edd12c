"""The body of ``fit``: one epoch, its micro-batches and optimizer steps, over the engine's
pieces (`FitRun`); it never sees the Trainer.

Order (the callback contract): ``on_epoch_start`` → per optimizer step ``on_batch_end``
then the periodic checkpoint → validation and the epoch's scheduler step → the history
row is appended → ``on_epoch_end`` → the stop decision is reduced over ranks →
end-of-epoch checkpoint.

The position (`Progress`) moves only when an
optimizer step completes, and any exception drops the half-accumulated gradients, so an
interrupted ``fit`` leaves the run exactly at its last optimizer step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from histomammo.engine import distributed as dist
from histomammo.engine._bar import epoch_bar
from histomammo.engine._checkpointer import Checkpointer
from histomammo.engine._evaluate import evaluate
from histomammo.engine._progress import Progress
from histomammo.engine._step import OptimizationStep
from histomammo.engine._view import TrainerView
from histomammo.engine.sampler import WORKER_STREAM, ResumableSampler, stream_seed

__all__ = ["FitRun", "run_epoch"]

logger = logging.getLogger("histomammo")


@dataclass
class FitRun:
    """The pieces one ``fit`` works with."""

    progress: Progress
    step: OptimizationStep
    scheduler: Any
    scheduler_step: str
    callbacks: list[Any]
    view: TrainerView
    seed: int
    checkpointer: Checkpointer | None
    checkpoint_every: int | None
    state: Callable[[], dict[str, Any]]  # the checkpoint of the run (without rng)
    show_progress: bool
    warn: Callable[[str], None]


def run_epoch(run: FitRun, loader: Any, sampler: ResumableSampler | None,
              generator: torch.Generator | None, epochs: int, val_loader: Any,
              metrics: Mapping[str, Callable[[Any, Any], Any]] | None) -> None:
    """Train epoch ``progress.epoch`` (from where it stands), validate, checkpoint."""
    progress = run.progress
    _position_sampler(run, sampler, generator)
    for callback in run.callbacks:
        callback.on_epoch_start(run.view, progress.epoch)
    progress.start_clock()
    try:
        _train_batches(run, loader, epochs)
        row = _epoch_row(run, val_loader, metrics)
    except BaseException:
        progress.stop_clock()
        raise
    progress.finish_epoch(row)
    try:
        for callback in run.callbacks:
            callback.on_epoch_end(run.view, row)
    finally:  # the epoch is done and recorded whatever a callback does
        progress.stopped = dist.any_rank(progress.stopped)
        progress.next_epoch()
    if run.checkpointer is not None:
        run.checkpointer.write(progress.global_step, run.state)


def _position_sampler(run: FitRun, sampler: ResumableSampler | None,
                      generator: torch.Generator | None) -> None:
    """Point the sampler at this epoch, after the samples already used; a loader that
    cannot resume restarts an epoch that was left mid-way."""
    progress = run.progress
    if sampler is not None:
        if generator is not None:  # the engine's loader has both or neither
            generator.manual_seed(stream_seed(run.seed, WORKER_STREAM, progress.epoch))
        sampler.set_epoch(progress.epoch)
        if progress.mid_epoch and progress.resumable:
            sampler.advance(progress.consumed)
            return
    if progress.mid_epoch:
        run.warn("resuming at the start of the epoch: the loader cannot resume")
    progress.restart_epoch()
    progress.resumable = sampler is not None


def _train_batches(run: FitRun, loader: Any, epochs: int) -> None:
    progress, step = run.progress, run.step
    module = step.training_module()
    module.train()
    remaining = _length(loader)
    total = None if remaining is None else progress.batch_in_epoch + remaining
    bar = _progress_bar(run, total, epochs)
    samples_per_batch = getattr(loader, "batch_size", None) or 0
    accumulate = step.accumulate
    group: list[tuple[torch.Tensor, int, list[str]]] = []
    try:
        for index, batch, last in _batches(loader, progress.batch_in_epoch, total):
            final = (index + 1) % accumulate == 0 or last
            divisor = _group_size(index, accumulate, total)
            group.append(step.micro_step(module, batch, divisor, sync=final))
            bar.update(1)
            if final:
                if len(group) < divisor:  # the short last group of a loader without length
                    step.rescale_gradients(divisor / len(group))
                logs = _step(run, group, samples_per_batch)
                group = []
                _after_step(run, logs, bar, last)
    except BaseException:
        step.discard_gradients()
        raise
    finally:
        bar.close()


def _batches(loader: Any, start: int, total: int | None) -> Iterator[tuple[int, Any, bool]]:
    """``(index in epoch, batch, is last)``; a loader without a length is read one batch
    ahead so that its last micro-batch is known when it is processed."""
    if total is not None:
        for index, batch in enumerate(loader, start):
            yield index, batch, index + 1 == total
        return
    iterator = iter(loader)
    try:
        current = next(iterator)
    except StopIteration:
        return
    index = start
    for upcoming in iterator:
        yield index, current, False
        current, index = upcoming, index + 1
    yield index, current, True


def _length(loader: Any) -> int | None:
    """Batches the loader will yield, or ``None`` when it cannot tell (IterableDataset)."""
    try:
        return len(loader)
    except TypeError:
        return None


def _group_size(index: int, accumulate: int, total: int | None) -> int:
    """Micro-batches in the accumulation group of micro-batch ``index`` (the last is short);
    ``accumulate`` when the total is unknown (the step then rescales the gradients)."""
    start = index - index % accumulate
    return accumulate if total is None else min(accumulate, total - start)


def _step(run: FitRun, group: list[Any], samples_per_batch: int) -> dict[str, float]:
    """Optimizer (and per-batch scheduler) step; commit the group to the progress; return
    the step's logs."""
    run.step.step()
    keys = group[-1][2]
    rows = torch.stack([values for values, _, _ in group]).tolist()  # one sync per step
    counts = [count for _, count, _ in group]
    samples = sum(counts)
    sums = [sum(row[i] * n for row, n in zip(rows, counts, strict=True)) for i in range(len(keys))]
    run.progress.commit_step(len(group), len(group) * samples_per_batch,
                             dict(zip([*keys, "samples"], [*sums, samples], strict=True)))
    if run.scheduler is not None and run.scheduler_step == "batch":
        run.scheduler.step()
    logs = {key: value / samples for key, value in zip(keys, sums, strict=True)}
    logs["lr"] = float(run.step.optimizer.param_groups[0]["lr"])
    return logs


def _after_step(run: FitRun, logs: dict[str, float], bar: Any, last: bool) -> None:
    """Progress, ``on_batch_end``, then the periodic checkpoint (never at epoch end)."""
    progress = run.progress
    if not bar.disable:
        rate = progress.epoch_sums["samples"] / max(progress.epoch_seconds, 1e-9)
        bar.set_postfix(loss=f"{logs['loss']:.4g}", samples_per_s=f"{rate:.1f}", refresh=False)
    for callback in run.callbacks:
        callback.on_batch_end(run.view, logs)
    every = run.checkpoint_every
    if run.checkpointer is not None and every and progress.global_step % every == 0 \
            and not last:
        run.checkpointer.write(progress.global_step, run.state)


def _epoch_row(run: FitRun, val_loader: Any, metrics: Any) -> dict[str, Any]:
    """The history row: epoch means reduced over ranks, validation, scheduler step."""
    progress = run.progress
    sums = progress.epoch_sums
    keys = sorted(k for k in sums if k != "samples")
    totals = dist.all_reduce_sum(torch.tensor(
        [sums[k] for k in keys] + [sums.get("samples", 0.0)],
        dtype=torch.float64, device=dist.communication_device())).tolist()
    row: dict[str, Any] = {
        "epoch": progress.epoch,
        "step": progress.global_step,
        "lr": float(run.step.optimizer.param_groups[0]["lr"]),
    }
    if totals[-1]:
        row.update({key: value / totals[-1] for key, value in zip(keys, totals, strict=False)})
    if val_loader is not None:
        scores = evaluate(run.step, run.seed, val_loader, metrics or {})
        row.update({f"val_{name}": value for name, value in scores.items()})
    _step_epoch_scheduler(run, row)
    row["seconds"] = progress.epoch_seconds
    if not run.show_progress and dist.is_main_process():
        logger.info("epoch %d: %s", progress.epoch, _format_row(row))
    return row


def _step_epoch_scheduler(run: FitRun, row: dict[str, Any]) -> None:
    """ReduceLROnPlateau gets ``val_loss`` (the train ``loss`` without validation)."""
    scheduler = run.scheduler
    if scheduler is None or run.scheduler_step != "epoch":
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        loss = row.get("val_loss", row.get("loss"))
        if loss is None:
            raise ValueError("ReduceLROnPlateau needs a loss, but the epoch gave none (no "
                             "training or validation samples)")
        scheduler.step(loss)
    else:
        scheduler.step()


def _progress_bar(run: FitRun, total: int | None, epochs: int) -> Any:
    """The epoch's bar; it stays as the epoch's line when it closes (``_bar.epoch_bar``)."""
    return epoch_bar(total, run.progress.batch_in_epoch, f"epoch {run.progress.epoch + 1}/{epochs}",
                     enabled=run.show_progress)


def _format_row(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())

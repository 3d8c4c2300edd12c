"""Evaluation and prediction passes of the trainer, gathered across ranks under DDP."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.dropout import _DropoutNd
from torch.utils.data import DataLoader

from histomammo.engine import distributed as dist
from histomammo.engine._batch import (
    batch_size,
    concatenate,
    interleave,
    same_mapping,
    sum_loss_terms,
    to_python,
)
from histomammo.engine._loader import dataset_length, not_rebuildable_reason, shard_loader
from histomammo.engine._step import OptimizationStep
from histomammo.engine.sampler import EVALUATION_STREAM, stream_seed

__all__ = ["evaluate", "predict"]

_sharded_loaders: weakref.WeakKeyDictionary[DataLoader[Any], DataLoader[Any]] = weakref.WeakKeyDictionary()


def evaluate(step: OptimizationStep, seed: int, loader: DataLoader[Any],
             metrics: Mapping[str, Callable[[Any, Any], Any]]) -> dict[str, Any]:
    """See [`Trainer.evaluate`][histomammo.engine.trainer.Trainer.evaluate].

    Under DDP the loss is summed over every rank's samples, and the outputs and targets
    are gathered from every rank before any metric is computed, so every rank computes
    the same numbers (and so takes the same stop/save decisions).
    """
    loader, total = _evaluation_loader(step, seed, loader)
    sums = torch.zeros(2, dtype=torch.float64, device=step.device)  # weighted loss, samples
    outputs: list[Any] = []
    targets: list[Any] = []
    with _restore_mode(step.model), torch.no_grad():
        for batch in loader:
            inputs, target = step.inputs_and_targets(batch)
            with step.autocast():
                loss, output = _evaluation_pass(step, inputs, target, bool(metrics))
            if loss is not None:
                count = batch_size(inputs)
                sums += torch.stack([loss.detach().double() * count, sums.new_tensor(count)])
            if metrics:
                if target is None:
                    raise ValueError("metrics need targets, but the loader's batches have none")
                outputs.append(_to_cpu(output))
                targets.append(_to_cpu(target))
    loss_sum, samples = dist.all_reduce_sum(sums.to(dist.communication_device())).tolist()
    scores: dict[str, Any] = {"loss": loss_sum / samples} if samples else {}
    if metrics:
        all_outputs = _gather(concatenate(outputs), total, always=True)
        all_targets = _gather(concatenate(targets), total, always=True)
        for name, fn in metrics.items():
            scores[name] = to_python(fn(all_outputs, all_targets))
    return scores


def predict(step: OptimizationStep, seed: int, loader: DataLoader[Any]) -> Any:
    """See [`Trainer.predict`][histomammo.engine.trainer.Trainer.predict]."""
    loader, total = _evaluation_loader(step, seed, loader)
    outputs = []
    with _restore_mode(step.model), torch.no_grad():
        step.model.eval()
        for batch in loader:
            inputs, _ = step.inputs_and_targets(batch)
            with step.autocast():
                outputs.append(_to_cpu(step.model(inputs)))
    return _gather(concatenate(outputs), total, always=False)


def _evaluation_pass(step: OptimizationStep, inputs: Any, target: Any, want_outputs: bool
                     ) -> tuple[torch.Tensor | None, Any]:
    """``(loss or None, outputs or None)`` of one batch."""
    model = step.model
    if step.loss_fn is not None:
        model.eval()
        output = model(inputs)
        if target is None:
            return None, output
        return sum_loss_terms(step.loss_fn(output, target), "loss_fn")[0], output
    loss = None
    if target is not None:
        with _deterministic_train_mode(model):
            loss = sum_loss_terms(model(inputs, target), "the model (loss_fn=None)")[0]
    output = None
    if want_outputs:
        model.eval()
        output = model(inputs)
    return loss, output


@contextlib.contextmanager
def _deterministic_train_mode(model: nn.Module) -> Iterator[None]:
    """Train mode (so loss_fn=None models return losses) with norms and dropout in eval."""
    model.train()
    for module in model.modules():
        if isinstance(module, (_NormBase, _DropoutNd)):
            module.eval()
    yield


@contextlib.contextmanager
def _restore_mode(model: nn.Module) -> Iterator[None]:
    modes = {module: module.training for module in model.modules()}
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


def _to_cpu(value: Any) -> Any:
    """Detached CPU copy; float16/bfloat16 tensors become float32 (numpy-friendly)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.float() if value.dtype in (torch.float16, torch.bfloat16) else value
    if isinstance(value, Mapping):
        return same_mapping(value, {key: _to_cpu(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_to_cpu(item) for item in value)
    return value


def _evaluation_loader(step: OptimizationStep, seed: int, loader: DataLoader[Any]
                       ) -> tuple[Any, int | None]:
    """``(loader, dataset length)``: under DDP a plain loader is sharded in order across
    ranks without padding; otherwise ``(loader as given, None)``."""
    if not dist.is_distributed() or not_rebuildable_reason(loader) is not None:
        return loader, None
    sharded = _sharded_loaders.get(loader)
    if sharded is None:
        sharded = shard_loader(loader, pin_memory=step.device.type == "cuda",
                               generator=torch.Generator())
        _sharded_loaders[loader] = sharded
    sharded.generator.manual_seed(stream_seed(seed, EVALUATION_STREAM))
    return sharded, dataset_length(loader.dataset)


def _gather(local: Any, total: int | None, *, always: bool) -> Any:
    """All ranks' outputs: in dataset order when the engine sharded the loader; in rank
    order for a loader sharded by the user's own sampler when ``always``; else ``local``."""
    if total is not None:
        return interleave(dist.all_gather_objects(local), total)
    if always and dist.is_distributed():
        return concatenate(dist.all_gather_objects(local))
    return local

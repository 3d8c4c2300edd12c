"""The optimisation step: model (or its DDP wrapper), optimizer, scaler, autocast, clipping,
accumulation. The loop hands it micro-batches; it owns everything that touches gradients."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from histomammo.engine import distributed as dist
from histomammo.engine._amp import autocast, backward, optimizer_step
from histomammo.engine._batch import batch_size, move_to_device, split_batch, sum_loss_terms

__all__ = ["OptimizationStep"]


class OptimizationStep:
    """Forward/backward of micro-batches and the optimizer step they accumulate into.

    Parameters
    ----------
    model : nn.Module
        The user's module, on ``device``.
    optimizer : torch.optim.Optimizer
    loss_fn : callable or None
        ``loss_fn(outputs, targets)``; ``None``: ``model(inputs, targets)`` returns losses.
    device : torch.device
    autocast_dtype : torch.dtype or None
    scaler : torch.amp.GradScaler or None
    grad_clip : float or None
    accumulate : int
    prepare_batch : callable or None
        ``prepare_batch(batch) -> (inputs, targets)``.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Any,
                 device: torch.device, autocast_dtype: torch.dtype | None,
                 scaler: torch.amp.GradScaler | None, grad_clip: float | None,
                 accumulate: int, prepare_batch: Callable[[Any], tuple[Any, Any]] | None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.device, self.autocast_dtype, self.scaler = device, autocast_dtype, scaler
        self.grad_clip, self.accumulate, self.prepare_batch = grad_clip, accumulate, prepare_batch
        self._ddp: nn.Module | None = None
        self._ddp_signature: tuple[bool, ...] = ()

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """The forward pass's autocast context (a no-op without AMP)."""
        return autocast(self.device, self.autocast_dtype)

    def inputs_and_targets(self, batch: Any) -> tuple[Any, Any]:
        """``(inputs, targets)`` of ``batch``, on the device."""
        inputs, targets = split_batch(batch, self.prepare_batch)
        non_blocking = self.device.type == "cuda"
        return (move_to_device(inputs, self.device, non_blocking),
                move_to_device(targets, self.device, non_blocking))

    def training_module(self) -> nn.Module:
        """The model, wrapped in DDP under torch.distributed (re-wrapped when the set of
        trainable parameters changed, since DDP only synchronises parameters that
        required gradients when it was built)."""
        if not dist.is_distributed():
            return self.model
        signature = tuple(p.requires_grad for p in self.model.parameters())
        if self._ddp is None or signature != self._ddp_signature:
            self._ddp = None
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self._ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
            self._ddp_signature = signature
        return self._ddp

    def micro_step(self, module: nn.Module, batch: Any, divisor: int, sync: bool
                   ) -> tuple[torch.Tensor, int, list[str]]:
        """Forward and backward one micro-batch; return ``(loss values, samples, keys)``.

        The loss is divided by ``divisor`` (its accumulation group's size). Under DDP a
        micro-batch with ``sync=False`` keeps its gradients local (``no_sync``); the
        group's last one all-reduces the accumulated sum.
        """
        inputs, targets = self.inputs_and_targets(batch)
        if targets is None and self.loss_fn is not None:
            raise ValueError(
                "the training batches hold no targets (got inputs only); a dict batch needs "
                "a 'target', 'label' or 'mask' key, or pass Trainer(prepare_batch=...)"
            )
        no_sync = None if sync else getattr(module, "no_sync", None)
        with contextlib.nullcontext() if no_sync is None else no_sync():
            with self.autocast():
                if self.loss_fn is None:
                    total, terms = sum_loss_terms(module(inputs, targets),
                                                  "the model (loss_fn=None)")
                else:
                    total, terms = sum_loss_terms(self.loss_fn(module(inputs), targets),
                                                  "loss_fn")
            backward(total / divisor if divisor > 1 else total, self.scaler)
        keys = ["loss", *sorted(terms)]
        # One small tensor per micro-batch, read back once per optimizer step.
        values = torch.stack([total.detach(), *(terms[k].detach() for k in keys[1:])]).float()
        return values, batch_size(inputs), keys

    def rescale_gradients(self, factor: float) -> None:
        """Multiply every gradient by ``factor`` (a short group divided by ``accumulate``)."""
        for parameter in self.model.parameters():
            if parameter.grad is not None:
                parameter.grad.mul_(factor)

    def step(self) -> None:
        """Unscale, clip, step, update the scaler, zero the gradients."""
        optimizer_step(self.optimizer, self.scaler, self.model.parameters(), self.grad_clip)

    def discard_gradients(self) -> None:
        """Drop half-accumulated gradients (an interrupted group must not leak into a step)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.model.zero_grad(set_to_none=True)

    def state_dict(self) -> dict[str, Any]:
        """``{"model", "optimizer", "scaler"}`` (the module's state, never the wrapper's)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }

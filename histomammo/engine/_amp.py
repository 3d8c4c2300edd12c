"""Mixed precision and the optimizer step, following PyTorch's documented AMP recipe.

Recipe (https://pytorch.org/docs/stable/notes/amp_examples.html): forward under
``torch.autocast``; ``scaler.scale(loss).backward()``; before clipping,
``scaler.unscale_(optimizer)``; then ``scaler.step(optimizer)`` and ``scaler.update()``.
A scaler is only needed for float16; bfloat16 has float32's range.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable

import torch

__all__ = ["amp_setup", "autocast", "backward", "optimizer_step"]


def amp_setup(
    amp: bool, device: torch.device
) -> tuple[torch.dtype | None, torch.amp.GradScaler | None]:
    """``(autocast dtype or None, GradScaler or None)`` for training on ``device``.

    CUDA: bfloat16 where ``torch.cuda.is_bf16_supported()``, else float16 with a scaler.
    Elsewhere ``amp=True`` warns and changes nothing.
    """
    if not amp:
        return None, None
    if device.type != "cuda":
        warnings.warn(
            f"amp=True has no effect on {device}: autocast is used on CUDA only; "
            "training runs in float32", UserWarning, stacklevel=3,
        )
        return None, None
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def autocast(device: torch.device, dtype: torch.dtype | None
             ) -> contextlib.AbstractContextManager[object]:
    """``torch.autocast`` for ``dtype``, or a do-nothing context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def backward(loss: torch.Tensor, scaler: torch.amp.GradScaler | None) -> None:
    """Backpropagate ``loss`` (scaled first when a float16 scaler is in use)."""
    (scaler.scale(loss) if scaler is not None else loss).backward()


def optimizer_step(
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    parameters: Iterable[torch.nn.Parameter],
    grad_clip: float | None,
) -> None:
    """Unscale, clip the total gradient L2 norm to ``grad_clip``, step, update, zero grads."""
    if scaler is not None and grad_clip is not None:
        scaler.unscale_(optimizer)
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)

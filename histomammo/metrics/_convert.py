"""The one place where metric inputs become numpy: torch tensors on any device, with or without
grad, numpy arrays and sequences alike (private to `histomammo.metrics` and `histomammo.plot`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from histomammo.errors import DataFormatError

__all__ = ["to_numpy", "to_images"]


def to_numpy(value: Any, name: str = "input", dtype: Any = None) -> np.ndarray:
    """``value`` as a numpy array: a tensor is detached and copied to the CPU first.

    A tensor on the ``meta`` device holds shapes but no values, so nothing can be computed
    from it: it raises [`DataFormatError`][histomammo.errors.DataFormatError] (a ``ValueError``) naming
    ``name`` rather than being copied silently. A list of tensors (e.g. per-sample scores) is
    converted element by element.

    Examples
    --------
    >>> import torch
    >>> to_numpy(torch.ones(2, requires_grad=True)).tolist()
    [1.0, 1.0]
    >>> to_numpy(torch.ones(2, device="meta"), "preds")
    Traceback (most recent call last):
    ...
    histomammo.errors.DataFormatError: preds is a tensor on the 'meta' device, which holds no values; metrics need data on a real device (cpu, cuda, ...)
    """
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        if value.device.type == "meta":
            raise DataFormatError(
                f"{name} is a tensor on the 'meta' device, which holds no values; metrics need "
                "data on a real device (cpu, cuda, ...)"
            )
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # numpy has no bfloat16 (AMP outputs)
            value = value.float()
        value = value.numpy()
    elif isinstance(value, (list, tuple)) and any(hasattr(v, "detach") for v in value):
        value = [to_numpy(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return np.asarray(value, dtype=dtype)


def to_images(images: Any, name: str) -> list[np.ndarray]:
    """A sequence of 2-D images (list of arrays or tensors, or one ``(N, H, W)`` stack) as a
    list of numpy arrays; a single 2-D image is refused (wrap it in a list)."""
    if hasattr(images, "detach") or isinstance(images, np.ndarray):
        stack = to_numpy(images, name)
        if stack.ndim != 3:
            raise DataFormatError(
                f"{name} must be a sequence of 2-D images (a list, or an (N, H, W) array); got "
                f"one array of shape {stack.shape}" + (" (for one image pass [image])"
                                                       if stack.ndim == 2 else "")
            )
        return list(stack)
    if not isinstance(images, Sequence):
        images = list(images)
    return [to_numpy(image, f"{name}[{i}]") for i, image in enumerate(images)]

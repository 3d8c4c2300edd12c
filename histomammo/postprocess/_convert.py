"""Tensors in, tensors out: post-processing that runs in numpy/scipy takes a tensor from any
device and gives its result back on that device (private to `histomammo.postprocess`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from histomammo.errors import DataFormatError

__all__ = ["follows_input", "to_numpy"]

F = TypeVar("F", bound=Callable[..., Any])


def to_numpy(value: Any, name: str) -> np.ndarray:
    """``value`` as numpy: a tensor is detached and copied from its device (``meta`` refused:
    it holds no values to post-process)."""
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        if value.device.type == "meta":
            raise DataFormatError(
                f"{name} is a tensor on the 'meta' device, which holds no values; this "
                "post-processing step needs data on a real device (cpu, cuda, ...)"
            )
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # numpy has no bfloat16 (AMP outputs)
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def follows_input(function: F) -> F:
    """Run ``function`` on its first argument as numpy; a tensor input gets a tensor back on
    its device (the result's dtype kept)."""

    @functools.wraps(function)
    def wrapper(image: Any, *args: Any, **kwargs: Any) -> Any:
        out = function(to_numpy(image, "the input image"), *args, **kwargs)
        if not hasattr(image, "detach"):
            return out
        import torch

        return torch.from_numpy(np.ascontiguousarray(out)).to(image.device)

    return wrapper  # type: ignore[return-value]

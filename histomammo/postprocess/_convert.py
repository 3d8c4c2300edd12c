"""Tensors in, tensors out: post-processing that runs in numpy/scipy takes a tensor from any
device and gives its result back on that device (private to `histomammo.postprocess`); the
conversion is [`to_numpy`][histomammo._tensors.to_numpy], re-exported here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from histomammo._tensors import to_numpy

__all__ = ["follows_input", "to_numpy"]

F = TypeVar("F", bound=Callable[..., Any])


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

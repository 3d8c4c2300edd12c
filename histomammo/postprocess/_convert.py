"""Tensors in, tensors out: post-processing that runs in numpy/scipy takes a tensor from any
device and gives its result back on that device (private to `histomammo.postprocess`); the
conversion is [`to_numpy`][histomammo._tensors.to_numpy], re-exported here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, overload

import numpy as np

from histomammo._tensors import to_numpy

if TYPE_CHECKING:
    import torch

__all__ = ["FollowsInput", "follows_input", "to_numpy"]

P = ParamSpec("P")


class FollowsInput(Protocol[P]):
    """A numpy function as [`follows_input`][histomammo.postprocess._convert.follows_input]
    makes it: numpy in, numpy out; a tensor in, a tensor out on its device."""

    @overload
    def __call__(self, image: torch.Tensor, /, *args: P.args, **kwargs: P.kwargs
                 ) -> torch.Tensor: ...

    @overload
    def __call__(self, image: np.ndarray, /, *args: P.args, **kwargs: P.kwargs
                 ) -> np.ndarray: ...


def follows_input(
    function: Callable[Concatenate[np.ndarray, P], np.ndarray],
) -> FollowsInput[P]:
    """Run ``function`` on its first argument as numpy; a tensor input gets a tensor back on
    its device (the result's dtype kept)."""

    @functools.wraps(function)
    def wrapper(image: Any, /, *args: P.args, **kwargs: P.kwargs) -> Any:
        out = function(to_numpy(image, "the input image"), *args, **kwargs)
        if not hasattr(image, "detach"):
            return out
        import torch

        return torch.from_numpy(np.ascontiguousarray(out)).to(image.device)

    return wrapper

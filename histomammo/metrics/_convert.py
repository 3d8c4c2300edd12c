"""Metric inputs as numpy: [`to_numpy`][histomammo._tensors.to_numpy] (the package's one
converter, re-exported here) and sequences of images (private to `histomammo.metrics`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from histomammo._tensors import to_numpy
from histomammo.errors import DataFormatError

__all__ = ["to_numpy", "to_images"]


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

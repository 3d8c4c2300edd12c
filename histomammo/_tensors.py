"""The one converter from torch tensors to numpy (a leaf: imports only ``errors`` and numpy).

Metrics, post-processing and plots compute in numpy/scipy on inputs that may be tensors on
any device, with or without grad; they all go through [`to_numpy`][histomammo._tensors.to_numpy].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from histomammo.errors import DataFormatError

__all__ = ["to_numpy"]


def to_numpy(value: Any, name: str = "input", dtype: Any = None) -> np.ndarray:
    """``value`` as a numpy array: a tensor is detached and copied to the CPU first.

    A tensor on the ``meta`` device holds shapes but no values, so nothing can be computed
    from it: it raises [`DataFormatError`][histomammo.errors.DataFormatError] (a
    ``ValueError``) naming ``name`` rather than being copied silently. bfloat16 (AMP
    outputs, which numpy lacks) becomes float32. A list or tuple holding tensors (e.g.
    per-sample scores) is converted element by element.

    Examples
    --------
    >>> import torch
    >>> to_numpy(torch.ones(2, requires_grad=True)).tolist()
    [1.0, 1.0]
    >>> to_numpy([torch.tensor(1.0), torch.tensor(2.0)], dtype=np.float64).tolist()
    [1.0, 2.0]
    >>> to_numpy(torch.ones(2, device="meta"), "preds")
    Traceback (most recent call last):
    ...
    histomammo.errors.DataFormatError: preds is a tensor on the 'meta' device, which holds no values; it needs data on a real device (cpu, cuda, ...)
    """
    if hasattr(value, "detach"):  # a torch tensor, without importing torch here
        if value.device.type == "meta":
            raise DataFormatError(
                f"{name} is a tensor on the 'meta' device, which holds no values; it needs "
                "data on a real device (cpu, cuda, ...)"
            )
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.numpy()
    elif isinstance(value, (list, tuple)) and any(hasattr(v, "detach") for v in value):
        value = [to_numpy(v, f"{name}[{i}]") for i, v in enumerate(value)]
    return np.asarray(value, dtype=dtype)

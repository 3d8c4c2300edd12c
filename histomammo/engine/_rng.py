"""Global random-number-generator states as ``weights_only``-loadable values.

The model's dropout, torchvision's detection samplers and most data augmentation draw from
the process-global generators of ``random``, ``numpy.random`` and ``torch``; an exact resume
must put all of them back where they were. That is why this module, and only this module,
uses numpy's legacy global-state functions (``noqa: NPY002``).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

__all__ = ["seed_everything", "capture_rng_state", "restore_rng_state"]


def seed_everything(seed: int) -> None:
    """Seed python's ``random``, numpy's legacy global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)  # also seeds every CUDA device


def capture_rng_state() -> dict[str, Any]:
    """This process's generator states, made of tensors, ints, floats and tuples only."""
    legacy = np.random.get_state(legacy=True)  # noqa: NPY002
    if not isinstance(legacy, tuple):  # only a non-MT19937 global generator gives a dict
        raise TypeError(f"numpy's global generator is not a Mersenne Twister: {legacy!r}")
    kind, key, pos, has_gauss, cached = legacy
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        # python's Mersenne Twister state is 625 ints: one tensor, not a tuple of 625 objects
        # that every checkpoint would pickle, check and digest one by one.
        "python": (version, torch.tensor(internal, dtype=torch.int64), gauss_next),
        "numpy": {
            "kind": str(kind),
            "key": torch.from_numpy(key.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": [],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back the states returned by `capture_rng_state`."""
    version, internal, gauss_next = state["python"]
    if isinstance(internal, torch.Tensor):  # a tuple of ints in earlier checkpoints
        internal = internal.tolist()
    random.setstate((version, tuple(internal), gauss_next))
    saved = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            saved["kind"],
            saved["key"].numpy().astype(np.uint32),
            saved["pos"],
            saved["has_gauss"],
            saved["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        if len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
        else:
            torch.cuda.set_rng_state(state["cuda"][0].cpu())

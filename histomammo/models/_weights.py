"""User weights for any model builder: a state dict from a local path, never a download."""

from __future__ import annotations

import os

import torch
from torch import nn

__all__ = ["load_weights"]


def load_weights(model: nn.Module, weights: str | os.PathLike[str] | None) -> nn.Module:
    """Load the state dict saved at ``weights`` into ``model`` (``None``: leave it as built).

    The file is read with ``torch.load(..., weights_only=True)``: tensors only, no code.

    Examples
    --------
    >>> import torch
    >>> load_weights(torch.nn.Linear(2, 2), None).out_features
    2
    """
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model

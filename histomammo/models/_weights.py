"""User weights for the PCam model builders: a state dict from a local path, never a download."""

from __future__ import annotations

import os

from torch import nn

from histomammo.models._pretrained import load_user_weights

__all__ = ["load_weights"]


def load_weights(model: nn.Module, weights: str | os.PathLike[str] | None) -> nn.Module:
    """Load the state dict saved at ``weights`` into ``model`` (``None``: leave it as built).

    :func:`histomammo.models._pretrained.load_user_weights` reads it (``weights_only=True``;
    typed errors for a missing, unreadable or ill-fitting file).

    Examples
    --------
    >>> import torch
    >>> load_weights(torch.nn.Linear(2, 2), None).out_features
    2
    """
    if weights is not None:
        load_user_weights(model, weights)
    return model

"""Loading a user's weights file into a model: greyscale stems, replaced heads, clear errors.

Nothing is ever downloaded: the user saves e.g. torchvision's ImageNet weights once
(``torch.save(torchvision.models.resnet50(weights="DEFAULT").state_dict(), path)``) and
passes the path.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from histomammo.errors import CheckpointError, MissingFileError

__all__ = ["read_state_dict", "greyscale_stem", "load_user_weights"]

logger = logging.getLogger("histomammo.models")


def read_state_dict(path: str | os.PathLike[str], what: str = "model") -> dict[str, torch.Tensor]:
    """A state dict from ``path`` (``weights_only=True``), or the ``"model"`` entry of a
    histomammo Trainer checkpoint, or the ``"state_dict"`` entry of other common layouts.

    The one reader of users' weight files for every model family; ``what`` names the expected
    weights in error messages. A missing file raises :class:`MissingFileError`, anything else
    unusable :class:`CheckpointError`, each naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file; expected a {what} state dict (.pt/.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as err:
        raise CheckpointError(
            f"{path}: cannot be loaded safely as a {what} state dict "
            f"(torch.load(weights_only=True) said: {err}); expected one saved with "
            "torch.save(model.state_dict(), path)"
        ) from err
    for key in ("model", "state_dict"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise CheckpointError(
            f"{path}: holds a {type(state).__name__}, expected a {what} state dict "
            "(a mapping of parameter names to tensors)"
        )
    return dict(state)


def greyscale_stem(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Adapt a first-layer kernel ``(C_out, 3, kh, kw)`` to ``in_channels`` input channels.

    For one channel the RGB kernels are summed: a grey image ``g`` fed as ``(g, g, g)`` to
    the RGB network gives exactly the response of the summed kernel on ``g``.

    Examples
    --------
    >>> greyscale_stem(torch.ones(2, 3, 1, 1), 1).flatten().tolist()
    [3.0, 3.0]
    """
    if weight.shape[1] == in_channels:
        return weight
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    raise ValueError(
        f"cannot adapt a stem kernel of {weight.shape[1]} input channels to {in_channels}"
    )


def load_user_weights(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    stem: str | None = None,
    head: Sequence[str] = (),
) -> None:
    """Load ``path`` into ``model`` strictly, adapting the stem and skipping a replaced head.

    Parameters
    ----------
    model : nn.Module
        The model to fill in place.
    path : str or path
        A state dict file (see :func:`read_state_dict`).
    stem : str, optional
        Name of the first convolution's weight (e.g. ``"conv1.weight"``): RGB kernels are
        summed when the model has one input channel (:func:`greyscale_stem`).
    head : sequence of str
        Module prefixes of the classification head; their tensors are not loaded when the
        shapes differ (an ImageNet 1000-way head into a 2- or 5-way model) or are absent.

    Raises
    ------
    MissingFileError, CheckpointError
        Missing or unreadable file; tensors missing from it or of the wrong shape.
    """
    state = read_state_dict(path)
    own = model.state_dict()
    if stem is not None and stem in state and stem in own:
        state[stem] = greyscale_stem(state[stem], own[stem].shape[1])

    def in_head(key: str) -> bool:
        return any(key == h or key.startswith(h + ".") for h in head)

    skipped = [k for k in own if in_head(k) and (k not in state or state[k].shape != own[k].shape)]
    for key in skipped:
        state.pop(key, None)
    state = {k: v for k, v in state.items() if not (in_head(k) and k not in own)}
    missing = [k for k in own if k not in state and k not in skipped]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{path}: does not fit {type(model).__name__}: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shape {[(k, tuple(state[k].shape)) for k in wrong[:5]]}"
        )
    model.load_state_dict(state, strict=False)
    if skipped:
        logger.info("%s: kept the new head %s (not in the file or of another size)", path,
                    sorted({k.rsplit(".", 1)[0] for k in skipped}))

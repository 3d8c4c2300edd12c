"""The one loader of users' weight files for every model builder (``weights=`` argument).

Nothing is ever downloaded: the user saves e.g. torchvision's ImageNet weights once
(``torch.save(torchvision.models.resnet50(weights="DEFAULT").state_dict(), path)``) and
passes the path. A file may hold a state dict, a histomammo Trainer checkpoint (its
``"model"`` entry) or another common layout with a ``"state_dict"`` entry; it is read with
``torch.load(..., weights_only=True)``. The adaptations the builders need are parameters of
`load_weights`: a greyscale stem from RGB kernels,
a replaced classification head, and file entries to ignore (an ImageNet ``fc`` loaded into a
detector's backbone).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from histomammo.errors import CheckpointError, MissingFileError

__all__ = ["Weights", "greyscale_stem", "load_weights", "read_state_dict"]

logger = logging.getLogger("histomammo.models")

#: What a builder's ``weights=`` accepts: a file path, an in-memory state dict, or ``None``.
Weights = str | os.PathLike[str] | Mapping[str, torch.Tensor] | None

ModuleT = TypeVar("ModuleT", bound=nn.Module)

# Buffers a state dict may hold that some modules drop on load (FrozenBatchNorm2d).
_DROPPABLE = ("num_batches_tracked",)


def read_state_dict(path: str | os.PathLike[str], what: str = "model") -> dict[str, torch.Tensor]:
    """The state dict stored at ``path``, read with ``torch.load(weights_only=True)``.

    Parameters
    ----------
    path : str or path
        A ``torch.save(model.state_dict(), path)`` file, a histomammo Trainer checkpoint (its
        ``"model"`` entry is used) or a file with a ``"state_dict"`` entry.
    what : str
        Names the expected weights in error messages.

    Returns
    -------
    dict of str to Tensor
        On the CPU.

    Raises
    ------
    MissingFileError
        ``path`` is not a file.
    CheckpointError
        The file cannot be loaded safely or holds no mapping of names to tensors.

    Examples
    --------
    >>> read_state_dict("no/such/file.pt")
    Traceback (most recent call last):
    ...
    histomammo.errors.MissingFileError: no/such/file.pt: no such file; expected a model state dict (.pt/.pth); nothing is downloaded
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"{path}: no such file; expected a {what} state dict (.pt/.pth); nothing is downloaded"
        )
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
    raise CheckpointError(
        f"cannot adapt a stem kernel of {weight.shape[1]} input channels to {in_channels}"
    )


def _has_prefix(key: str, prefixes: Sequence[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _fit(state: dict[str, torch.Tensor], own: Mapping[str, torch.Tensor], source: str,
         what: str, head: Sequence[str]) -> list[str]:
    """Drop the head tensors that do not fit; raise on anything else that does not fit."""
    skipped = [k for k in own if _has_prefix(k, head)
               and (k not in state or state[k].shape != own[k].shape)]
    for key in [k for k in state if _has_prefix(k, head) and (k in skipped or k not in own)]:
        del state[key]
    for key in [k for k in state if k not in own and k.endswith(_DROPPABLE)]:
        del state[key]
    missing = [k for k in own if k not in state and k not in skipped
               and not k.endswith(_DROPPABLE)]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{source}: does not fit {what}: missing {missing[:5]} "
            f"({len(missing)} in all), unexpected {unexpected[:5]} ({len(unexpected)} in all), "
            f"wrong shape {[(k, tuple(state[k].shape), tuple(own[k].shape)) for k in wrong[:5]]}"
        )
    return skipped


def load_weights(
    model: ModuleT,
    weights: Weights,
    *,
    stem: str | None = None,
    head: Sequence[str] = (),
    ignore: Sequence[str] = (),
    what: str | None = None,
) -> ModuleT:
    """Load ``weights`` into ``model`` in place, checking that every tensor fits first.

    Parameters
    ----------
    model : nn.Module
        The model (or a part of it, e.g. a detector's backbone body) to fill.
    weights : str, path, mapping or None
        A file for `read_state_dict`, or a state
        dict in memory; ``None`` leaves ``model`` as built.
    stem : str, optional
        Name of the first convolution's weight (e.g. ``"conv1.weight"``): RGB kernels are
        summed when the model has one input channel
        (`greyscale_stem`).
    head : sequence of str
        Module prefixes of a replaced head: their tensors are kept as built when the file's
        are of another shape (an ImageNet 1000-way ``fc`` into a 2-way model) or absent.
    ignore : sequence of str
        Module prefixes neither loaded from the file nor required of it (``"fc"`` of an
        ImageNet classifier loaded into a detector's backbone, which has an unused ``fc``).
    what : str, optional
        Names the expected weights in messages (default: the model's class name).

    Returns
    -------
    nn.Module
        ``model`` itself.

    Raises
    ------
    MissingFileError, CheckpointError
        Missing or unreadable file; tensors missing from it, unexpected or of the wrong shape
        (nothing is loaded then).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> source = torch.nn.Linear(2, 3)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "linear.pt"
    >>> torch.save(source.state_dict(), path)
    >>> target = load_weights(torch.nn.Linear(2, 3), path)
    >>> torch.equal(target.weight, source.weight)
    True
    >>> load_weights(torch.nn.Linear(2, 4), source.state_dict())
    Traceback (most recent call last):
    ...
    histomammo.errors.CheckpointError: state dict: does not fit Linear: missing [] (0 in all), unexpected [] (0 in all), wrong shape [('weight', (3, 2), (4, 2)), ('bias', (3,), (4,))]
    """
    if weights is None:
        return model
    what = what or type(model).__name__
    if isinstance(weights, Mapping):
        state, source = dict(weights), "state dict"
    else:
        state, source = read_state_dict(weights, what), str(weights)
    own = {k: v for k, v in model.state_dict().items() if not _has_prefix(k, ignore)}
    state = {k: v for k, v in state.items() if not _has_prefix(k, ignore)}
    if stem is not None and stem in state and stem in own:
        state[stem] = greyscale_stem(state[stem], own[stem].shape[1])
    skipped = _fit(state, own, source, what, head)
    model.load_state_dict(state, strict=False)
    if skipped:
        logger.info("%s: kept the new head %s (not in the file or of another size)", source,
                    sorted({k.rsplit(".", 1)[0] for k in skipped}))
    return model

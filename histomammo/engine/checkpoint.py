"""Checkpoint files: atomic writes, safe (``weights_only``) loads, and finding the newest one.

A checkpoint is one ``torch.save`` file holding only what ``torch.load(...,
weights_only=True)`` accepts: tensors, numbers, strings, bytes, ``None`` and lists, tuples
and dicts of them. :func:`save_checkpoint` checks that before writing and writes through a
temporary file that is fsynced and renamed over the target, so an interruption at any
instant leaves the old file or the new one, never a broken one. :func:`load_checkpoint`
never unpickles arbitrary objects: a file that contains them is refused.

The trainer names its files ``checkpoint-{global_step:09d}.pt``; the newest is the one
with the highest step.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from histomammo._atomic import atomic_write
from histomammo.errors import CheckpointError

__all__ = ["checkpoint_name", "save_checkpoint", "load_checkpoint", "latest_checkpoint"]

logger = logging.getLogger("histomammo")

_NAME = re.compile(r"^checkpoint-(\d+)\.pt$")
_ATOMS = frozenset({str, bytes, int, float, complex, bool, type(None), torch.Tensor,
                    torch.nn.Parameter, torch.Size, torch.dtype, torch.device})


def checkpoint_name(global_step: int) -> str:
    """File name of the trainer's checkpoint after ``global_step`` optimizer steps.

    :func:`latest_checkpoint` recognises exactly these names; other ``.pt`` files in the
    directory (``best.pt``) are never pruned or resumed from.

    Examples
    --------
    >>> checkpoint_name(120)
    'checkpoint-000000120.pt'
    """
    return f"checkpoint-{global_step:09d}.pt"


def _list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """The trainer's checkpoint files in ``directory``, newest (highest step) first.

    Temporary files of interrupted writes (``.checkpoint-*.tmp``) are not listed. A
    missing directory gives an empty list.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for step in (9, 10):
    ...     _ = (folder / checkpoint_name(step)).write_bytes(b"")
    >>> [path.name for path in _list_checkpoints(folder)]
    ['checkpoint-000000010.pt', 'checkpoint-000000009.pt']
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [path for _, path in sorted(found, reverse=True)]


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The newest checkpoint file in ``directory`` (highest step), or ``None`` when none.

    The file is not opened: the trainer's resume tries it with :func:`load_checkpoint` and
    falls back to older ones when it is corrupt.

    Examples
    --------
    >>> import tempfile
    >>> latest_checkpoint(tempfile.mkdtemp()) is None
    True
    """
    paths = _list_checkpoints(directory)
    return paths[0] if paths else None


def _prune_checkpoints(directory: str | os.PathLike[str], keep_last: int) -> list[Path]:
    """Delete all but the ``keep_last`` newest checkpoints in ``directory``.

    Returns
    -------
    list of Path
        The files deleted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for step in (1, 2, 3):
    ...     _ = (folder / checkpoint_name(step)).write_bytes(b"")
    >>> [path.name for path in _prune_checkpoints(folder, keep_last=2)]
    ['checkpoint-000000001.pt']
    """
    if keep_last < 1:
        raise ValueError(f"keep_last must be >= 1, but got {keep_last}")
    return _unlink_all(_list_checkpoints(directory)[keep_last:])


def _remove_temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files of checkpoint writes that were killed before the rename.

    Such a file (``.checkpoint-*.pt.*.tmp``) is never read: the renamed checkpoints are
    complete by construction. Call it only while no checkpoint is being written.

    Returns
    -------
    list of Path
        The files deleted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".checkpoint-000000007.pt.abc123.tmp").write_bytes(b"half")
    >>> [path.name for path in _remove_temporaries(folder)]
    ['.checkpoint-000000007.pt.abc123.tmp']
    """
    removed = _unlink_all(sorted(Path(directory).glob(".checkpoint-*.tmp")))
    for stale in removed:
        logger.info("removed %s left by an interrupted checkpoint write", stale)
    return removed


def _unlink_all(paths: list[Path]) -> list[Path]:
    """Delete ``paths`` (already gone is fine); return them."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return paths


def _check_loadable(value: Any, where: str) -> None:
    """Raise CheckpointError at the first value ``weights_only`` loading would refuse.

    Types are matched exactly: subclasses (numpy's float64 is a ``float``, tv_tensors are
    tensors, named tuples are tuples) are pickled by class reference, which
    ``weights_only`` loading refuses.
    """
    kind = type(value)
    if kind in _ATOMS:
        return
    if kind in (dict, OrderedDict):
        for key, item in value.items():
            _check_loadable(key, f"{where} key {key!r}")
            _check_loadable(item, f"{where}[{key!r}]")
        return
    if kind in (list, tuple, set):
        for index, item in enumerate(value):
            _check_loadable(item, f"{where}[{index}]")
        return
    raise CheckpointError(
        f"{where}: value of type {kind.__module__}.{kind.__qualname__} cannot be loaded "
        "with weights_only=True; expected tensors, numbers, strings, None, or "
        "lists/tuples/dicts of them (convert numpy values with .tolist() or torch.as_tensor, "
        "tensor subclasses with .as_subclass(torch.Tensor))"
    )


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename).

    Parameters
    ----------
    path : str or os.PathLike
        Target file; its directory is created when missing.
    state : mapping
        Tensors, numbers, strings, bytes, ``None`` and lists/tuples/dicts of them.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    CheckpointError
        When ``state`` holds a value ``torch.load(..., weights_only=True)`` would refuse
        (a numpy array, a custom class, ...); nothing is written then.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "state.pt"
    >>> _ = save_checkpoint(target, {"weights": torch.ones(2), "epoch": 3})
    >>> load_checkpoint(target)["epoch"]
    3
    """
    path = Path(path)
    _check_loadable(dict(state), f"{path}: state")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        torch.save(dict(state), handle)
    return path


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(path, map_location, weights_only=True)``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_checkpoint` (or any ``torch.save`` file holding only
        tensors and plain containers).
    map_location : str, torch.device or None
        Where tensors are put, as in :func:`torch.load`.

    Returns
    -------
    dict
        The saved mapping.

    Raises
    ------
    CheckpointError
        The file is missing, truncated or corrupt, is not a mapping, or holds pickled
        objects other than tensors and plain containers. Such objects are refused by the
        ``weights_only`` unpickler and never executed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> broken = pathlib.Path(tempfile.mkdtemp()) / "broken.pt"
    >>> _ = broken.write_bytes(b"not a checkpoint")
    >>> try:
    ...     load_checkpoint(broken)
    ... except CheckpointError as err:
    ...     print("broken.pt" in str(err))
    True
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        if "unsupported global" in str(err).lower():
            raise CheckpointError(
                f"{path}: refused: the file holds pickled objects other than tensors and "
                f"plain containers, which weights_only loading does not execute ({err})"
            ) from err
        raise CheckpointError(
            f"{path}: unreadable checkpoint (truncated, corrupt or not a torch.save file): "
            f"{type(err).__name__}: {err}"
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path}: holds a {type(state).__name__}; expected a dict of checkpoint entries"
        )
    return state

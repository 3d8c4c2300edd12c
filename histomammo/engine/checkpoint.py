"""Checkpoint files: atomic writes, safe (``weights_only``) loads, and finding the newest one.

A checkpoint is one ``torch.save`` file holding only what ``torch.load(...,
weights_only=True)`` accepts: tensors, numbers, strings, bytes, ``None`` and lists, tuples
and dicts of them. [`save_checkpoint`][histomammo.engine.checkpoint.save_checkpoint] checks that
before writing and writes through a
temporary file that is fsynced and renamed over the target, so an interruption at any
instant leaves the old file or the new one, never a broken one.
[`load_checkpoint`][histomammo.engine.checkpoint.load_checkpoint]
never unpickles arbitrary objects: a file that contains them is refused.

Every file also stores a SHA-256 digest of its payload (each tensor's dtype, shape and
bytes, and every other value), under the key ``"payload_sha256"``;
[`load_checkpoint`][histomammo.engine.checkpoint.load_checkpoint]
recomputes it, so a flipped byte inside a tensor, which ``torch.load`` does not notice, is
reported as a corrupt file (and skipped by the trainer's resume like a truncated one).
Files without a digest (written by other tools) load unverified.

The trainer names its files ``checkpoint-{global_step:09d}.pt``; the newest is the one
with the highest step.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import pickle
import re
import shutil
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from histomammo._atomic import atomic_write
from histomammo.errors import CheckpointError

__all__ = ["checkpoint_name", "save_checkpoint", "load_checkpoint", "latest_checkpoint"]

logger = logging.getLogger("histomammo")

_DIGEST_KEY = "payload_sha256"
# What torch.load raises on truncated or garbled files (UnicodeDecodeError is a ValueError);
# anything else (TypeError, KeyError, ...) is a bug and propagates.
_LOAD_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError)
_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_NAME = re.compile(r"^checkpoint-(\d+)\.pt$")
_ATOMS = frozenset({str, bytes, int, float, complex, bool, type(None), torch.Tensor,
                    torch.nn.Parameter, torch.Size, torch.dtype, torch.device})


def checkpoint_name(global_step: int) -> str:
    """File name of the trainer's checkpoint after ``global_step`` optimizer steps.

    [`latest_checkpoint`][histomammo.engine.checkpoint.latest_checkpoint] recognises exactly these
    names; other ``.pt`` files in the
    directory (``best.pt``) are never pruned or resumed from.

    Examples
    --------
    >>> checkpoint_name(120)
    'checkpoint-000000120.pt'
    """
    return f"checkpoint-{global_step:09d}.pt"


def _list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """The trainer's checkpoint files in ``directory``, newest (highest step) first.

    Temporary files of interrupted writes (``.checkpoint-*.tmp``) and directories are not
    listed. A missing directory gives an empty list.

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
    found = [(int(m.group(1)), p) for p in directory.iterdir()
             if (m := _NAME.match(p.name)) and not p.is_dir()]
    return [path for _, path in sorted(found, reverse=True)]


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The newest checkpoint file in ``directory`` (highest step), or ``None`` when none.

    The file is not opened: the trainer's resume tries it with
    [`load_checkpoint`][histomammo.engine.checkpoint.load_checkpoint] and
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


def _payload_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``state`` without its digest entry: keys, types, values, and each
    tensor's dtype, shape and bytes, in the mapping's order.

    Examples
    --------
    >>> import torch
    >>> _payload_digest({"w": torch.zeros(2)}) == _payload_digest({"w": torch.zeros(2)})
    True
    >>> _payload_digest({"w": torch.zeros(2)}) == _payload_digest({"w": torch.ones(2)})
    False
    """
    hasher = hashlib.sha256()
    _feed(hasher, {key: value for key, value in state.items() if key != _DIGEST_KEY})
    return hasher.hexdigest()


def _feed(hasher: Any, value: Any) -> None:
    kind = type(value)
    hasher.update(kind.__name__.encode())
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        hasher.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
        if tensor.numel():
            hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _feed(hasher, key)
            _feed(hasher, item)
    elif isinstance(value, (list, tuple, set)):
        hasher.update(str(len(value)).encode())
        for item in value:
            _feed(hasher, item)
    else:
        hasher.update(repr(value).encode())


def _payload_bytes(value: Any) -> int:
    """Bytes of the tensors in ``value`` (the size of a checkpoint, near enough)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, Mapping):
        return sum(_payload_bytes(item) for item in value.values())
    if isinstance(value, (list, tuple, set)):
        return sum(_payload_bytes(item) for item in value)
    return 0


def _no_space(err: BaseException) -> bool:
    """A full disk, as an OSError or as torch's C++ writer reports it."""
    if isinstance(err, OSError):
        return err.errno in _NO_SPACE
    return isinstance(err, RuntimeError) and any(
        marker in str(err) for marker in ("inline_container", "file write failed",
                                          "No space left"))


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
        (a numpy array, a custom class, ...); when a directory stands at ``path``; when
        the disk is full (the message names the directory and the space needed). Nothing
        is written then, and the files already there are untouched.

    Examples
    --------
    >>> import tempfile, pathlib, torch
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "state.pt"
    >>> _ = save_checkpoint(target, {"weights": torch.ones(2), "epoch": 3})
    >>> load_checkpoint(target)["epoch"]
    3
    """
    path = Path(path)
    payload = {key: value for key, value in state.items() if key != _DIGEST_KEY}
    _check_loadable(payload, f"{path}: state")
    if path.is_dir():
        raise CheckpointError(
            f"{path}: a directory stands where the checkpoint file goes; move it away"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    payload[_DIGEST_KEY] = _payload_digest(payload)
    try:
        with atomic_write(path, "wb") as handle:
            torch.save(payload, handle)
    except (OSError, RuntimeError) as err:
        if isinstance(err, IsADirectoryError):
            raise CheckpointError(
                f"{path}: a directory stands where the checkpoint file goes; move it away"
            ) from err
        if not _no_space(err):
            raise
        needed = _payload_bytes(payload) / 2**20
        free = shutil.disk_usage(path.parent).free / 2**20
        raise CheckpointError(
            f"{path.parent}: disk full while writing {path.name}: it needs about "
            f"{needed:.1f} MiB, {free:.1f} MiB are free; the earlier checkpoints are intact "
            f"({type(err).__name__}: {err})"
        ) from err
    return path


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(path, map_location, weights_only=True)``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by [`save_checkpoint`][histomammo.engine.checkpoint.save_checkpoint] (or any
        ``torch.save`` file holding only
        tensors and plain containers).
    map_location : str, torch.device or None
        Where tensors are put, as in `torch.load`.

    Returns
    -------
    dict
        The saved mapping.

    Raises
    ------
    CheckpointError
        The file is missing, truncated or corrupt (its payload digest does not match),
        is not a mapping, or holds pickled
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
    except _LOAD_ERRORS as err:
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
    saved_digest = state.pop(_DIGEST_KEY, None)
    if saved_digest is not None and saved_digest != _payload_digest(state):
        raise CheckpointError(
            f"{path}: corrupt checkpoint: the SHA-256 digest of its payload does not match "
            "the one stored when it was written (a changed byte inside a tensor or value)"
        )
    return state

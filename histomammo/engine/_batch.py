"""Batches: what the trainer accepts, moving them to a device, and joining outputs.

Accepted batch layouts (see `split_batch`):

* ``(inputs, targets, *extra)`` tuples or lists (``default_collate`` turns sample tuples
  into lists): ``inputs`` a batched tensor or a list/tuple of per-image tensors
  (detection), ``targets`` a tensor, a list of target dicts, or anything the loss function
  takes; extra items (metadata) are ignored;
* ``(inputs,)`` or a bare tensor: inputs only (prediction);
* a dict with an inputs key (``"image"`` or ``"input"``): ``inputs`` is that entry,
  ``targets`` the first of ``"target"``, ``"label"``, ``"mask"`` present (``None`` when
  none is);
* anything else needs the trainer's ``prepare_batch(batch) -> (inputs, targets)``; a dict
  without an inputs key raises ``ValueError`` naming the keys found.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

__all__ = [
    "INPUT_KEYS",
    "TARGET_KEYS",
    "split_batch",
    "move_to_device",
    "batch_size",
    "sum_loss_terms",
    "to_python",
    "plain_value",
    "concatenate",
    "interleave",
]


INPUT_KEYS = ("image", "input")
TARGET_KEYS = ("target", "label", "mask")


def split_batch(batch: Any, prepare_batch: Any = None) -> tuple[Any, Any]:
    """Return ``(inputs, targets)`` of a batch (``targets`` is ``None`` when absent).

    ``prepare_batch(batch) -> (inputs, targets)``, when given, decides alone.
    """
    if prepare_batch is not None:
        prepared = prepare_batch(batch)
        if not (isinstance(prepared, tuple) and len(prepared) == 2):
            raise TypeError(
                f"prepare_batch returned {type(prepared).__name__}; expected a tuple "
                "(inputs, targets)"
            )
        return prepared
    if isinstance(batch, Mapping):
        return _split_dict(batch)
    if isinstance(batch, (tuple, list)):
        if len(batch) == 0:
            raise ValueError("got an empty batch; expected (inputs, targets)")
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def _split_dict(batch: Mapping[str, Any]) -> tuple[Any, Any]:
    inputs = next((key for key in INPUT_KEYS if key in batch), None)
    if inputs is None:
        raise ValueError(
            f"a dict batch needs an inputs key {list(INPUT_KEYS)}, but it has keys "
            f"{list(batch)}; pass Trainer(prepare_batch=fn) with fn(batch) -> (inputs, targets) "
            "for other layouts"
        )
    target = next((key for key in TARGET_KEYS if key in batch), None)
    return batch[inputs], (None if target is None else batch[target])


def same_mapping(like: Mapping[Any, Any], items: dict[Any, Any]) -> Mapping[Any, Any]:
    """``items`` as a mapping of ``like``'s type (dict, OrderedDict, a subclass taking a dict)."""
    # Mapping itself declares no constructor; the concrete batch types all take a dict.
    return type(like)(items)  # type: ignore[call-arg]


def move_to_device(value: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move every tensor in nested tuples/lists/dicts to ``device``; tv_tensors keep their type.

    Containers keep their type (named tuples included); other values are returned as they are.
    """
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=non_blocking)
    if isinstance(value, Mapping):
        return same_mapping(
            value, {key: move_to_device(item, device, non_blocking) for key, item in value.items()}
        )
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(move_to_device(item, device, non_blocking) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(move_to_device(item, device, non_blocking) for item in value)
    return value


def batch_size(inputs: Any) -> int:
    """Number of samples in ``inputs``.

    A tensor's first dimension; a list/tuple of tensors is one tensor per sample (detection
    images); a dict counts its first value.
    """
    if isinstance(inputs, torch.Tensor):
        return int(inputs.shape[0]) if inputs.dim() > 0 else 1
    if isinstance(inputs, (list, tuple)) and inputs:
        return len(inputs) if isinstance(inputs[0], torch.Tensor) else batch_size(inputs[0])
    if isinstance(inputs, Mapping) and inputs:
        return batch_size(next(iter(inputs.values())))
    raise TypeError(
        f"cannot tell the number of samples in a batch of {type(inputs).__name__}; "
        "expected a tensor, a list of per-sample tensors, or a dict of them"
    )


def sum_loss_terms(loss: Any, where: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Return ``(total, terms)`` from a loss tensor or a dict of loss tensors.

    A dict's keys become ``loss_<key>`` (keys already starting with ``loss_`` are kept, so
    torchvision's ``loss_classifier`` stays ``loss_classifier``); a tensor has no terms.
    """
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1:
            raise ValueError(f"{where} returned a loss of shape {tuple(loss.shape)}; expected a scalar")
        return loss.reshape(()), {}
    if isinstance(loss, Mapping) and loss and all(
        isinstance(v, torch.Tensor) and v.numel() == 1 for v in loss.values()
    ):
        terms = {
            (key if str(key).startswith("loss_") else f"loss_{key}"): value.reshape(())
            for key, value in loss.items()
        }
        return torch.stack(list(terms.values())).sum(), terms
    raise TypeError(
        f"{where} returned {type(loss).__name__}; expected a scalar loss tensor or a "
        "non-empty dict of scalar loss tensors"
    )


def to_python(value: Any) -> Any:
    """A single-element tensor or numpy scalar as a Python number; other values unchanged."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def plain_value(value: Any) -> Any:
    """``value`` made of Python numbers, strings and lists/dicts only (for the history).

    Tensors and numpy values (scalars or arrays) become Python numbers or nested lists, so
    a history row can always go into a ``weights_only`` checkpoint and a CSV file.

    Examples
    --------
    >>> import numpy as np, torch
    >>> row = plain_value({"auc": np.float64(0.5), "n": torch.tensor(3), "v": np.arange(2)})
    >>> row, type(row["auc"])
    ({'auc': 0.5, 'n': 3, 'v': [0, 1]}, <class 'float'>)
    """
    if type(value) in (bool, int, float, str) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(item) for item in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # tensors, numpy arrays/scalars
        return plain_value(value.tolist())
    if isinstance(value, (int, float)):  # int/float subclasses (numpy's float64 is one)
        return float(value) if isinstance(value, float) else int(value)
    return str(value)


def concatenate(parts: list[Any]) -> Any:
    """Join per-batch outputs: tensors along dim 0, lists by extension, dicts/tuples per entry."""
    if not parts:
        return []
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat([part.reshape(1) if part.dim() == 0 else part for part in parts])
    if isinstance(first, list):
        return [item for part in parts for item in part]
    if isinstance(first, Mapping):
        return {key: concatenate([part[key] for part in parts]) for key in first}
    if isinstance(first, tuple):
        return tuple(concatenate([part[i] for part in parts]) for i in range(len(first)))
    return list(parts)


def interleave(shards: list[Any], total: int) -> Any:
    """Undo round-robin sharding: sample ``i`` is item ``i // R`` of shard ``i % R``.

    ``shards`` are the ranks' concatenated outputs: rank ``r`` holds samples
    ``r, r + R, r + 2R, ...`` (unpadded, so lengths differ by at most one); the result holds
    the ``total`` samples in dataset order.

    Examples
    --------
    >>> import torch
    >>> interleave([torch.tensor([0, 2, 4]), torch.tensor([1, 3])], 5)
    tensor([0, 1, 2, 3, 4])
    """
    first = shards[0]
    ranks = len(shards)
    if isinstance(first, torch.Tensor):
        joined = first.new_empty((total, *first.shape[1:]))
        for rank, shard in enumerate(shards):
            joined[rank::ranks] = shard[: len(range(rank, total, ranks))]
        return joined
    if isinstance(first, list):
        return [shards[i % ranks][i // ranks] for i in range(total)]
    if isinstance(first, Mapping):
        return {key: interleave([shard[key] for shard in shards], total) for key in first}
    if isinstance(first, tuple):
        return tuple(interleave([s[i] for s in shards], total) for i in range(len(first)))
    raise TypeError(f"cannot gather outputs of type {type(first).__name__} across ranks")

"""torch.distributed helpers: torchrun detection, process-group set-up, rank-aware collectives.

Every function works unchanged in a single process (no process group): collectives become
identities, [`get_rank`][histomammo.engine.distributed.get_rank] is 0 and
[`get_world_size`][histomammo.engine.distributed.get_world_size] is 1. Under ``torchrun`` the
environment holds ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and ``MASTER_ADDR`` /
``MASTER_PORT``), and [`init_from_env`][histomammo.engine.distributed.init_from_env] starts the
process group from them: ``nccl``
when training on CUDA, ``gloo`` on CPU.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "launched_by_torchrun",
    "resolve_device",
    "init_from_env",
    "is_distributed",
    "get_rank",
    "get_world_size",
    "is_main_process",
    "barrier",
    "all_reduce_sum",
    "all_gather_objects",
    "communication_device",
    "any_rank",
    "all_ranks",
    "cleanup",
]

logger = logging.getLogger("histomammo")

_TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


def launched_by_torchrun() -> bool:
    """``True`` when ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` are all in the environment.

    Examples
    --------
    >>> import os
    >>> launched_by_torchrun() == all(v in os.environ for v in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    True
    """
    return all(name in os.environ for name in _TORCHRUN_VARIABLES)


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0")) if launched_by_torchrun() else 0


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn the trainer's ``device`` argument into a `torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``: ``cuda:LOCAL_RANK`` when CUDA is available (``LOCAL_RANK`` is 0 outside
        torchrun), else ``cpu``. Anything else is passed to `torch.device` as given,
        except that ``"cuda"`` without an index means ``cuda:LOCAL_RANK`` (one GPU per
        process under torchrun).

    Returns
    -------
    torch.device

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", _local_rank())
    return device


def init_from_env(device: torch.device) -> bool:
    """Start the default process group from torchrun's environment when needed.

    Does nothing outside torchrun or when a process group already exists. On CUDA it first
    makes ``device`` the current device (so NCCL uses one GPU per process).

    Parameters
    ----------
    device : torch.device
        The device this process trains on; selects the backend (``nccl`` for CUDA,
        ``gloo`` otherwise).

    Returns
    -------
    bool
        Whether this process now runs inside an initialised process group of several ranks.

    Examples
    --------
    >>> import torch
    >>> init_from_env(torch.device("cpu"))  # outside torchrun: nothing to do
    False
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if not (dist.is_available() and launched_by_torchrun()):
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    logger.info(
        "initialised %s process group: rank %d of %d", backend, get_rank(), get_world_size()
    )
    return get_world_size() > 1


def is_distributed() -> bool:
    """``True`` inside an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """``True`` on rank 0, and in a single-process run."""
    return get_rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if is_distributed():
        dist.barrier()


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum ``values`` over ranks in place and return it (unchanged in a single process).

    Parameters
    ----------
    values : torch.Tensor
        On the process's communication device (CUDA for ``nccl``, CPU for ``gloo``).

    Examples
    --------
    >>> import torch
    >>> all_reduce_sum(torch.tensor([2.0, 4.0]))
    tensor([2., 4.])
    """
    if is_distributed():
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_gather_objects(value: Any) -> list[Any]:
    """Every rank's ``value`` (picklable), indexed by rank; ``[value]`` in a single process.

    Examples
    --------
    >>> all_gather_objects({"rank": 0})
    [{'rank': 0}]
    """
    if not is_distributed():
        return [value]
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def communication_device() -> torch.device:
    """Where collectives' tensors live: the current CUDA device for ``nccl``, else the CPU."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _count_true(flag: bool) -> int:
    votes = torch.tensor([int(bool(flag))], dtype=torch.int64, device=communication_device())
    return int(all_reduce_sum(votes).item())


def any_rank(flag: bool) -> bool:
    """``True`` on every rank when ``flag`` is true on at least one (call it on all ranks).

    A stop decision taken by one rank alone would leave the others waiting in the next
    collective; reduced with this, all ranks stop together (Lightning's
    ``reduce_boolean_decision(..., all=False)``).

    Examples
    --------
    >>> any_rank(True), any_rank(False)
    (True, False)
    """
    return _count_true(flag) > 0 if is_distributed() else bool(flag)


def all_ranks(flag: bool) -> bool:
    """``True`` on every rank when ``flag`` is true on all of them (call it on all ranks).

    Examples
    --------
    >>> all_ranks(True), all_ranks(False)
    (True, False)
    """
    return _count_true(flag) == get_world_size() if is_distributed() else bool(flag)


def cleanup() -> None:
    """Destroy the default process group if one exists (call once at the end of a script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()

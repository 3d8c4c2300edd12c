"""The trainer's checkpoint files: names, atomic writes, pruning, the newest valid one, and
every rank's generator states. It takes and returns plain dicts (as torchtune's
checkpointers do) and knows nothing of the trainer."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from histomammo.engine import checkpoint as ckpt
from histomammo.engine import distributed as dist
from histomammo.engine._rng import capture_rng_state
from histomammo.errors import CheckpointError

__all__ = ["Checkpointer"]

logger = logging.getLogger("histomammo")


class Checkpointer:
    """``checkpoint-{global_step:09d}.pt`` files in ``directory``, ``keep_last`` of them.

    Parameters
    ----------
    directory : Path
    keep_last : int
    """

    def __init__(self, directory: Path, keep_last: int) -> None:
        self.directory = Path(directory)
        self.keep_last = int(keep_last)

    def existing(self) -> list[Path]:
        """The checkpoint files, newest first."""
        return ckpt._list_checkpoints(self.directory)

    def remove_temporaries(self) -> None:
        """Delete temporary files of writes killed before their rename (main process)."""
        if dist.is_main_process():
            ckpt._remove_temporaries(self.directory)

    def write(self, global_step: int, state: Callable[[], dict[str, Any]]) -> None:
        """Write ``state()`` plus every rank's generator states (``"rng"``), from rank 0,
        then prune and wait for every rank. Call it on every rank."""
        rng_states = dist.all_gather_objects(capture_rng_state())
        error: CheckpointError | None = None
        if dist.is_main_process():
            try:
                ckpt.save_checkpoint(self.directory / ckpt.checkpoint_name(global_step),
                                     {**state(), "rng": rng_states})
                ckpt._prune_checkpoints(self.directory, self.keep_last)
            except CheckpointError as err:
                error = err
        failed = dist.any_rank(error is not None)  # no rank waits for a failed writer
        if error is not None:
            raise error
        if failed:
            raise CheckpointError(f"{self.directory}: rank 0 could not write the checkpoint")

    def load_newest(self) -> tuple[Path, dict[str, Any]] | None:
        """``(path, state)`` of the newest file that can be read, or ``None`` when the
        directory holds none. Unreadable ones (truncated, corrupt digest, unsafe) are
        skipped with a warning.

        Raises
        ------
        CheckpointError
            Checkpoint files exist but none can be read.
        """
        paths = self.existing()
        if not paths:
            return None
        for path in paths:
            try:
                return path, ckpt.load_checkpoint(path, map_location="cpu")
            except CheckpointError as err:
                warnings.warn(f"skipping checkpoint that cannot be loaded: {err}", UserWarning,
                              stacklevel=4)
        raise CheckpointError(
            f"{self.directory}: none of the {len(paths)} checkpoint files could be loaded "
            "(see the warnings); move them away to start afresh"
        )

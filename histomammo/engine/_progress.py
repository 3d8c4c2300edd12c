"""Where training stands: the one owner of epoch, step, in-epoch position and history.

Modelled on Lightning's progress dataclasses and Ignite's ``State``: every other piece of
the engine reads and advances this object, and a checkpoint stores its
`Progress.state_dict`. The position only moves at optimizer steps
(`Progress.commit_step`), so an exception at any instant leaves it at the last
completed step, which is exactly where a following ``fit`` continues.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from histomammo.engine._batch import plain_value

__all__ = ["Progress"]


@dataclass
class Progress:
    """Position and record of a training run.

    Attributes
    ----------
    epoch : int
        The epoch in progress (0-based), or the next one to run between epochs.
    global_step : int
        Optimizer steps taken.
    batch_in_epoch : int
        Micro-batches of ``epoch`` consumed by completed optimizer steps.
    consumed : int
        Samples of ``epoch`` (on this rank) consumed by completed optimizer steps: the
        engine sampler's position.
    resumable : bool
        The training loader can resume mid-epoch (it runs on the engine's sampler);
        otherwise a mid-epoch position restarts the epoch.
    epoch_sums : dict of str to float
        Sample-weighted loss sums of the epoch so far and their ``"samples"`` count.
    epoch_seconds_before : float
        Seconds spent in ``epoch`` before the current clock started (across resumes).
    history : list of dict
        One row per finished epoch.
    stopped : bool
        A callback asked training to stop.
    epoch_done : bool
        Between the epoch's history row and the move to the next epoch (``on_epoch_end``).

    Examples
    --------
    >>> progress = Progress()
    >>> progress.commit_step(micro_batches=2, samples=8, sums={"loss": 4.0, "samples": 8.0})
    >>> progress.global_step, progress.batch_in_epoch, progress.consumed
    (1, 2, 8)
    >>> restored = Progress()
    >>> restored.load_state_dict(progress.state_dict())
    >>> restored.batch_in_epoch, restored.epoch_sums
    (2, {'loss': 4.0, 'samples': 8.0})
    """

    epoch: int = 0
    global_step: int = 0
    batch_in_epoch: int = 0
    consumed: int = 0
    resumable: bool = True
    epoch_sums: dict[str, float] = field(default_factory=dict)
    epoch_seconds_before: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False
    epoch_done: bool = False
    _clock: float | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------ the clock
    def start_clock(self) -> None:
        """Time the epoch from now on (on top of `epoch_seconds_before`)."""
        self._clock = time.perf_counter()

    def stop_clock(self) -> None:
        """Bank the time since `start_clock` (an interrupted ``fit``)."""
        self.epoch_seconds_before = self.epoch_seconds
        self._clock = None

    @property
    def epoch_seconds(self) -> float:
        """Seconds spent in the current epoch so far (across resumes and interruptions)."""
        running = 0.0 if self._clock is None else time.perf_counter() - self._clock
        return self.epoch_seconds_before + running

    # ------------------------------------------------------------ moving on
    @property
    def mid_epoch(self) -> bool:
        """Some optimizer steps of `epoch` are done, and its row is not written yet."""
        return self.batch_in_epoch > 0 and not self.epoch_done

    def commit_step(self, micro_batches: int, samples: int, sums: dict[str, float]) -> None:
        """One optimizer step over ``micro_batches`` batches holding ``samples`` samples of
        this rank's shard, with their loss ``sums``."""
        self.global_step += 1
        self.batch_in_epoch += micro_batches
        self.consumed += samples
        for key, value in sums.items():
            self.epoch_sums[key] = self.epoch_sums.get(key, 0.0) + value

    def restart_epoch(self) -> None:
        """Forget what the current epoch consumed, summed and timed: it starts afresh."""
        self.batch_in_epoch, self.consumed, self.epoch_sums = 0, 0, {}
        self.epoch_seconds_before = 0.0
        self._clock = None

    def finish_epoch(self, row: dict[str, Any]) -> None:
        """Append the epoch's history row (values made plain); ``on_epoch_end`` follows."""
        self.history.append(row)
        self.epoch_done = True

    def next_epoch(self) -> None:
        """Leave the finished epoch: the next one starts from its beginning."""
        if self.history:
            self.history[-1] = plain_value(self.history[-1])
        self.epoch += 1
        self.epoch_done = False
        self.restart_epoch()

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Checkpoint entries; inside ``on_epoch_end`` they mean "the next epoch, from its
        start", so resuming from them never repeats the epoch."""
        mid = self.mid_epoch
        epoch = self.epoch + int(self.epoch_done)
        return {
            "epoch": epoch,
            "batch_in_epoch": self.batch_in_epoch if mid else 0,
            "global_step": self.global_step,
            "sampler": None if not self.resumable else {
                "epoch": epoch, "consumed": self.consumed if mid else 0},
            "epoch_sums": dict(self.epoch_sums) if mid else {},
            "epoch_seconds": self.epoch_seconds if mid else 0.0,
            "history": [plain_value(row) for row in self.history],
            "stopped": bool(self.stopped),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` (entries of a trainer checkpoint)."""
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        sampler = state.get("sampler")
        self.resumable = sampler is not None
        self.consumed = 0 if sampler is None else int(sampler["consumed"])
        self.epoch_sums = dict(state.get("epoch_sums", {}))
        self.epoch_seconds_before = float(state.get("epoch_seconds", 0.0))
        self.history = [dict(row) for row in state["history"]]
        self.stopped = bool(state.get("stopped", False))
        self.epoch_done = False
        self._clock = None

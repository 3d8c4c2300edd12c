"""Callbacks that follow one number of the epoch logs: BestCheckpoint and EarlyStopping."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from histomammo.engine import distributed as dist
from histomammo.engine.callbacks._base import Callback, _is_real, _require_state

if TYPE_CHECKING:
    from histomammo.engine._view import TrainerView

logger = logging.getLogger("histomammo")

class _MonitoredCallback(Callback):
    """Follows one number of the epoch logs and remembers its best value and epoch."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        name = type(self).__name__
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"{name}: monitor must be a non-empty str, but got {monitor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', but got {mode!r}")
        if not _is_real(min_delta) or not 0 <= min_delta < math.inf:
            raise ValueError(
                f"{name}: min_delta must be a finite number >= 0, but got {min_delta!r}"
            )
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1

    def _value(self, logs: dict[str, Any]) -> float:
        if self.monitor not in logs:
            raise ValueError(
                f"{type(self).__name__}: monitor {self.monitor!r} is not in the epoch logs; "
                f"available keys: {list(logs)} (val_* keys need fit(..., val_loader=...))"
            )
        return float(logs[self.monitor])

    def _improves(self, value: float) -> bool:
        # NaN compares False both ways, so a NaN metric never counts as an improvement.
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    @property
    def state_key(self) -> str:
        return f"{type(self).__qualname__}[monitor={self.monitor},mode={self.mode}]"

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _require_state(type(self).__name__, state, ("best", "best_epoch"))
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])


class BestCheckpoint(_MonitoredCallback):
    """Keep a full checkpoint of the epoch where ``logs[monitor]`` was best.

    At each epoch end, when the monitored value improves strictly (by more than
    ``min_delta``) on the best seen so far, the main process calls
    ``trainer.save_checkpoint(directory / filename)``, overwriting the previous best
    atomically. The best value and its epoch are part of
    [`state_dict`][histomammo.engine.callbacks._monitored.EarlyStopping.state_dict], so a resumed
    run only replaces the file when it beats the value from before the interruption.

    Parameters
    ----------
    monitor : str
        Key of the epoch logs (history row) to follow, e.g. ``"val_loss"`` or ``"val_auc"``.
    mode : {"min", "max"}
        Whether a lower or a higher value is better.
    filename : str
        File name (no directory part) of the checkpoint.
    min_delta : float
        Smallest change that counts as an improvement (>= 0).
    directory : str or os.PathLike, optional
        Where to write; ``None`` uses ``trainer.checkpoint_dir``.

    Attributes
    ----------
    best : float
        Best monitored value so far (``inf`` or ``-inf`` before the first epoch).
    best_epoch : int
        Epoch (0-based) of ``best``; -1 before the first epoch.

    Raises
    ------
    ValueError
        Bad ``mode``, ``min_delta`` or ``filename``; at fit start, when neither
        ``directory`` nor ``trainer.checkpoint_dir`` is set; at epoch end, when
        ``monitor`` is not in the logs (the message lists the keys that are).
    TypeError
        ``monitor`` is not a non-empty string.

    Examples
    --------
    >>> import tempfile, torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from histomammo.engine import Trainer
    >>> data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randn(32, 1)), batch_size=8)
    >>> model = torch.nn.Linear(4, 1)
    >>> best = BestCheckpoint(monitor="val_loss", mode="min")
    >>> trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.05), torch.nn.MSELoss(),
    ...                   checkpoint_dir=tempfile.mkdtemp(), callbacks=[best], progress=False)
    >>> history = trainer.fit(data, epochs=3, val_loader=data)
    >>> (trainer.checkpoint_dir / "best.pt").is_file()
    True
    >>> best.best == min(row["val_loss"] for row in history)
    True
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        filename: str = "best.pt",
        *,
        min_delta: float = 0.0,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if not isinstance(filename, str) or not filename or Path(filename).name != filename:
            raise ValueError(
                f"BestCheckpoint: filename must be a bare file name such as 'best.pt', "
                f"but got {filename!r}"
            )
        if directory is not None and not isinstance(directory, (str, os.PathLike)):
            raise TypeError(
                f"BestCheckpoint: directory must be a path or None, but got {directory!r}"
            )
        self.filename = filename
        self.directory = None if directory is None else Path(directory)

    def _target(self, trainer: TrainerView) -> Path:
        directory = self.directory if self.directory is not None else trainer.checkpoint_dir
        if directory is None:
            raise ValueError(
                "BestCheckpoint needs a directory: pass Trainer(checkpoint_dir=...) or "
                "BestCheckpoint(directory=...), but both are None"
            )
        return Path(directory) / self.filename

    def on_fit_start(self, trainer: TrainerView) -> None:
        target = self._target(trainer)
        if trainer.is_main_process:
            target.parent.mkdir(parents=True, exist_ok=True)

    @property
    def state_key(self) -> str:
        return f"{super().state_key[:-1]},filename={self.filename}]"

    def on_epoch_end(self, trainer: TrainerView, logs: dict[str, Any]) -> None:
        value = self._value(logs)
        # One decision for all ranks (rank 0 writes the file; the others keep the same best).
        if not dist.all_ranks(self._improves(value)):
            return
        self.best, self.best_epoch = value, trainer.epoch
        if trainer.is_main_process:
            target = self._target(trainer)
            trainer.save_checkpoint(target)
            logger.info(
                "epoch %d: %s improved to %.6g, saved %s",
                trainer.epoch,
                self.monitor,
                value,
                target,
            )


class EarlyStopping(_MonitoredCallback):
    """Stop ``fit`` once ``logs[monitor]`` has not improved for ``patience`` epochs in a row.

    It sets ``trainer.stop_training = True``; the trainer finishes the current epoch (its
    checkpoint included) and returns. Every rank computes the same decision from the same
    (reduced) logs, so distributed runs stop together.

    Parameters
    ----------
    monitor : str
        Key of the epoch logs to follow.
    mode : {"min", "max"}
        Whether a lower or a higher value is better.
    patience : int
        Number of epochs in a row without an improvement after which training stops
        (>= 1; 1 stops at the first epoch that does not improve).
    min_delta : float
        Smallest change that counts as an improvement (>= 0).

    Attributes
    ----------
    best, best_epoch : float, int
        Best value so far and its epoch.
    wait : int
        Epochs since the last improvement. ``best``, ``best_epoch`` and ``wait`` are the
        [`state_dict`][histomammo.engine.callbacks._monitored.EarlyStopping.state_dict], so a
        resumed run stops at the same epoch as an uninterrupted one.

    Raises
    ------
    ValueError
        Bad ``mode``, ``patience`` or ``min_delta``; at epoch end, ``monitor`` missing from the
        logs.
    TypeError
        ``monitor`` is not a non-empty string, or ``patience`` is not an int.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from histomammo.engine import Trainer
    >>> data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randn(32, 1)), batch_size=8)
    >>> model = torch.nn.Linear(4, 1)
    >>> stop = EarlyStopping(monitor="val_loss", patience=1, min_delta=1e-6)
    >>> frozen = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing changes: stops at once
    >>> trainer = Trainer(model, frozen, torch.nn.MSELoss(), callbacks=[stop], progress=False)
    >>> len(trainer.fit(data, epochs=10, val_loader=data))
    2
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "min",
        patience: int = 5,
        min_delta: float = 0.0,
    ) -> None:
        super().__init__(monitor, mode, min_delta)
        if not isinstance(patience, int) or isinstance(patience, bool):
            raise TypeError(f"EarlyStopping: patience must be an int, but got {patience!r}")
        if patience < 1:
            raise ValueError(f"EarlyStopping: patience must be >= 1, but got {patience}")
        self.patience = patience
        self.wait = 0

    def on_epoch_end(self, trainer: TrainerView, logs: dict[str, Any]) -> None:
        value = self._value(logs)
        if self._improves(value):
            self.best, self.best_epoch, self.wait = value, trainer.epoch, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.stop_training = True
            logger.info(
                "epoch %d: %s has not improved on %.6g (epoch %d) for %d epochs; stopping",
                trainer.epoch,
                self.monitor,
                self.best,
                self.best_epoch,
                self.wait,
            )

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        _require_state("EarlyStopping", state, ("wait",))
        self.wait = int(state["wait"])

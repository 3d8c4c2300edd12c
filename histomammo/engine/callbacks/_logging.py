"""Callbacks that record: CSVLogger and LRMonitor."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from histomammo._atomic import atomic_write
from histomammo.engine.callbacks._base import Callback, _require_state

if TYPE_CHECKING:
    from histomammo.engine._view import TrainerView

def _csv_cell(value: Any) -> object:
    # A callback may put a 0-d torch or numpy scalar in the logs: write 0.5, not tensor(0.5).
    if hasattr(value, "item") and tuple(getattr(value, "shape", (None,))) == ():
        return value.item()
    return value


class CSVLogger(Callback):
    """Rewrite a CSV file of ``trainer.history`` at every epoch end, atomically.

    One row per epoch; the header is the union of the keys of all rows in first-seen order
    (a key that appears later, e.g. a metric added mid-run, gets an empty cell in earlier
    rows). The whole file is written to a temporary name and renamed over ``path``, so a
    reader or a crash never sees half a file. Only the main process writes. The file is
    rewritten once more at fit end, so keys that callbacks placed after this one add to the
    last row are not lost. The Trainer appends one at ``checkpoint_dir / "history.csv"``
    after the user's callbacks.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file; missing parent directories are created at fit start.

    Raises
    ------
    TypeError
        ``path`` is not a str or os.PathLike.

    Examples
    --------
    >>> import csv, tempfile, pathlib, torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from histomammo.engine import Trainer
    >>> data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randn(32, 1)), batch_size=8)
    >>> model = torch.nn.Linear(4, 1)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "logs" / "history.csv"
    >>> trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.05), torch.nn.MSELoss(),
    ...                   callbacks=[CSVLogger(path)], progress=False)
    >>> history = trainer.fit(data, epochs=2, val_loader=data)
    >>> rows = list(csv.DictReader(path.open()))
    >>> len(rows), rows[1]["epoch"], float(rows[1]["val_loss"]) == history[1]["val_loss"]
    (2, '1', True)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"CSVLogger: path must be a str or os.PathLike, but got {path!r}")
        self.path = Path(path)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Atomically replace the file with ``rows`` (one dict per line, union header)."""
        header = list(dict.fromkeys(key for row in rows for key in row))
        with atomic_write(self.path, "w") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, restval="", lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({key: _csv_cell(value) for key, value in row.items()})

    def on_fit_start(self, trainer: TrainerView) -> None:
        if trainer.is_main_process:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, trainer: TrainerView, logs: dict[str, Any]) -> None:
        if trainer.is_main_process:
            self.write(trainer.history)

    def on_fit_end(self, trainer: TrainerView) -> None:
        if trainer.is_main_process and trainer.history:
            self.write(trainer.history)


def _group_lrs(optimizer: Any) -> dict[str, float]:
    return {f"lr_group{i}": float(group["lr"]) for i, group in enumerate(optimizer.param_groups)}


class LRMonitor(Callback):
    """Record the learning rate of every optimizer param group, per epoch and per step.

    The history's ``lr`` column is one number per epoch (the first param group's). This
    callback adds what it cannot show: each param group separately (``lr_group0``,
    ``lr_group1``, ... in the epoch logs, so they reach the CSV files and the history) —
    needed when groups train at different rates, e.g. a backbone and a new head — and
    every optimizer step (`lrs`), which shows warm-up and per-batch schedules
    (``scheduler_step="batch"``, OneCycleLR) that a per-epoch value hides.

    Values are read from ``optimizer.param_groups`` in ``on_batch_end``, i.e. after the
    optimizer step and after a per-batch scheduler step, like the ``lr`` of the batch logs.
    The epoch logs get the values of the epoch's last step, so ``lr_group0`` equals the
    history's ``lr`` (both are taken before the per-epoch scheduler step).

    Attributes
    ----------
    lrs : list of dict
        One dict per optimizer step: ``{"step": global_step, "lr_group0": ..., ...}``. Part of
        [`state_dict`][histomammo.engine.callbacks._logging.LRMonitor.state_dict], so a resumed run
        continues the same record.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from histomammo.engine import Trainer
    >>> data = DataLoader(TensorDataset(torch.randn(32, 4), torch.randn(32, 1)), batch_size=8)
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
    >>> optimizer = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.01},
    ...                              {"params": model[1].parameters(), "lr": 0.1}])
    >>> monitor = LRMonitor()
    >>> trainer = Trainer(model, optimizer, torch.nn.MSELoss(), callbacks=[monitor], progress=False)
    >>> history = trainer.fit(data, epochs=2)
    >>> history[-1]["lr_group0"], history[-1]["lr_group1"], len(monitor.lrs)
    (0.01, 0.1, 8)
    >>> monitor.lrs[0]
    {'step': 1, 'lr_group0': 0.01, 'lr_group1': 0.1}
    """

    def __init__(self) -> None:
        self.lrs: list[dict[str, float]] = []

    def on_batch_end(self, trainer: TrainerView, logs: dict[str, float]) -> None:
        self.lrs.append({"step": trainer.global_step, **_group_lrs(trainer.optimizer)})

    def on_epoch_end(self, trainer: TrainerView, logs: dict[str, Any]) -> None:
        if self.lrs and self.lrs[-1]["step"] == trainer.global_step:
            last_step = {key: value for key, value in self.lrs[-1].items() if key != "step"}
            logs.update(last_step)
        else:  # no optimizer step this epoch
            logs.update(_group_lrs(trainer.optimizer))

    def state_dict(self) -> dict[str, Any]:
        return {"lrs": [dict(row) for row in self.lrs]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _require_state("LRMonitor", state, ("lrs",))
        self.lrs = [dict(row) for row in state["lrs"]]

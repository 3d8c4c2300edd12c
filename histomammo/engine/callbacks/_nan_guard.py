"""NaNGuard: stop at the first non-finite loss, keeping the last checkpoint good."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from histomammo.engine.callbacks._base import Callback
from histomammo.engine.checkpoint import latest_checkpoint
from histomammo.errors import NonFiniteLossError

if TYPE_CHECKING:
    from histomammo.engine._view import TrainerView

def _last_checkpoint(directory: Path | None) -> str:
    if directory is None:
        return "no checkpoint: trainer.checkpoint_dir is None"
    newest = latest_checkpoint(directory)
    if newest is None:
        return f"no checkpoint in {directory} yet"
    return f"last good checkpoint: {newest} (fit(..., resume=True) continues from it)"


class NaNGuard(Callback):
    """Stop training with [`NonFiniteLossError`][histomammo.errors.NonFiniteLossError] at the first
    NaN/inf loss.

    ``on_batch_end`` runs after the optimizer step and before any periodic checkpoint, so
    the step that produced the bad loss is never saved: the newest checkpoint on disk is
    still the last good one, and the error names it together with the epoch, the global
    step and every loss term (``loss`` and ``loss_<term>``), so one can tell which term
    diverged, fix the cause and resume.

    Raises
    ------
    NonFiniteLossError
        From ``on_batch_end`` when ``logs["loss"]`` is NaN or infinite.
    ValueError
        From ``on_batch_end`` when the logs hold no ``loss``.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from histomammo.engine import Trainer
    >>> from histomammo.errors import NonFiniteLossError
    >>> nan_targets = TensorDataset(torch.randn(8, 4), torch.full((8, 1), float("nan")))
    >>> data = DataLoader(nan_targets, batch_size=4)
    >>> model = torch.nn.Linear(4, 1)
    >>> trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.MSELoss(),
    ...                   callbacks=[NaNGuard()], progress=False)
    >>> try:
    ...     trainer.fit(data, epochs=1)
    ... except NonFiniteLossError as error:
    ...     print(str(error).split(";")[0])
    non-finite loss nan at epoch 0, global step 1
    """

    def on_batch_end(self, trainer: TrainerView, logs: dict[str, float]) -> None:
        if "loss" not in logs:
            raise ValueError(
                f"NaNGuard: the batch logs hold no 'loss'; available keys: {list(logs)}"
            )
        loss = float(logs["loss"])
        if math.isfinite(loss):
            return
        terms = ", ".join(
            f"{key}={float(value):.6g}"
            for key, value in logs.items()
            if key == "loss" or key.startswith("loss_")
        )
        raise NonFiniteLossError(
            f"non-finite loss {loss} at epoch {trainer.epoch}, global step {trainer.global_step}; "
            f"loss terms: {terms}; {_last_checkpoint(trainer.checkpoint_dir)}"
        )

"""The [`Callback`][histomammo.engine.callbacks.Callback] base class (the contract is in
[`histomammo.engine.callbacks`][histomammo.engine.callbacks])."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from histomammo.errors import CheckpointError

if TYPE_CHECKING:
    from histomammo.engine._view import TrainerView

class Callback:
    """Base class: override the hooks you need; every hook does nothing by default.

    Examples
    --------
    >>> class PrintEpoch(Callback):
    ...     def on_epoch_end(self, trainer, logs):
    ...         print(logs["epoch"])
    """

    def on_fit_start(self, trainer: TrainerView) -> None:
        """Called once when ``fit`` starts, after any resume has been restored."""

    def on_epoch_start(self, trainer: TrainerView, epoch: int) -> None:
        """Called before the first batch of ``epoch`` (also when resuming mid-epoch)."""

    def on_batch_end(self, trainer: TrainerView, logs: dict[str, float]) -> None:
        """Called after each optimizer step; ``logs`` holds ``loss``, each loss term and ``lr``."""

    def on_epoch_end(self, trainer: TrainerView, logs: dict[str, Any]) -> None:
        """Called after validation with the epoch's history row (mutable)."""

    def on_fit_end(self, trainer: TrainerView) -> None:
        """Called once when ``fit`` returns normally."""

    @property
    def state_key(self) -> str:
        """The stable key of this callback's state in a checkpoint.

        The class name by default; callbacks that are used several times with different
        settings (``BestCheckpoint(monitor=...)``) include those settings, so a state
        finds its callback whatever the order of the list. Two callbacks with the same
        key are told apart by their order (``#1``, ``#2`` appended).
        """
        return type(self).__qualname__

    def state_dict(self) -> dict[str, Any]:
        """State saved in every checkpoint (tensors, numbers, strings, lists, dicts only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what [`state_dict`][histomammo.engine.callbacks._base.Callback.state_dict]
        returned."""


def _require_state(owner: str, state: dict[str, Any], keys: Iterable[str]) -> None:
    missing = [key for key in keys if key not in state]
    if missing:
        raise CheckpointError(
            f"{owner}.load_state_dict: state lacks {missing}; found keys {sorted(state)}"
        )


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)

"""Staged fine-tuning: freeze all but the top of a model, unfreeze it stage by stage."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from histomammo.engine.callbacks._base import Callback, _is_real

if TYPE_CHECKING:
    from torch import nn

    from histomammo.engine._view import TrainerView

logger = logging.getLogger("histomammo")

# A callable receives (name, parameter) as in model.named_parameters().
Trainable = str | Sequence[str] | int | Callable[[str, Any], bool]


@dataclass(frozen=True)
class Stage:
    """One stage of a [`StagedUnfreeze`][histomammo.engine.callbacks.StagedUnfreeze] schedule.

    Parameters
    ----------
    epochs : int or None
        Length of the stage in epochs (>= 1); ``None`` (last stage only) runs to the end of fit.
    trainable : "all", sequence of str, int or callable
        Which parameters train; all others get ``requires_grad=False``.

        - ``"all"``: every parameter.
        - module-name prefixes, e.g. ``["fc"]`` or ``["layer4", "fc"]``: parameters of those
          modules (``"layer4"`` matches ``layer4.0.conv1.weight``, not ``layer40.weight``).
        - ``N`` (int >= 1): the last N modules that own parameters directly, in registration
          order (``model.named_modules()``). Shen et al. count *Keras layers* ("the top 46
          layers of ResNet-50"), which include activations, additions and padding that own no
          weights, so the paper's 46 is not N=46 here: translating a Keras count into
          PyTorch modules is the model's job (the model file documents its own cut), and a
          model may hand over a callable instead.
        - a callable ``(name, parameter) -> bool``.
    lr : float
        Learning rate set on every optimizer param group when the stage begins (> 0).
    weight_decay : float, optional
        Set on every param group when given (>= 0): the optimizer's own ``weight_decay``
        (an L2 term for SGD/Adam, decoupled for AdamW).

    Raises
    ------
    ValueError, TypeError
        Out-of-range or wrongly typed fields; a bare string other than ``"all"``.

    Examples
    --------
    >>> Stage(epochs=3, trainable=["fc"], lr=1e-3)
    Stage(epochs=3, trainable=('fc',), lr=0.001, weight_decay=None)
    """

    epochs: int | None
    trainable: Trainable
    lr: float
    weight_decay: float | None = None

    def __post_init__(self) -> None:
        if self.epochs is not None and (
            not isinstance(self.epochs, int) or isinstance(self.epochs, bool) or self.epochs < 1
        ):
            raise ValueError(f"Stage: epochs must be an int >= 1 or None, but got {self.epochs!r}")
        if not _is_real(self.lr) or not 0 < self.lr < math.inf:
            raise ValueError(f"Stage: lr must be a finite number > 0, but got {self.lr!r}")
        if self.weight_decay is not None and (
            not _is_real(self.weight_decay) or not 0 <= self.weight_decay < math.inf
        ):
            raise ValueError(
                "Stage: weight_decay must be a finite number >= 0 or None, "
                f"but got {self.weight_decay!r}"
            )
        object.__setattr__(self, "trainable", _check_trainable(self.trainable))


def _check_trainable(trainable: Any) -> Trainable:
    if isinstance(trainable, str):
        if trainable != "all":
            raise ValueError(
                "Stage: trainable must be 'all' or a list of prefixes such as "
                f"[{trainable!r}], but got {trainable!r}"
            )
        return trainable
    if isinstance(trainable, int) and not isinstance(trainable, bool):
        if trainable < 1:
            raise ValueError(
                f"Stage: trainable as a module count must be >= 1, but got {trainable}"
            )
        return trainable
    if callable(trainable):
        return trainable
    if (
        isinstance(trainable, Sequence)
        and trainable
        and all(isinstance(p, str) and p for p in trainable)
    ):
        return tuple(trainable)
    raise TypeError(
        "Stage: trainable must be 'all', a non-empty list of module-name prefixes, an int or a "
        f"callable (name, parameter) -> bool, but got {trainable!r}"
    )


def _parameter_owners(model: nn.Module) -> list[list[str]]:
    """Full parameter names of each module that owns parameters itself, in registration order."""
    owners = []
    for prefix, module in model.named_modules():
        owned = [
            f"{prefix}.{name}" if prefix else name
            for name, _ in module.named_parameters(recurse=False)
        ]
        if owned:
            owners.append(owned)
    return owners


def _selected_names(model: nn.Module, trainable: Trainable) -> list[str]:
    named = list(model.named_parameters())
    if trainable == "all":
        return [name for name, _ in named]
    if isinstance(trainable, int):
        return [name for owned in _parameter_owners(model)[-trainable:] for name in owned]
    if isinstance(trainable, tuple):
        return [
            name
            for name, _ in named
            if any(name == p or name.startswith(p + ".") for p in trainable)
        ]
    if callable(trainable):
        return [name for name, param in named if trainable(name, param)]
    raise TypeError(f"trainable {trainable!r} was not checked by Stage")


class StagedUnfreeze(Callback):
    """Train a growing part of the model, with a new learning rate per stage.

    At the start of every epoch the stage is derived from the epoch number alone (so a
    resumed run needs no extra state): every parameter of ``trainer.model`` gets
    ``requires_grad`` from the stage's ``trainable`` selection, and frozen ones lose their
    ``.grad`` so that no optimizer (momentum, weight decay) can move them. When an epoch is
    the *first* of its stage, ``lr`` (and ``weight_decay`` when given) is set on every
    optimizer param group; within a stage a scheduler keeps working from that value, and
    on resume (also mid-way through a stage's first epoch) the restored optimizer state
    carries it: the stage's lr is never applied again. Epochs past the end of a schedule
    whose last stage has a length stay in the last stage. Buffers such as BatchNorm running
    statistics are not parameters: frozen BatchNorm layers still update them in train mode.

    Parameters
    ----------
    stages : sequence of Stage
        Non-empty; only the last stage may have ``epochs=None``.

    Raises
    ------
    TypeError
        ``stages`` is not a sequence of [`Stage`][histomammo.engine.callbacks.Stage].
    ValueError
        Empty ``stages`` or an open-ended stage before the last; at fit start, prefixes that
        match no parameter, a module count larger than the model's, a stage that selects no
        parameter, or one that unfreezes parameters the optimizer does not hold.

    Notes
    -----
    DistributedDataParallel only synchronises the parameters that required gradients when
    it was built; the Trainer therefore re-wraps the model whenever the set of trainable
    parameters changes, so stages work unchanged under ``torchrun``.

    References
    ----------
    Shen L. et al. (2019), "Deep Learning to Improve Breast Cancer Detection on Screening
    Mammography", Scientific Reports 9:12495: the two schedules below.

    Examples
    --------
    The 3-stage patch-classifier schedule (the paper's "top 46 Keras layers" of ResNet-50
    approximated here by torchvision's ``layer4`` and ``fc``: the exact cut belongs to the
    model, see [`Stage`][histomammo.engine.callbacks.Stage]):

    >>> patch_schedule = StagedUnfreeze([
    ...     Stage(epochs=3, trainable=["fc"], lr=1e-3),
    ...     Stage(epochs=10, trainable=["layer4", "fc"], lr=1e-4),
    ...     Stage(epochs=37, trainable="all", lr=1e-5),
    ... ])

    The 2-stage whole-image schedule (``"top"`` is the module holding the new top layers):

    >>> image_schedule = StagedUnfreeze([
    ...     Stage(epochs=30, trainable=["top"], lr=1e-4, weight_decay=0.001),
    ...     Stage(epochs=20, trainable="all", lr=1e-5, weight_decay=0.01),
    ... ])
    >>> [patch_schedule.stage_at(epoch).lr for epoch in (0, 2, 3, 12, 13, 49)]
    [0.001, 0.001, 0.0001, 0.0001, 1e-05, 1e-05]
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
    ...                             torch.nn.Linear(4, 2), torch.nn.Linear(2, 2))
    >>> last_two = StagedUnfreeze([Stage(1, 2, lr=1e-3), Stage(None, "all", lr=1e-4)])
    >>> last_two.trainable_names(model, epoch=0)
    ['3.weight', '3.bias', '4.weight', '4.bias']
    """

    def __init__(self, stages: Sequence[Stage]) -> None:
        if isinstance(stages, (Stage, str)) or not isinstance(stages, Iterable):
            raise TypeError(
                f"StagedUnfreeze: stages must be a sequence of Stage, but got {stages!r}"
            )
        stages = tuple(stages)
        if not stages:
            raise ValueError("StagedUnfreeze: stages must not be empty, but got []")
        wrong = [stage for stage in stages if not isinstance(stage, Stage)]
        if wrong:
            raise TypeError(f"StagedUnfreeze: every stage must be a Stage, but got {wrong!r}")
        lengths = [stage.epochs for stage in stages[:-1]]
        known = [n for n in lengths if n is not None]
        open_ended = [i for i, n in enumerate(lengths) if n is None]
        if open_ended:
            raise ValueError(
                "StagedUnfreeze: only the last stage may have epochs=None, "
                f"but stages {open_ended} do"
            )
        self.stages = stages
        self._starts = [0]
        for n in known:
            self._starts.append(self._starts[-1] + n)

    def stage_index(self, epoch: int) -> int:
        """Index into `stages` of the stage that trains ``epoch`` (0-based)."""
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"StagedUnfreeze: epoch must be an int >= 0, but got {epoch!r}")
        return max(i for i, start in enumerate(self._starts) if start <= epoch)

    def stage_at(self, epoch: int) -> Stage:
        """The [`Stage`][histomammo.engine.callbacks.Stage] that trains ``epoch`` (0-based)."""
        return self.stages[self.stage_index(epoch)]

    def trainable_names(self, model: nn.Module, epoch: int) -> list[str]:
        """Names (as in ``model.named_parameters()``) of the parameters trained at ``epoch``."""
        return _selected_names(model, self.stage_at(epoch).trainable)

    def on_fit_start(self, trainer: TrainerView) -> None:
        held = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
        for index, stage in enumerate(self.stages):
            _check_stage(trainer.model, stage, f"StagedUnfreeze stage {index}", held)

    def on_epoch_start(self, trainer: TrainerView, epoch: int) -> None:
        index = self.stage_index(epoch)
        stage = self.stages[index]
        trainable = set(_selected_names(trainer.model, stage.trainable))
        for name, param in trainer.model.named_parameters():
            param.requires_grad_(name in trainable)
            if name not in trainable:
                param.grad = None
        # A stage's lr is set when the stage starts, never again: not when a run resumes
        # mid-way through the stage's first epoch (a scheduler has moved it since).
        if epoch != self._starts[index] or getattr(trainer, "batch_in_epoch", 0) > 0:
            return
        for group in trainer.optimizer.param_groups:
            group["lr"] = stage.lr
            if stage.weight_decay is not None:
                group["weight_decay"] = stage.weight_decay
        logger.info(
            "epoch %d: stage %d of %d, lr %g, %d of %d parameter tensors train",
            epoch,
            index + 1,
            len(self.stages),
            stage.lr,
            len(trainable),
            len(list(trainer.model.parameters())),
        )


def _check_stage(model: nn.Module, stage: Stage, where: str, held: set[int]) -> None:
    """Raise ValueError when ``stage`` cannot train ``model`` with an optimizer holding ``held``."""
    parameters = dict(model.named_parameters())
    if isinstance(stage.trainable, tuple):
        unmatched = [p for p in stage.trainable if not _selected_names(model, (p,))]
        if unmatched:
            top = list(dict.fromkeys(name.split(".")[0] for name in parameters))
            raise ValueError(
                f"{where}: prefixes {unmatched} match no parameter of the model; "
                f"its top-level modules with parameters are {top}"
            )
    owners = len(_parameter_owners(model))
    if isinstance(stage.trainable, int) and stage.trainable > owners:
        raise ValueError(
            f"{where}: trainable={stage.trainable} modules, but the model has only {owners} "
            "modules that own parameters"
        )
    selected = _selected_names(model, stage.trainable)
    if not selected:
        raise ValueError(f"{where}: trainable={stage.trainable!r} selects no parameter")
    missing = [name for name in selected if id(parameters[name]) not in held]
    if missing:
        raise ValueError(
            f"{where} trains {missing[:5]}{'...' if len(missing) > 5 else ''}, but the "
            "optimizer does not hold them; build the optimizer over model.parameters()"
        )

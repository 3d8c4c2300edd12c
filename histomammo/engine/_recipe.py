"""One type for a published training schedule: [`Recipe`][histomammo.engine.Recipe], and what a
Trainer takes from it."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from histomammo.engine.callbacks import Callback

__all__ = ["Recipe", "recipe_trainer_kwargs", "trainer_from_recipe"]

T = TypeVar("T")

_SCHEDULER_STEPS = ("epoch", "batch")


@dataclass(frozen=True)
class Recipe:
    """How to train a model: optimizer, schedule, loss, callbacks, epochs, batch sizes, AMP.

    A recipe holds *factories*, not a built optimizer, so one recipe trains any number of
    models and a multi-phase recipe gives each phase a fresh optimizer.
    [`Trainer.from_recipe`][histomammo.engine.trainer.Trainer.from_recipe] builds a trainer from
    one phase; [`fit_recipe`][histomammo.engine.fit_recipe] runs every phase in turn.

    Parameters
    ----------
    optimizer : callable
        ``optimizer(model) -> torch.optim.Optimizer``. An optimizer class, or a
        ``functools.partial`` of one (``partial(torch.optim.SGD, lr=0.1)``), is given the
        model's trainable parameters instead of the model.
    loss : callable or None
        ``loss(outputs, targets)``, the Trainer's ``loss_fn``; ``None``: the model computes
        its own loss dict (torchvision detection).
    epochs : int
        Epochs of this phase (>= 0).
    scheduler : callable or None
        ``scheduler(optimizer) -> LR scheduler``.
    scheduler_step : {"epoch", "batch"}
        When the scheduler steps (the Trainer's ``scheduler_step``).
    callbacks : sequence of Callback
        Passed to the Trainer (staged unfreezing, best-checkpoint snapshots, ...). Callbacks
        keep state: build the recipe again for a second independent run.
    batch_size, eval_batch_size : int
        Training and evaluation batch sizes (``eval_batch_size`` defaults to ``batch_size``).
    amp : bool
        Mixed precision on CUDA (the Trainer's ``amp``).
    grad_clip : float or None
        The Trainer's ``grad_clip``.
    phases : sequence of Recipe
        A multi-phase schedule: each phase a complete single-phase recipe, run one after the
        other on the same model with a fresh optimizer (the GlaS U-Net's SGD then Adam). A
        recipe with phases holds nothing else but its ``name`` and ``extras``.
    name : str
        A label for logs and tables.
    extras : mapping
        What the paper also fixes and the engine does not use (an augmentation set's name,
        a patch size), for the caller.

    Raises
    ------
    TypeError, ValueError
        A field of the wrong type or out of range, naming the field and the value.

    Examples
    --------
    >>> from functools import partial
    >>> recipe = Recipe(partial(torch.optim.SGD, lr=0.1), torch.nn.CrossEntropyLoss(),
    ...                 epochs=3, batch_size=16, name="plain SGD")
    >>> recipe.build_optimizer(torch.nn.Linear(2, 2)).defaults["lr"]
    0.1
    >>> recipe.eval_batch_size, recipe.total_epochs, len(recipe.stages())
    (16, 3, 1)
    """

    optimizer: Callable[[Any], torch.optim.Optimizer] | None = None
    loss: Callable[[Any, Any], Any] | None = None
    epochs: int = 1
    scheduler: Callable[[torch.optim.Optimizer], Any] | None = None
    scheduler_step: str = "epoch"
    callbacks: Sequence[Callback] = ()
    batch_size: int = 1
    eval_batch_size: int | None = None
    amp: bool = False
    grad_clip: float | None = None
    phases: Sequence[Recipe] = ()
    name: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "callbacks", tuple(self.callbacks))
        object.__setattr__(self, "phases", tuple(self.phases))
        if self.phases:
            self._check_phases()
            return
        _check_callable("optimizer", self.optimizer, self.name, required=True)
        _check_callable("loss", self.loss, self.name)
        _check_callable("scheduler", self.scheduler, self.name)
        _check_count("epochs", self.epochs, self.name, minimum=0)
        _check_count("batch_size", self.batch_size, self.name, minimum=1)
        if self.eval_batch_size is None:
            object.__setattr__(self, "eval_batch_size", self.batch_size)
        _check_count("eval_batch_size", self.eval_batch_size, self.name, minimum=1)
        if self.scheduler_step not in _SCHEDULER_STEPS:
            raise ValueError(f"{_label(self.name)}: scheduler_step must be one of "
                             f"{_SCHEDULER_STEPS}, but got {self.scheduler_step!r}")
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"{_label(self.name)}: callbacks must be "
                                f"histomammo.engine.callbacks.Callback objects, but got "
                                f"{type(callback).__name__}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"{_label(self.name)}: grad_clip must be > 0 or None, "
                             f"but got {self.grad_clip!r}")

    def _check_phases(self) -> None:
        own = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("phases", "name", "extras")}
        defaults = {f.name: f.default for f in dataclasses.fields(self) if f.name in own}
        defaults["callbacks"] = ()
        set_here = sorted(k for k, v in own.items() if v != defaults[k])
        if set_here:
            raise ValueError(f"{_label(self.name)}: a recipe with phases takes every setting "
                             f"from its phases, but it also sets {set_here}")
        for index, phase in enumerate(self.phases):
            if not isinstance(phase, Recipe):
                raise TypeError(f"{_label(self.name)}: phase {index} must be a Recipe, "
                                f"but got {type(phase).__name__}")
            if phase.phases:
                raise ValueError(f"{_label(self.name)}: phase {index} has phases of its own; "
                                 "phases do not nest")

    def stages(self) -> tuple[Recipe, ...]:
        """The single-phase recipes to run in order (``(self,)`` without phases)."""
        return tuple(self.phases) if self.phases else (self,)

    @property
    def total_epochs(self) -> int:
        """Epochs over every phase."""
        return sum(stage.epochs for stage in self.stages())

    def replace(self, **changes: Any) -> Recipe:
        """A copy with ``changes`` (``dataclasses.replace``; checked again)."""
        return dataclasses.replace(self, **changes)

    def build_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """``optimizer(model)`` (or over its trainable parameters for an optimizer class)."""
        factory = self._single("build_optimizer").optimizer
        if factory is None:  # only a recipe with phases has none, and _single refused it
            raise ValueError(f"{_label(self.name)} has no optimizer")
        base = factory.func if isinstance(factory, functools.partial) else factory
        if isinstance(base, type) and issubclass(base, torch.optim.Optimizer):
            optimizer = factory([p for p in model.parameters() if p.requires_grad])
        else:
            optimizer = factory(model)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"{_label(self.name)}: optimizer(model) must return a "
                            f"torch.optim.Optimizer, but returned {type(optimizer).__name__}")
        return optimizer

    def _single(self, what: str) -> Recipe:
        if self.phases:
            raise ValueError(
                f"{_label(self.name)} has {len(self.phases)} phases; {what} needs one: pick "
                "it with recipe.phases[i] (Trainer.from_recipe(model, recipe, phase=i)), or "
                "run them all with histomammo.engine.fit_recipe"
            )
        return self


def recipe_trainer_kwargs(model: nn.Module, recipe: Recipe, phase: int | None,
                          overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Trainer`` keyword arguments of one phase of ``recipe`` for ``model``, with
    ``overrides`` replacing them (an overridden optimizer is not built)."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a histomammo.engine.Recipe, but got "
                        f"{type(recipe).__name__}")
    if phase is not None:
        stages = recipe.stages()
        if not isinstance(phase, int) or not -len(stages) <= phase < len(stages):
            raise ValueError(f"{_label(recipe.name)}: phase must be an int in "
                             f"[0, {len(stages)}), but got {phase!r}")
        recipe = stages[phase]
    recipe = recipe._single("Trainer.from_recipe")
    optimizer = overrides.get("optimizer") or recipe.build_optimizer(model)
    kwargs: dict[str, Any] = {
        "optimizer": optimizer,
        "loss_fn": recipe.loss,
        "scheduler": None if recipe.scheduler is None else recipe.scheduler(optimizer),
        "scheduler_step": recipe.scheduler_step,
        "amp": recipe.amp,
        "grad_clip": recipe.grad_clip,
        "callbacks": list(recipe.callbacks),
    }
    return {**kwargs, **overrides}


def trainer_from_recipe(cls: Callable[..., T], model: nn.Module, recipe: Recipe, *,
                        phase: int | None = None, **overrides: Any) -> T:
    """``Trainer.from_recipe``: a trainer for ``model`` built from one phase of ``recipe``.

    The recipe gives ``optimizer`` (built over ``model``), ``loss_fn``, ``scheduler``
    (built over that optimizer), ``scheduler_step``, ``amp``, ``grad_clip`` and
    ``callbacks``; ``overrides`` replace any of them and add the rest (``device``,
    ``seed``, ``checkpoint_dir``, ...). Epochs and batch sizes stay with the recipe:
    ``trainer.fit(DataLoader(data, recipe.batch_size, shuffle=True), recipe.epochs)``.

    Parameters
    ----------
    model : nn.Module
    recipe : Recipe
    phase : int, optional
        Which phase of a multi-phase recipe (required there; see
        [`fit_recipe`][histomammo.engine.fit_recipe] to run them all).
    **overrides
        Keyword arguments of ``Trainer``.

    Raises
    ------
    TypeError
        ``recipe`` is no [`Recipe`][histomammo.engine.Recipe], or an override is no Trainer
        argument.
    ValueError
        A multi-phase recipe without ``phase``, or ``phase`` out of range.

    Examples
    --------
    >>> import torch
    >>> from functools import partial
    >>> from histomammo.engine import Recipe, Trainer
    >>> recipe = Recipe(partial(torch.optim.SGD, lr=0.1), torch.nn.MSELoss(), epochs=2)
    >>> trainer = Trainer.from_recipe(torch.nn.Linear(2, 1), recipe, device="cpu",
    ...                               progress=False)
    >>> type(trainer.optimizer).__name__, trainer.optimizer.defaults["lr"]
    ('SGD', 0.1)
    """
    allowed = set(inspect.signature(cls).parameters) - {"model"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise TypeError(f"Trainer.from_recipe: {unknown} are not Trainer arguments; "
                        f"the overrides are {sorted(allowed)}")
    return cls(model, **recipe_trainer_kwargs(model, recipe, phase, overrides))


def _label(name: str) -> str:
    return f"Recipe {name!r}" if name else "Recipe"


def _check_callable(what: str, value: Any, name: str, required: bool = False) -> None:
    if value is None and not required:
        return
    if not callable(value):
        raise TypeError(f"{_label(name)}: {what} must be a callable"
                        + (" (model) -> Optimizer" if what == "optimizer" else "")
                        + f", but got {value!r}")


def _check_count(what: str, value: Any, name: str, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{_label(name)}: {what} must be an int >= {minimum}, "
                         f"but got {value!r}")
